// ycr-access-log-bench: Subjects.GetRecord through gRPC against an
// in-process server, with the access log on and then off, each over a fresh
// temporary store. Reports calls/s and latency percentiles per run. Not a
// timed test: the ctest entry is a smoke run so the binary cannot rot.

#include <grpcpp/grpcpp.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_format.h"
#include "common/ids.h"
#include "services/security/caller_identity.h"
#include "services/server.h"
#include "ycr/v1/subject_service.grpc.pb.h"

ABSL_FLAG(int, calls, 20000, "GetRecord calls per run (all clients).");
ABSL_FLAG(int, clients, 1, "Concurrent clients (threads, one call at a time).");
ABSL_FLAG(int, rounds, 2, "Runs per setting, alternating on/off.");

namespace {

void AsSchool(grpc::ClientContext* context) {
  context->AddMetadata(ycr::services::kOrganisationMetadata, "school-1");
  context->AddMetadata(ycr::services::kUserMetadata, "dsl-1");
  context->AddMetadata(ycr::services::kRoleMetadata, "school");
}

struct RunResult {
  double calls_per_second = 0;
  double p50_us = 0;
  double p99_us = 0;
  uint64_t logged = 0;
};

RunResult Run(bool access_log, int calls, int clients) {
  std::string pattern =
      (std::filesystem::temp_directory_path() / "ycr-alb-XXXXXX").string();
  const std::string dir = mkdtemp(pattern.data());
  ycr::services::ServerOptions options;
  options.listen = "127.0.0.1:0";
  options.security.insecure = true;  // The figures are the read's, not TLS's.
  options.log.path = dir;
  options.access_log.enabled = access_log;
  auto server = ycr::services::Server::Start(std::move(options));
  if (!server.ok()) {
    std::cerr << server.status() << "\n";
    exit(1);
  }
  auto channel =
      grpc::CreateChannel("127.0.0.1:" + std::to_string((*server)->port()),
                          grpc::InsecureChannelCredentials());
  auto stub = ycr::v1::Subjects::NewStub(channel);
  {
    ycr::v1::PutSubjectRecordRequest put;
    put.set_request_id(ycr::NewUuid());
    put.mutable_record()->set_subject_id("s-1");
    put.mutable_record()->set_given_name("Given");
    put.mutable_record()->set_family_name("Family");
    put.mutable_record()->set_date_of_birth("2012-03-04");
    grpc::ClientContext context;
    AsSchool(&context);
    ycr::v1::CommandResponse response;
    if (!stub->PutRecord(&context, put, &response).ok()) exit(1);
  }
  std::vector<std::vector<double>> latencies(clients);
  std::atomic<bool> failed{false};
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      ycr::v1::GetSubjectRecordRequest request;
      request.set_subject_id("s-1");
      for (int i = c; i < calls; i += clients) {
        grpc::ClientContext context;
        AsSchool(&context);
        ycr::v1::SubjectRecord record;
        const auto t0 = std::chrono::steady_clock::now();
        if (!stub->GetRecord(&context, request, &record).ok()) failed = true;
        latencies[c].push_back(std::chrono::duration<double, std::micro>(
                                   std::chrono::steady_clock::now() - t0)
                                   .count());
      }
    });
  }
  for (std::thread& t : threads) t.join();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  if (failed) {
    std::cerr << "a GetRecord failed\n";
    exit(1);
  }
  (*server)->Shutdown();
  RunResult result;
  result.logged = (*server)
                      ->metrics()
                      .GetCounter("ycr_access_log_entries_written_total", "")
                      ->value();
  server->reset();
  std::filesystem::remove_all(dir);
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  result.calls_per_second = calls / seconds;
  result.p50_us = all[all.size() / 2];
  result.p99_us = all[std::min(all.size() - 1, all.size() * 99 / 100)];
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int calls = absl::GetFlag(FLAGS_calls);
  const int clients = std::max(1, absl::GetFlag(FLAGS_clients));
  for (int round = 0; round < absl::GetFlag(FLAGS_rounds); ++round) {
    for (bool on : {false, true}) {
      RunResult r = Run(on, calls, clients);
      std::cout << absl::StrFormat(
          "access_log=%-3s clients=%d calls=%d  %.0f calls/s  p50 %.0f us  "
          "p99 %.0f us  entries written %d\n",
          on ? "on" : "off", clients, calls, r.calls_per_second, r.p50_us,
          r.p99_us, r.logged);
    }
  }
  return 0;
}
