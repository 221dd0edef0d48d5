// ycr-server: serves the ycr gRPC API over an embedded RocksDB store.

#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/command_line.h"
#include "common/files.h"
#include "common/log_flags.h"
#include "services/cluster_flags.h"
#include "services/data_dir.h"
#include "services/security/server_security.h"
#include "services/server.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:7070",
          "Address to serve on, HOST:PORT (port 0 picks a free port; an IPv6 "
          "host in brackets, [::1]:7070). The port is required.");
ABSL_FLAG(std::string, data_dir, "./var/data",
          "Directory of the RocksDB store; created if missing.");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM file of the server's certificate (chain). Mutual TLS is the "
          "default: --tls_cert, --tls_key and --tls_client_ca are required "
          "unless --insecure. deploy/dev-ca.sh makes a development set.");
ABSL_FLAG(std::string, tls_key, "",
          "PEM file of the server certificate's private key (unencrypted; "
          "keep it readable by the server's user only).");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM file of the CA that signs callers' certificates. A caller's "
          "organisation, role and user are its certificate's O, OU and CN.");
ABSL_FLAG(std::string, tls_crl, "",
          "Optional, with mutual TLS: file of certificate revocation lists "
          "(PEM or DER) signed by the --tls_client_ca CA. A caller whose "
          "certificate is listed is refused in the handshake. Re-read at the "
          "first handshake after the file changes (replace it atomically); "
          "an unusable new file leaves the last good lists in force and is "
          "logged. `deploy/dev-ca.sh DIR revoke ORG USER` writes DIR/crl.pem.");
ABSL_FLAG(bool, insecure, false,
          "DEVELOPMENT ONLY: plain text, no TLS, and callers name themselves "
          "in request metadata (x-ycr-organisation, x-ycr-user, x-ycr-role). "
          "Refused unless --listen is a loopback address.");
ABSL_FLAG(std::string, port_file, "",
          "If set, the bound port is written here once the server listens.");
ABSL_FLAG(std::string, metrics_listen, "",
          "If set, host:port of the Prometheus endpoint (GET /metrics), e.g. "
          "127.0.0.1:9464; the port is required, 0 picks a free port. Plain "
          "HTTP: keep it on loopback or a private network.");
ABSL_FLAG(std::string, metrics_port_file, "",
          "If set, the metrics endpoint's bound port is written here once it "
          "listens.");
ABSL_FLAG(uint32_t, http_connections_per_ip, 8,
          "HTTP listeners (--metrics_listen, --tlog_listen): connections one "
          "IP address may hold open at once (of 64 in all); more are closed "
          "at once, so one client cannot hold the listener.");
ABSL_FLAG(uint32_t, http_timeout_seconds, 5,
          "HTTP listeners: a connection idle this long is closed.");
ABSL_FLAG(std::string, tlog_key, "",
          "Signer key of the log's checkpoints (ycr-server keygen). Default: "
          "DATA_DIR/tlog-signer.key, made on first start (its verifier key is "
          "logged).");
ABSL_FLAG(std::string, tlog_origin, "",
          "Origin line of the log's checkpoints, e.g. <your domain>/ycr/v1; "
          "also the signer key's name. Default: the one the store keeps; on "
          "a new store the key file's name, else localhost/ycr/<random>, "
          "unique to this store.");
ABSL_FLAG(bool, tlog_key_rotated, false,
          "Sign with a key (or origin) other than the one that signed the "
          "store's last checkpoint, on purpose. Without it such a start is "
          "refused: to verifiers it would look like a forked log. The change "
          "is logged (tlog.key_rotated).");
ABSL_FLAG(std::string, tlog_listen, "",
          "host:port of the transparency log's HTTP read API (/checkpoint, "
          "/tile/...; public, no personal data). Default: off.");
ABSL_FLAG(std::string, tlog_port_file, "",
          "Write the tlog listener's bound port to this file.");
