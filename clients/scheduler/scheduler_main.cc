// ycr-scheduler: flags overdue deadlines, exactly once, through the gRPC API.

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <csignal>
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/time/clock.h"
#include "clients/client_security.h"
#include "clients/scheduler/scheduler.h"
#include "common/command_line.h"
#include "common/log_flags.h"
#include "common/metrics_http.h"

ABSL_FLAG(std::string, server, "127.0.0.1:7070", "Server address host:port.");
ABSL_FLAG(std::string, organisation, "scheduler",
          "With --insecure: the scheduler's organisation (its role is always "
          "'scheduler'). Over mutual TLS its certificate says who it is.");
ABSL_FLAG(std::string, user, "ycr-scheduler",
          "With --insecure: the scheduler's user id.");
ABSL_FLAG(bool, once, false, "One pass, then exit (for cron).");
ABSL_FLAG(bool, dry_run, false, "Print what would be flagged; flag nothing.");
ABSL_FLAG(int, interval_seconds, 60, "Seconds between passes.");
ABSL_FLAG(double, escalate_after_hours, 0,
          "Flag again, as escalated, once a flag is this old (0: never).");
ABSL_FLAG(int, call_timeout_seconds, 10, "Deadline of each call.");
ABSL_FLAG(std::string, metrics_listen, "",
          "host:port to serve GET /metrics on (Prometheus text: "
          "ycr_scheduler_items_total by outcome); empty: none.");

namespace {

std::atomic<bool> stop{false};

void OnSignal(int) { stop.store(true); }

}  // namespace

int main(int argc, char** argv) {
  ycr::InitCommandLine(
      argc, argv,
      "lists what is overdue on a ycr server and records one "
      "flag per missed deadline (a second scheduler, or a restart, never "
      "flags twice).\nUsage: ycr-scheduler [--server=HOST:PORT] [--once] "
      "[--dry_run]\nMutual TLS by default: --tls_ca, --tls_cert, --tls_key "
      "(a certificate whose OU is 'scheduler'); --insecure for a development "
      "server started with --insecure.\nExit codes (with --once): 0 ok, 1 the "
      "pass failed (the head or the list could not be read), 2 bad usage, 3 "
      "the pass ran but some items could not be flagged (each logged as "
      "scheduler.flag_failed).\nLogs one line per event on standard "
      "output.");
  auto logger = ycr::LoggerFromFlags(&std::cout);
  if (!logger.ok()) {
    std::cerr << "ycr-scheduler: " << logger.status().message() << "\n";
    return 2;
  }
  if (absl::GetFlag(FLAGS_interval_seconds) < 1 ||
      absl::GetFlag(FLAGS_call_timeout_seconds) < 1 ||
      absl::GetFlag(FLAGS_escalate_after_hours) < 0) {
    std::cerr << "--interval_seconds and --call_timeout_seconds must be at "
                 "least 1, --escalate_after_hours not negative\n";
    return 2;
  }
  absl::StatusOr<ycr::services::ClientSecurity> security =
      ycr::services::ClientSecurityFromFlags();
  if (!security.ok()) {
    std::cerr << "ycr-scheduler: " << security.status().message() << "\n";
    return 2;
  }
  ycr::services::SchedulerOptions options;
  options.identity_metadata = security->insecure;
  options.organisation = absl::GetFlag(FLAGS_organisation);
  options.user = absl::GetFlag(FLAGS_user);
  options.dry_run = absl::GetFlag(FLAGS_dry_run);
  options.interval = absl::Seconds(absl::GetFlag(FLAGS_interval_seconds));
  options.call_timeout =
      absl::Seconds(absl::GetFlag(FLAGS_call_timeout_seconds));
  options.escalate_after =
      absl::Hours(absl::GetFlag(FLAGS_escalate_after_hours));
  ycr::MetricRegistry metrics;
  std::unique_ptr<ycr::MetricsHttpServer> metrics_server;
  if (const std::string listen = absl::GetFlag(FLAGS_metrics_listen);
      !listen.empty()) {
    auto started = ycr::MetricsHttpServer::Start(listen, &metrics);
    if (!started.ok()) {
      std::cerr << "ycr-scheduler: --metrics_listen: "
                << started.status().message() << "\n";
      return 2;
    }
    metrics_server = std::move(*started);
    options.metrics = &metrics;
  }
  options.redial = [security = *security](const std::string& address) {
    return ycr::services::OpenChannel(address, security);
  };
  ycr::services::Scheduler scheduler(
      ycr::services::OpenChannel(absl::GetFlag(FLAGS_server), *security),
      options, logger->get());
  if (absl::GetFlag(FLAGS_once)) {
    const absl::Time started = absl::Now();
    absl::StatusOr<ycr::services::PassResult> pass = scheduler.RunOnce();
    if (!pass.ok()) {
      (*logger)->Log(ycr::LogLevel::kError, "scheduler.pass_failed",
                     {{"error", pass.status().ToString()}});
      return 1;
    }
    ycr::services::LogPass(logger->get(), *pass, absl::Now() - started);
    return pass->failed > 0 ? 3 : 0;
  }
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  scheduler.Run(&stop);
  return 0;
}
