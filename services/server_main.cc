// ycr-server: serves the ycr gRPC API over an embedded RocksDB store.

#include <signal.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/command_line.h"
#include "services/server.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:7070",
          "Address to serve on, host:port (port 0 picks a free port).");
ABSL_FLAG(std::string, data_dir, "./var/data",
          "Directory of the RocksDB store; created if missing.");
ABSL_FLAG(std::string, port_file, "",
          "If set, the bound port is written here once the server listens.");
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
ABSL_FLAG(int, max_message_mb, 8, "Largest request accepted, in MiB.");
ABSL_FLAG(bool, testing_time_control, false,
          "END-TO-END TESTS ONLY: the server's clock starts at the real time "
          "and moves only when a client calls ycr.v1.Testing.AdvanceTime. "
          "Never in production.");
ABSL_FLAG(int, shutdown_grace_seconds, 10,
          "On SIGTERM/SIGINT, how long in-flight calls may take to finish.");

namespace {

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

int main(int argc, char** argv) {
  ycr::InitCommandLine(
      argc, argv,
      "Serves the ycr event store over gRPC, on an embedded RocksDB store.\n"
      "Usage: ycr-server [--listen=HOST:PORT] [--data_dir=DIR] [flags]\n"
      "Stops cleanly on SIGTERM or SIGINT: in-flight calls finish, the store "
      "is flushed and closed.");

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
      {"reader_threads",
       static_cast<uint64_t>(absl::GetFlag(FLAGS_reader_threads)), 1, 256},
      {"max_message_mb",
       static_cast<uint64_t>(absl::GetFlag(FLAGS_max_message_mb)), 1, 1024},
  };
  for (const auto& check : kChecks) {
    if (check.value < check.min || check.value > check.max) {
      std::cerr << "ycr-server: --" << check.flag << " must be in " << check.min
                << ".." << check.max << "\n";
      return 2;
    }
  }

  ycr::services::ServerOptions options;
  options.listen = absl::GetFlag(FLAGS_listen);
  options.log.path = absl::GetFlag(FLAGS_data_dir);
  options.log.sync = absl::GetFlag(FLAGS_sync);
  options.log.limits.max_payload_bytes = absl::GetFlag(FLAGS_max_payload_bytes);
  options.log.limits.max_events_per_append =
      absl::GetFlag(FLAGS_max_events_per_append);
  options.log.limits.max_stream_id_bytes =
      absl::GetFlag(FLAGS_max_stream_id_bytes);
  options.log.limits.max_read_limit = absl::GetFlag(FLAGS_max_read_limit);
  options.log.stream_cache_entries = absl::GetFlag(FLAGS_stream_cache_entries);
  options.log.block_cache_bytes = absl::GetFlag(FLAGS_block_cache_mb) << 20;
  options.reader_threads = absl::GetFlag(FLAGS_reader_threads);
  options.max_receive_message_bytes = absl::GetFlag(FLAGS_max_message_mb) << 20;

  // Lives as long as the server.
  static ycr::ManualClock testing_clock(absl::Now());
  if (absl::GetFlag(FLAGS_testing_time_control)) {
    options.testing_clock = &testing_clock;
    std::cerr << "ycr-server: WARNING: --testing_time_control is on: this "
                 "server's clock moves only by ycr.v1.Testing.AdvanceTime. "
                 "For end-to-end tests only, never in production.\n";
  }
  const absl::Time start = absl::Now();
  auto server = ycr::services::Server::Start(options);
  if (!server.ok()) {
    std::cerr << "ycr-server: " << server.status() << "\n";
    return 1;
  }
  const auto head = (*server)->log().GetHead();
  std::string host = options.listen.substr(0, options.listen.rfind(':'));
  std::cout << "ycr-server listening on " << host << ":" << (*server)->port()
            << " (data " << options.log.path << ", log head " << head.position
            << ", opened in " << absl::FormatDuration(absl::Now() - start)
            << (options.log.sync ? "" : ", WAL sync OFF") << ")" << std::endl;
  const std::string port_file = absl::GetFlag(FLAGS_port_file);
  if (!port_file.empty() && !WritePortFile(port_file, (*server)->port())) {
    std::cerr << "ycr-server: cannot write port file " << port_file << "\n";
    (*server)->Shutdown();
    return 1;
  }

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  std::cout << "ycr-server: "
            << (signal_number == SIGTERM ? "SIGTERM" : "SIGINT") << ", draining"
            << std::endl;
  const absl::Time stop = absl::Now();
  (*server)->Shutdown(
      absl::Seconds(absl::GetFlag(FLAGS_shutdown_grace_seconds)));
  std::cout << "ycr-server: stopped in "
            << absl::FormatDuration(absl::Now() - stop) << ", log head "
            << (*server)->log().GetHead().position << std::endl;
  return 0;
}