ABSL_FLAG(std::string, name, "", "keygen: the key's name (the log's origin).");
ABSL_FLAG(std::string, out, "", "keygen: the file to write the signer key to.");
ABSL_FLAG(std::string, backup_dir, "",
          "If set, ycr.v1.Admin.Backup writes copies of the store here (best "
          "on the same filesystem as --data_dir: files are hard-linked).");
ABSL_FLAG(std::string, from, "",
          "restore: the backup directory to copy into --data_dir.");
ABSL_FLAG(bool, sync, true,
          "Sync the write-ahead log before acknowledging an append. Turn off "
          "only for throwaway benchmarks: acknowledged appends can then be "
          "lost on a crash.");
ABSL_FLAG(uint64_t, max_payload_bytes, 64 * 1024,
          "Largest payload of one event, in bytes.");
ABSL_FLAG(uint64_t, max_events_per_append, 500, "Most events in one append.");
ABSL_FLAG(uint64_t, max_stream_id_bytes, 200, "Longest stream id, in bytes.");
ABSL_FLAG(uint32_t, max_read_limit, 1000, "Most events one read returns.");
ABSL_FLAG(uint64_t, stream_cache_entries, 100000,
          "Stream versions kept in memory for append checks.");
ABSL_FLAG(uint64_t, block_cache_mb, 64, "RocksDB block cache, in MiB.");
ABSL_FLAG(int, reader_threads, 2, "Threads serving reads and subscriptions.");
ABSL_FLAG(int, command_threads, 64,
          "Threads running domain commands. Each waits for its own durable "
          "append, so this bounds how many commands share one WAL sync.");
ABSL_FLAG(uint64_t, access_log_capacity, 65536,
          "Access log entries (reads of personal data) held in memory before "
          "they are written (at least every second); when full, reads of "
          "personal data are refused with UNAVAILABLE.");
ABSL_FLAG(int, max_message_mb, 8, "Largest request accepted, in MiB.");
ABSL_FLAG(int, max_streams_per_caller, 16,
          "Server streams (Subscribe, Audit.Trail, "
          "Audit.OrganisationDisclosures) one caller (organisation and user) "
          "may hold open at once; more are RESOURCE_EXHAUSTED.");
ABSL_FLAG(bool, testing_time_control, false,
          "END-TO-END TESTS ONLY: the server's clock starts at the real time "
          "and moves only when a client calls ycr.v1.Testing.AdvanceTime. "
          "Never in production. Refused unless --listen is a loopback "
          "address.");
ABSL_FLAG(int, drain_delay_seconds, 0,
          "On SIGTERM/SIGINT, how long to keep serving while grpc.health.v1 "
          "already answers NOT_SERVING, so that load balancers stop sending "
          "work first. A second signal ends the wait.");
ABSL_FLAG(int, shutdown_grace_seconds, 10,
          "After the drain delay, how long in-flight calls may take to "
          "finish; new calls are refused meanwhile.");

namespace {

// The whole of a file, or the error naming the flag that gave it.
absl::StatusOr<std::string> ReadFlagFile(const char* flag,
                                         const std::string& path) {
  if (path.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag,
                     " is required for mutual TLS (or give --insecure to "
                     "serve plain text on loopback, for development)"));
  }
  absl::StatusOr<std::string> text = ycr::ReadFile(path);
  if (!text.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, ": ", text.status().message()));
  }
  return text;
}

bool WritePortFile(const std::string& path, int port) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << port << "\n";
    if (!out.good()) return false;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  return !ec;
}

}  // namespace

// `ycr-server keygen`: a new signer key in --out (0600, never overwritten);
// prints its verifier key line.
int RunKeygen() {
  const std::string out = absl::GetFlag(FLAGS_out);
  const std::string name = absl::GetFlag(FLAGS_name);
  if (out.empty() || name.empty()) {
    std::cerr << "ycr-server keygen: --name=ORIGIN and --out=FILE are "
                 "required\n";
    return 2;
  }
  absl::StatusOr<ycr::note::Signer> signer =
      ycr::services::WriteNewSignerKey(out, name);
  if (!signer.ok()) {
    std::cerr << "ycr-server keygen: " << signer.status().message() << "\n";
    return 1;
  }
  std::cout << ycr::note::VerifierKey(*signer) << "\n";
  return 0;
}

// `ycr-server verify` and `ycr-server restore`: 0 when the store verifies,
// 1 when it does not or cannot be restored.
int RunDataDirCommand(const std::string& command) {
  const std::string data_dir = absl::GetFlag(FLAGS_data_dir);
  absl::StatusOr<ycr::services::VerifyReport> report =
      command == "verify"
          ? ycr::services::VerifyDataDir(data_dir)
          : ycr::services::RestoreDataDir(absl::GetFlag(FLAGS_from), data_dir);
  if (!report.ok()) {
    std::cerr << "ycr-server " << command << ": " << report.status() << "\n";
    return 1;
  }
  if (command == "restore") {
    std::cout << "restored " << absl::GetFlag(FLAGS_from) << " into "
              << data_dir << "\n";
  }
  for (const std::string& line : report->lines) std::cout << line << "\n";
  std::cout << data_dir << ": verified, log head " << report->head << "\n";
  return 0;
}

int main(int argc, char** argv) {
  std::vector<char*> args = ycr::InitCommandLine(
      argc, argv,
      "Serves the ycr event store over gRPC, on an embedded RocksDB store.\n"
      "Usage: ycr-server [--listen=HOST:PORT] [--data_dir=DIR] [flags]\n"
      "       ycr-server verify --data_dir=DIR\n"
      "       ycr-server restore --from=BACKUP --data_dir=NEW_DIR\n"
      "       ycr-server keygen --name=ORIGIN --out=FILE\n"
      "       ycr-server forget-node --replication=etcd://... --node_id=NAME\n"
      "Stops cleanly on SIGTERM or SIGINT: in-flight calls finish, the store "
      "is flushed and closed.\nLogs one line per event on standard output.\n"
      "verify checks the whole hash chain and the projections' checkpoints "
      "of a store no server is running on; restore copies a backup (from "
      "ycr.v1.Admin.Backup) into a new directory and verifies it. Both exit "
      "0 when the store verifies, 1 when not. keygen writes a new signer key "
      "for the log's checkpoints (mode 0600; an existing file is never "
      "overwritten) and prints its verifier key, "
      "<name>+<hex id>+<base64>, for auditors (ycr audit verify --vkey).\n"
      "Replicated mode (--replication=etcd://..., README \"Running a "
      "cluster\"): every node applies the log from etcd; one leads and "
      "decides commands, the others serve reads and answer commands "
      "UNAVAILABLE naming the leader. forget-node deletes a node's (or a "
      "backup's, backup:NAME) published position from etcd, so that a node "
      "removed for good no longer holds back the trimming of etcd's log.");
  const std::vector<std::string> commands = {"verify", "restore", "keygen",
                                             "forget-node"};
  if (args.size() > 2 ||
      (args.size() == 2 && std::find(commands.begin(), commands.end(),
                                     args[1]) == commands.end())) {
    std::cerr << "ycr-server: expected no command, verify, restore, keygen or "
                 "forget-node\n";
    return 2;
  }
  if (args.size() == 2 && std::string(args[1]) == "keygen") return RunKeygen();
  if (args.size() == 2 && std::string(args[1]) == "forget-node") {
    return ycr::services::RunForgetNode();
  }
  if (args.size() == 2) return RunDataDirCommand(args[1]);
  auto logger = ycr::LoggerFromFlags(&std::cout);
  if (!logger.ok()) {
    std::cerr << "ycr-server: " << logger.status().message() << "\n";
    return 2;
  }
  ycr::Logger& log = **logger;
  // A log reader that goes away must not take the server with it.
  signal(SIGPIPE, SIG_IGN);
  using ycr::LogLevel;

  // Block the stop signals in every thread; main waits for them below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  // Limits that make no sense are refused before anything starts.
  const struct {
    const char* flag;
    uint64_t value;
    uint64_t min;
    uint64_t max;
  } kChecks[] = {
      {"max_payload_bytes", absl::GetFlag(FLAGS_max_payload_bytes), 1,
       64 << 20},
      {"max_events_per_append", absl::GetFlag(FLAGS_max_events_per_append), 1,
       100000},
      {"max_stream_id_bytes", absl::GetFlag(FLAGS_max_stream_id_bytes), 1,
       4096},
      {"max_read_limit", absl::GetFlag(FLAGS_max_read_limit), 1, 100000},
      {"stream_cache_entries", absl::GetFlag(FLAGS_stream_cache_entries), 1,
       1ull << 32},
      {"block_cache_mb", absl::GetFlag(FLAGS_block_cache_mb), 1, 1 << 20},
      {"access_log_capacity", absl::GetFlag(FLAGS_access_log_capacity), 16,
       1ull << 24},
      {"reader_threads",
       static_cast<uint64_t>(absl::GetFlag(FLAGS_reader_threads)), 1, 256},
      {"command_threads",
       static_cast<uint64_t>(absl::GetFlag(FLAGS_command_threads)), 1, 1024},
      {"max_message_mb",
       static_cast<uint64_t>(absl::GetFlag(FLAGS_max_message_mb)), 1, 1024},
      {"max_streams_per_caller",
       static_cast<uint64_t>(absl::GetFlag(FLAGS_max_streams_per_caller)), 1,
       100000},
      {"http_connections_per_ip", absl::GetFlag(FLAGS_http_connections_per_ip),
       1, ycr::HttpLimits{}.connections},
      {"http_timeout_seconds", absl::GetFlag(FLAGS_http_timeout_seconds), 1,
       300},
      {"drain_delay_seconds",
       static_cast<uint64_t>(absl::GetFlag(FLAGS_drain_delay_seconds)), 0,
       3600},
      {"shutdown_grace_seconds",
       static_cast<uint64_t>(absl::GetFlag(FLAGS_shutdown_grace_seconds)), 0,
       3600},
  };
  for (const auto& check : kChecks) {
    if (check.value < check.min || check.value > check.max) {
      log.Log(
          LogLevel::kError, "server.bad_flag",
          {{"flag", check.flag},
           {"error", absl::StrCat("must be in ", check.min, "..", check.max)}});
      return 2;
    }
  }

  // Addresses with their ports, and the testing clock on loopback only.
  for (const auto& [flag, address] :
       {std::pair<const char*, std::string>{"listen",
                                            absl::GetFlag(FLAGS_listen)},
        {"metrics_listen", absl::GetFlag(FLAGS_metrics_listen)},
        {"tlog_listen", absl::GetFlag(FLAGS_tlog_listen)}}) {
    if (address.empty() && std::string(flag) != "listen") continue;
    if (absl::Status s = ycr::services::CheckListenAddress(
            absl::StrCat("--", flag), address);
        !s.ok()) {
      log.Log(LogLevel::kError, "server.bad_flag",
              {{"flag", flag}, {"error", std::string(s.message())}});
      return 2;
    }
  }
  if (absl::GetFlag(FLAGS_testing_time_control) &&
      !ycr::services::IsLoopbackAddress(absl::GetFlag(FLAGS_listen))) {
    log.Log(LogLevel::kError, "server.bad_flag",
            {{"flag", "testing_time_control"},
             {"error", absl::StrCat("--testing_time_control is refused unless "
                                    "--listen is a loopback address, not ",
                                    absl::GetFlag(FLAGS_listen))}});
    return 2;
  }

  ycr::services::ServerOptions options;
  options.listen = absl::GetFlag(FLAGS_listen);
  options.security.insecure = absl::GetFlag(FLAGS_insecure);
  const struct {
    const char* flag;
    std::string path;
    std::string* pem;
  } kTlsFiles[] = {
      {"tls_cert", absl::GetFlag(FLAGS_tls_cert),
       &options.security.certificate_chain},
      {"tls_key", absl::GetFlag(FLAGS_tls_key), &options.security.private_key},
      {"tls_client_ca", absl::GetFlag(FLAGS_tls_client_ca),
       &options.security.client_ca},
  };
  for (const auto& file : kTlsFiles) {
    if (options.security.insecure) {
      if (!file.path.empty()) {
        log.Log(LogLevel::kError, "server.bad_flag",
                {{"flag", file.flag},
                 {"error", "give either --insecure or the TLS files"}});
        return 2;
      }
      continue;
    }
    absl::StatusOr<std::string> pem = ReadFlagFile(file.flag, file.path);
    if (!pem.ok()) {
      log.Log(LogLevel::kError, "server.bad_flag",
              {{"flag", file.flag},
               {"error", std::string(pem.status().message())}});
      return 2;
    }
    *file.pem = *std::move(pem);
  }
  const std::string crl = absl::GetFlag(FLAGS_tls_crl);
  if (!crl.empty()) {
    absl::Status readable =
        options.security.insecure
            ? absl::InvalidArgumentError(
                  "a revocation list is for mutual TLS, not with --insecure")
            : ycr::ReadFile(crl).status();
    if (!readable.ok()) {
      log.Log(
          LogLevel::kError, "server.bad_flag",
          {{"flag", "tls_crl"}, {"error", std::string(readable.message())}});
      return 2;
    }
    options.security.crl_path = crl;
  }
  if (options.security.insecure) {
    log.Log(LogLevel::kWarning, "server.insecure",
            {{"note",
              "PLAIN TEXT, NO TLS: callers name themselves and nothing is "
              "encrypted; for development on this machine only"},
             {"listen", options.listen}});
  }
  options.log.path = absl::GetFlag(FLAGS_data_dir);
  options.log.sync = absl::GetFlag(FLAGS_sync);
  options.log.logger = &log;
  options.log.limits.max_payload_bytes = absl::GetFlag(FLAGS_max_payload_bytes);
  options.log.limits.max_events_per_append =
      absl::GetFlag(FLAGS_max_events_per_append);
  options.log.limits.max_stream_id_bytes =
      absl::GetFlag(FLAGS_max_stream_id_bytes);
  options.log.limits.max_read_limit = absl::GetFlag(FLAGS_max_read_limit);
  options.log.stream_cache_entries = absl::GetFlag(FLAGS_stream_cache_entries);
  options.log.block_cache_bytes = absl::GetFlag(FLAGS_block_cache_mb) << 20;
  options.reader_threads = absl::GetFlag(FLAGS_reader_threads);
  options.command_threads = absl::GetFlag(FLAGS_command_threads);
  options.max_receive_message_bytes = absl::GetFlag(FLAGS_max_message_mb) << 20;
  options.max_streams_per_caller = absl::GetFlag(FLAGS_max_streams_per_caller);
  options.metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  options.http_limits.per_ip = absl::GetFlag(FLAGS_http_connections_per_ip);
  options.http_limits.timeout_seconds =
      absl::GetFlag(FLAGS_http_timeout_seconds);
  options.backup_dir = absl::GetFlag(FLAGS_backup_dir);
  options.tlog_key_file = absl::GetFlag(FLAGS_tlog_key);
  options.tlog_origin = absl::GetFlag(FLAGS_tlog_origin);
  options.tlog_key_rotated = absl::GetFlag(FLAGS_tlog_key_rotated);
  options.tlog_listen = absl::GetFlag(FLAGS_tlog_listen);
  options.access_log.capacity = absl::GetFlag(FLAGS_access_log_capacity);
  if (absl::Status s = ycr::services::ConfigureCluster(&options, &log);
      !s.ok()) {
    log.Log(LogLevel::kError, "server.bad_flag",
            {{"error", std::string(s.message())}});
    return 2;
  }

  // Lives as long as the server.
  static ycr::ManualClock testing_clock(absl::Now());
  if (absl::GetFlag(FLAGS_testing_time_control)) {
    options.testing_clock = &testing_clock;
    log.Log(LogLevel::kWarning, "server.testing_time_control",
            {{"note",
              "this server's clock moves only by ycr.v1.Testing.AdvanceTime; "
              "for end-to-end tests only, never in production"}});
  }
  const absl::Time start = absl::Now();
  auto server = ycr::services::Server::Start(options);
  if (!server.ok()) {
    log.Log(LogLevel::kError, "server.start_failed",
            {{"error", server.status().ToString()}});
    return 1;
  }
  // Port files first: whoever reads the "listening" line may read them next.
  for (const auto& [path, port] :
       {std::pair{absl::GetFlag(FLAGS_port_file), (*server)->port()},
        std::pair{absl::GetFlag(FLAGS_metrics_port_file),
                  (*server)->metrics_port()},
        std::pair{absl::GetFlag(FLAGS_tlog_port_file),
                  (*server)->tlog_port()}}) {
    if (!path.empty() && port != 0 && !WritePortFile(path, port)) {
      log.Log(LogLevel::kError, "server.port_file_failed", {{"path", path}});
      (*server)->Shutdown();
      return 1;
    }
  }
  const ycr::note::Signer& signer = (*server)->checkpointer().signer();
  log.Log(LogLevel::kInfo, "tlog.signer",
          {{"origin", signer.name},
           {"vkey", ycr::note::VerifierKey(signer)},
           {"key", options.tlog_key_file.empty()
                       ? absl::StrCat(
                             options.log.path, "/",
                             ycr::services::kDataDirSignerKeyFile,
                             (*server)->made_signer_key() ? " (made now)" : "")
                       : options.tlog_key_file},
           {"tiles",
            (*server)->tlog_port() == 0
                ? "off"
                : absl::StrCat("http://",
                               options.tlog_listen.substr(
                                   0, options.tlog_listen.rfind(':')),
                               ":", (*server)->tlog_port(), "/checkpoint")}});
  const auto head = (*server)->log().GetHead();
  const std::string host = options.listen.substr(0, options.listen.rfind(':'));
  const std::string& m = options.metrics_listen;
  log.Log(
      LogLevel::kInfo, "server.listening",
      {{"addr", absl::StrCat(host, ":", (*server)->port())},
       {"data_dir", options.log.path},
       {"head", absl::StrCat(head.position)},
       {"opened_in", absl::FormatDuration(absl::Now() - start)},
       {"wal_sync", options.log.sync ? "on" : "OFF"},
       {"tls", options.security.insecure ? "OFF" : "mutual"},
       {"crl",
        options.security.crl_path.empty() ? "off" : options.security.crl_path},
       {"metrics", (*server)->metrics_port() == 0
                       ? "off"
                       : absl::StrCat("http://", m.substr(0, m.rfind(':')), ":",
                                      (*server)->metrics_port(), "/metrics")}});

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  const int delay = absl::GetFlag(FLAGS_drain_delay_seconds);
  log.Log(LogLevel::kInfo, "server.draining",
          {{"signal", signal_number == SIGTERM ? "SIGTERM" : "SIGINT"},
           {"health", "NOT_SERVING"},
           {"delay", absl::FormatDuration(absl::Seconds(delay))}});
  (*server)->BeginDrain();
  if (delay > 0) {
    const timespec timeout{delay, 0};
    // Returns early on a second signal; EAGAIN once the delay is over.
    sigtimedwait(&stop_signals, nullptr, &timeout);
  }
  const absl::Duration grace =
      absl::Seconds(absl::GetFlag(FLAGS_shutdown_grace_seconds));
  log.Log(LogLevel::kInfo, "server.shutting_down",
          {{"note", "refusing new calls, finishing in-flight ones"},
           {"grace", absl::FormatDuration(grace)}});
  const absl::Time stop = absl::Now();
  (*server)->Shutdown(grace);
  log.Log(LogLevel::kInfo, "server.stopped",
          {{"took", absl::FormatDuration(absl::Now() - stop)},
           {"head", absl::StrCat((*server)->log().GetHead().position)}});
  return 0;
}
