// ycr-bench: measures durable single-event appends over gRPC.
//
// N closed-loop clients on gRPC's callback API (no thread per client): each
// keeps exactly one call outstanding and issues the next from the previous
// call's completion, until the time is up. Every call's latency is recorded;
// calls completing during the warm-up are discarded. `--mode=noop` uses Head,
// which touches no disk, to measure what gRPC alone costs on this machine.

#include <grpcpp/grpcpp.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/time/time.h"
#include "common/command_line.h"
#include "common/ids.h"
#include "services/caller_identity.h"
#include "services/grpc_status.h"
#include "services/server.h"
#include "ycr/v1/event_store.grpc.pb.h"

ABSL_FLAG(std::string, target, "",
          "Server to measure, HOST:PORT. Empty: start an in-process server on "
          "127.0.0.1:0 over a fresh temporary data directory (removed at "
          "exit).");
ABSL_FLAG(bool, sync, true,
          "In-process server only: sync the write-ahead log before "
          "acknowledging an append (what 'durable' means). Ignored with "
          "--target.");
ABSL_FLAG(int, clients, 64,
          "Concurrent closed-loop clients (= calls outstanding at any time).");
ABSL_FLAG(double, seconds, 10, "Measured seconds per mode.");
ABSL_FLAG(double, warmup_seconds, 2,
          "Seconds per mode run before measuring; their calls are discarded.");
ABSL_FLAG(int, payload_bytes, 300,
          "Random bytes in each event's opaque payload.");
ABSL_FLAG(std::string, mode, "both",
          "append (durable single-event appends), noop (Head: no disk) or "
          "both (noop, then append, and their throughput ratio).");
ABSL_FLAG(int, channels, 4,
          "gRPC channels (each its own connection) the clients are spread "
          "over, round robin.");
ABSL_FLAG(bool, json, false,
          "Also print one JSON line with the results, after the table.");
ABSL_FLAG(bool, quiet, false, "No per-second progress on stderr.");

namespace {

namespace v1 = ycr::v1;
using SteadyClock = std::chrono::steady_clock;

std::atomic<bool> g_interrupted{false};

extern "C" void OnStopSignal(int) { g_interrupted.store(true); }

enum class Mode { kNoop, kAppend };

const char* ModeName(Mode mode) {
  return mode == Mode::kNoop ? "noop" : "append";
}

// grpc::StatusCode values are 0..16; one more slot counts responses that
// were OK but wrong (e.g. an append reported as an idempotent replay).
constexpr int kBadResponse = 17;
constexpr int kErrorSlots = 18;

const char* CodeName(int code) {
  if (code == kBadResponse) return "BAD_RESPONSE";
  return ycr::services::StatusCodeName(static_cast<grpc::StatusCode>(code));
}

// State one mode's run shares between the main thread and its clients.
struct Phase {
  Mode mode = Mode::kAppend;
  SteadyClock::time_point measure_start;
  SteadyClock::time_point measure_end;
  // Set by the main thread when the time is up (or on SIGINT/SIGTERM).
  std::atomic<bool> stop{false};
  // Every completed call, warm-up included, for the progress line.
  std::atomic<uint64_t> completed{0};
  std::atomic<uint64_t> failed{0};

  // Clients still running; each counts itself down once, when done. Safe to
  // destroy as soon as Wait() returns.
  std::unique_ptr<absl::BlockingCounter> running;
};

// Cheap non-cryptographic bytes for payloads (splitmix64).
class PayloadRandom {
 public:
  explicit PayloadRandom(uint64_t seed) : state_(seed) {}
  void Fill(std::string* out) {
    for (size_t i = 0; i < out->size(); i += 8) {
      uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      z ^= z >> 31;
      const size_t n = std::min<size_t>(8, out->size() - i);
      for (size_t j = 0; j < n; ++j)
        (*out)[i + j] = static_cast<char>(z >> (8 * j));
    }
  }

 private:
  uint64_t state_;
};

// One closed-loop client. Its calls never overlap, so its fields are touched
// by one call's completion at a time; the main thread reads them after the
// client has counted itself down on Phase::running.
class Client {
 public:
  Client(Phase* phase, v1::EventStore::Stub* stub, std::string stream,
         int payload_bytes, uint64_t seed)
      : phase_(phase), stub_(stub), random_(seed) {
    append_.set_stream(std::move(stream));
    append_.mutable_expected()->set_kind(v1::ExpectedVersion::ANY);
    v1::OpaquePayload* opaque =
        append_.add_events()->mutable_payload()->mutable_opaque();
    opaque->set_type("bench.event");
    opaque->mutable_data()->resize(payload_bytes);
    latencies_us_.reserve(1 << 14);
  }

  void Start() { Issue(); }

  const std::vector<uint32_t>& latencies_us() const { return latencies_us_; }
  const std::array<uint64_t, kErrorSlots>& errors() const { return errors_; }
  const std::array<std::string, kErrorSlots>& first_messages() const {
    return first_messages_;
  }

 private:
  void Issue() {
    // The previous call's context goes here, inside that call's completion:
    // gRPC holds its own reference until the completion returns.
    context_ = std::make_unique<grpc::ClientContext>();
    context_->AddMetadata(ycr::services::kOrganisationMetadata, "bench-org");
    context_->AddMetadata(ycr::services::kUserMetadata, "ycr-bench");
    context_->AddMetadata(ycr::services::kRoleMetadata, "admin");
    context_->set_deadline(std::chrono::system_clock::now() +
                           std::chrono::seconds(30));
    if (phase_->mode == Mode::kAppend) {
      v1::ProposedEvent* event = append_.mutable_events(0);
      event->set_event_id(ycr::NewUuid());
      random_.Fill(event->mutable_payload()->mutable_opaque()->mutable_data());
      started_ = SteadyClock::now();
      stub_->async()->Append(context_.get(), &append_, &append_response_,
                             [this](grpc::Status s) { OnDone(s); });
    } else {
      started_ = SteadyClock::now();
      stub_->async()->Head(context_.get(), &head_, &head_response_,
                           [this](grpc::Status s) { OnDone(s); });
    }
  }

  void OnDone(const grpc::Status& status) {
    const SteadyClock::time_point now = SteadyClock::now();
    phase_->completed.fetch_add(1, std::memory_order_relaxed);
    int error = -1;
    std::string message;
    if (!status.ok()) {
      error = status.error_code();
      if (error < 0 || error >= kBadResponse) error = grpc::StatusCode::UNKNOWN;
      message = status.error_message();
    } else if (phase_->mode == Mode::kAppend &&
               (append_response_.replayed() ||
                append_response_.first_position() == 0 ||
                append_response_.last_position() !=
                    append_response_.first_position() ||
                append_response_.stream_version() != ++expected_version_)) {
      error = kBadResponse;
      message = absl::StrCat(
          "unexpected response: ", append_response_.ShortDebugString(),
          " (expected stream_version ", expected_version_, ")");
      expected_version_ = append_response_.stream_version();
    }
    if (error >= 0) {
      if (errors_[error]++ == 0) first_messages_[error] = std::move(message);
      phase_->failed.fetch_add(1, std::memory_order_relaxed);
    } else if (now >= phase_->measure_start && now <= phase_->measure_end) {
      latencies_us_.push_back(static_cast<uint32_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(now - started_)
              .count()));
    }
    if (now < phase_->measure_end &&
        !phase_->stop.load(std::memory_order_relaxed)) {
      Issue();
      return;
    }
    // Done: from here on the main thread may destroy this client.
    phase_->running->DecrementCount();
  }

  Phase* const phase_;
  v1::EventStore::Stub* const stub_;
  PayloadRandom random_;

  std::unique_ptr<grpc::ClientContext> context_;
  v1::AppendRequest append_;
  v1::AppendResponse append_response_;
  v1::HeadRequest head_;
  v1::HeadResponse head_response_;
  SteadyClock::time_point started_;
  uint64_t expected_version_ = 0;

  std::vector<uint32_t> latencies_us_;
  std::array<uint64_t, kErrorSlots> errors_{};
  std::array<std::string, kErrorSlots> first_messages_;
};

struct Result {
  Mode mode = Mode::kAppend;
  int clients = 0;
  double seconds = 0;
  uint64_t calls = 0;  // Successful calls completed in the measured window.
  double calls_per_second = 0;
  double mean_ms = 0, p50_ms = 0, p99_ms = 0, p999_ms = 0, max_ms = 0;
  // CPU of this process (the client, and the server when in-process) over
  // the measured window: cores used, and microseconds per completed call.
  double cpu_cores = 0;
  double cpu_us_per_call = 0;
  // Cores every other process on the machine used meanwhile (from
  // /proc/stat): on a shared machine, the noise to read the figures with.
  double other_cores = 0;
  uint64_t errors = 0;  // Failed calls in the whole run, warm-up included.
  std::array<uint64_t, kErrorSlots> errors_by_code{};
  std::array<std::string, kErrorSlots> first_messages;
  bool interrupted = false;
};

// Busy CPU seconds of the whole machine so far (0 if /proc/stat is
// unreadable): user + nice + system + irq + softirq + steal.
double MachineBusySeconds() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  uint64_t user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0,
           softirq = 0, steal = 0;
  if (!(in >> cpu >> user >> nice >> system >> idle >> iowait >> irq >>
        softirq >> steal) ||
      cpu != "cpu") {
    return 0;
  }
  return static_cast<double>(user + nice + system + irq + softirq + steal) /
         sysconf(_SC_CLK_TCK);
}

// CPU times at a moment of a phase.
struct CpuSample {
  SteadyClock::time_point wall;
  double cpu_seconds = 0;  // This process, all threads.
  double machine_busy_seconds = 0;
  uint64_t completed = 0;

  static CpuSample Take(const Phase& phase) {
    CpuSample sample;
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    sample.cpu_seconds = ts.tv_sec + ts.tv_nsec / 1e9;
    sample.machine_busy_seconds = MachineBusySeconds();
    sample.wall = SteadyClock::now();
    sample.completed = phase.completed.load();
    return sample;
  }
};

// Nearest-rank percentile of sorted values, in milliseconds.
double PercentileMs(const std::vector<uint32_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  size_t rank = static_cast<size_t>(std::ceil(q * sorted.size()));
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return sorted[rank - 1] / 1000.0;
}

Result RunPhase(Mode mode,
                const std::vector<std::unique_ptr<v1::EventStore::Stub>>& stubs,
                const std::string& run_id, int clients, double seconds,
                double warmup_seconds, int payload_bytes, bool quiet) {
  Phase phase;
  phase.mode = mode;
  const SteadyClock::time_point start = SteadyClock::now();
  auto to_steady = [](double s) {
    return std::chrono::duration_cast<SteadyClock::duration>(
        std::chrono::duration<double>(s));
  };
  phase.measure_start = start + to_steady(warmup_seconds);
  phase.measure_end = phase.measure_start + to_steady(seconds);

  std::random_device seed_source;
  std::vector<std::unique_ptr<Client>> all;
  all.reserve(clients);
  for (int i = 0; i < clients; ++i) {
    uint64_t seed = (uint64_t{seed_source()} << 32) ^ seed_source();
    all.push_back(std::make_unique<Client>(
        &phase, stubs[i % stubs.size()].get(),
        absl::StrCat("bench-", run_id, "-", i), payload_bytes, seed));
  }
  phase.running = std::make_unique<absl::BlockingCounter>(clients);
  for (auto& client : all) client->Start();

  // Progress, once a second, until the time is up or we are interrupted.
  // CPU use is sampled at the start and end of the measured window.
  SteadyClock::time_point next_tick = start + std::chrono::seconds(1);
  uint64_t last_completed = 0;
  std::optional<CpuSample> window_start;
  for (;;) {
    const SteadyClock::time_point now = SteadyClock::now();
    if (!window_start.has_value() && now >= phase.measure_start) {
      window_start = CpuSample::Take(phase);
    }
    if (now >= phase.measure_end || g_interrupted.load()) break;
    if (now >= next_tick) {
      const uint64_t completed = phase.completed.load();
      if (!quiet) {
        std::cerr << absl::StrFormat(
                         "[%s] %5.1fs calls=%d (+%d) errors=%d%s",
                         ModeName(mode),
                         std::chrono::duration<double>(now - start).count(),
                         completed, completed - last_completed,
                         phase.failed.load(),
                         now < phase.measure_start ? " (warm-up)" : "")
                  << std::endl;
      }
      last_completed = completed;
      next_tick += std::chrono::seconds(1);
    }
    SteadyClock::time_point wake = std::min(next_tick, phase.measure_end);
    if (!window_start.has_value()) wake = std::min(wake, phase.measure_start);
    std::this_thread::sleep_for(std::min<SteadyClock::duration>(
        std::chrono::milliseconds(50), wake - now));
  }
  const CpuSample window_end = CpuSample::Take(phase);
  phase.stop.store(true);
  Result result;
  result.interrupted = g_interrupted.load();
  if (window_start.has_value() && window_end.wall > window_start->wall) {
    const double cpu = window_end.cpu_seconds - window_start->cpu_seconds;
    const double wall =
        std::chrono::duration<double>(window_end.wall - window_start->wall)
            .count();
    result.cpu_cores = cpu / wall;
    if (window_start->machine_busy_seconds > 0) {
      result.other_cores =
          std::max(0.0, (window_end.machine_busy_seconds -
                         window_start->machine_busy_seconds - cpu) /
                            wall);
    }
    const uint64_t calls = window_end.completed - window_start->completed;
    if (calls > 0) result.cpu_us_per_call = cpu * 1e6 / calls;
  }
  // Outstanding calls finish within their 30 s deadline.
  phase.running->Wait();

  result.mode = mode;
  result.clients = clients;
  result.seconds = seconds;
  std::vector<uint32_t> latencies;
  for (const auto& client : all) {
    latencies.insert(latencies.end(), client->latencies_us().begin(),
                     client->latencies_us().end());
    for (int code = 0; code < kErrorSlots; ++code) {
      const uint64_t n = client->errors()[code];
      if (n == 0) continue;
      if (result.errors_by_code[code] == 0) {
        result.first_messages[code] = client->first_messages()[code];
      }
      result.errors_by_code[code] += n;
      result.errors += n;
    }
  }
  if (result.interrupted) {
    const double ran = std::chrono::duration<double>(
                           std::min(SteadyClock::now(), phase.measure_end) -
                           phase.measure_start)
                           .count();
    result.seconds = std::max(ran, 0.0);
  }
  std::sort(latencies.begin(), latencies.end());
  result.calls = latencies.size();
  result.calls_per_second =
      result.seconds > 0 ? result.calls / result.seconds : 0;
  double sum = 0;
  for (uint32_t us : latencies) sum += us;
  result.mean_ms = latencies.empty() ? 0 : sum / latencies.size() / 1000.0;
  result.p50_ms = PercentileMs(latencies, 0.50);
  result.p99_ms = PercentileMs(latencies, 0.99);
  result.p999_ms = PercentileMs(latencies, 0.999);
  result.max_ms = latencies.empty() ? 0 : latencies.back() / 1000.0;
  return result;
}

std::string JsonString(absl::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += absl::StrFormat("\\u%04x", c);
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// Removes a temporary directory when it goes out of scope.
class TempDir {
 public:
  TempDir() = default;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    if (path_.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  bool Create() {
    char pattern[] = "/tmp/ycr-bench.XXXXXX";
    if (mkdtemp(pattern) == nullptr) return false;
    path_ = pattern;
    return true;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

int AvailableCores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return 0;
  return CPU_COUNT(&set);
}

}  // namespace

int main(int argc, char** argv) {
  ycr::InitCommandLine(
      argc, argv,
      "Measures durable single-event appends over gRPC: --clients closed-loop "
      "callers, each with one call outstanding, appending one event per call "
      "to its own stream.\n"
      "Usage: ycr-bench [--target=HOST:PORT] [--mode=both|append|noop] "
      "[--clients=64] [--seconds=10] [flags]\n"
      "Without --target it starts an in-process server (client and server "
      "then share this machine's cores). Exits 1 if any call failed.");

  const std::string target_flag = absl::GetFlag(FLAGS_target);
  const bool sync = absl::GetFlag(FLAGS_sync);
  const int clients = absl::GetFlag(FLAGS_clients);
  const double seconds = absl::GetFlag(FLAGS_seconds);
  const double warmup_seconds = absl::GetFlag(FLAGS_warmup_seconds);
  const int payload_bytes = absl::GetFlag(FLAGS_payload_bytes);
  const std::string mode_flag = absl::GetFlag(FLAGS_mode);
  const int channels = absl::GetFlag(FLAGS_channels);
  const bool json = absl::GetFlag(FLAGS_json);
  const bool quiet = absl::GetFlag(FLAGS_quiet);

  std::vector<Mode> modes;
  if (mode_flag == "both") {
    modes = {Mode::kNoop, Mode::kAppend};
  } else if (mode_flag == "append") {
    modes = {Mode::kAppend};
  } else if (mode_flag == "noop") {
    modes = {Mode::kNoop};
  } else {
    std::cerr << "ycr-bench: --mode must be both, append or noop\n";
    return 2;
  }
  if (clients < 1 || channels < 1 || !(seconds > 0) || warmup_seconds < 0 ||
      payload_bytes < 0) {
    std::cerr << "ycr-bench: need --clients >= 1, --channels >= 1, "
                 "--seconds > 0, --warmup_seconds >= 0, --payload_bytes >= 0\n";
    return 2;
  }

  std::signal(SIGINT, OnStopSignal);
  std::signal(SIGTERM, OnStopSignal);

  // The server: ours, in-process, or the one at --target.
  TempDir data_dir;
  std::unique_ptr<ycr::services::Server> server;
  std::string target = target_flag;
  std::string server_description;
  if (target.empty()) {
    if (!data_dir.Create()) {
      std::perror("ycr-bench: mkdtemp");
      return 2;
    }
    ycr::services::ServerOptions options;
    options.listen = "127.0.0.1:0";
    // Plain text on loopback: the figures are the log's and the RPC's, not
    // TLS's.
    options.security.insecure = true;
    options.log.path = data_dir.path() + "/data";
    options.log.sync = sync;
    auto started = ycr::services::Server::Start(std::move(options));
    if (!started.ok()) {
      std::cerr << "ycr-bench: cannot start the server: " << started.status()
                << "\n";
      return 2;
    }
    server = *std::move(started);
    target = absl::StrCat("127.0.0.1:", server->port());
    server_description = absl::StrCat(
        "in-process at ", target, ", data ", data_dir.path(), ", WAL sync ",
        sync ? "ON (durable)" : "OFF (not durable)");
  } else {
    server_description = absl::StrCat(
        "target ", target, " (WAL sync is the server's own --sync setting)");
  }

  grpc::ChannelArguments args;
  // Without it, channels with equal arguments share one subchannel, hence
  // one connection.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  std::vector<std::unique_ptr<v1::EventStore::Stub>> stubs;
  for (int i = 0; i < channels; ++i) {
    std::shared_ptr<grpc::Channel> channel = grpc::CreateCustomChannel(
        target, grpc::InsecureChannelCredentials(), args);
    if (!channel->WaitForConnected(std::chrono::system_clock::now() +
                                   std::chrono::seconds(10))) {
      std::cerr << "ycr-bench: cannot connect to " << target << "\n";
      return 2;
    }
    stubs.push_back(v1::EventStore::NewStub(channel));
  }

  const std::string run_id = ycr::NewUuid();
  const long online_cores = sysconf(_SC_NPROCESSORS_ONLN);
  std::cout << "server:  " << server_description << "\n"
            << "machine: " << online_cores << " cores online, "
            << AvailableCores() << " available to this process"
            << (server != nullptr ? " (shared by client and server)" : "")
            << "; gRPC " << grpc::Version() << "\n"
            << "load:    " << clients << " closed-loop clients over "
            << channels << " channel(s), " << payload_bytes
            << "-byte payloads, " << warmup_seconds << " s warm-up + "
            << seconds << " s measured per mode, run " << run_id << "\n"
            << std::endl;

  std::vector<Result> results;
  for (Mode mode : modes) {
    if (g_interrupted.load()) break;
    results.push_back(RunPhase(mode, stubs, run_id, clients, seconds,
                               warmup_seconds, payload_bytes, quiet));
  }

  std::cout << absl::StrFormat(
      "%-7s %8s %8s %9s %10s %8s %8s %8s %8s %8s %9s %11s %11s\n", "mode",
      "clients", "seconds", "calls", "calls/s", "p50_ms", "p99_ms", "p999_ms",
      "max_ms", "errors", "cpu_cores", "cpu_us/call", "other_cores");
  for (const Result& r : results) {
    std::cout << absl::StrFormat(
        "%-7s %8d %8.1f %9d %10.0f %8.2f %8.2f %8.2f %8.2f %8d %9.2f "
        "%11.1f %11.2f%s\n",
        ModeName(r.mode), r.clients, r.seconds, r.calls, r.calls_per_second,
        r.p50_ms, r.p99_ms, r.p999_ms, r.max_ms, r.errors, r.cpu_cores,
        r.cpu_us_per_call, r.other_cores,
        r.interrupted ? "  (interrupted)" : "");
  }
  std::cout << "(cpu_cores, cpu_us/call: CPU of this process, "
            << (server != nullptr ? "client + in-process server"
                                  : "the client only")
            << ", over the measured window; other_cores: every other "
               "process on the machine meanwhile)\n";
  std::optional<double> ratio;
  const Result* noop = nullptr;
  const Result* append = nullptr;
  for (const Result& r : results) {
    (r.mode == Mode::kNoop ? noop : append) = &r;
  }
  if (noop != nullptr && append != nullptr && noop->calls_per_second > 0) {
    ratio = append->calls_per_second / noop->calls_per_second;
    std::cout << absl::StrFormat(
        "%s/noop throughput ratio: %.2f\n",
        sync || server == nullptr ? "durable" : "append(no sync)", *ratio);
  }
  uint64_t total_errors = 0;
  for (const Result& r : results) {
    total_errors += r.errors;
    for (int code = 0; code < kErrorSlots; ++code) {
      if (r.errors_by_code[code] == 0) continue;
      std::cout << absl::StrFormat(
          "%s errors: %s x %d (first: %s)\n", ModeName(r.mode), CodeName(code),
          r.errors_by_code[code], r.first_messages[code]);
    }
  }

  if (json) {
    std::string line = absl::StrCat(
        "{\"server\":", JsonString(server != nullptr ? "in-process" : target),
        ",\"sync\":", server != nullptr ? (sync ? "true" : "false") : "null",
        ",\"cores\":", online_cores, ",\"clients\":", clients,
        ",\"channels\":", channels, ",\"payload_bytes\":", payload_bytes,
        ",\"warmup_seconds\":", warmup_seconds, ",\"results\":[");
    for (size_t i = 0; i < results.size(); ++i) {
      const Result& r = results[i];
      std::string errors = "{";
      for (int code = 0; code < kErrorSlots; ++code) {
        if (r.errors_by_code[code] == 0) continue;
        if (errors.size() > 1) errors += ",";
        absl::StrAppend(&errors, JsonString(CodeName(code)), ":",
                        r.errors_by_code[code]);
      }
      errors += "}";
      absl::StrAppend(
          &line, i > 0 ? "," : "", "{\"mode\":", JsonString(ModeName(r.mode)),
          ",\"seconds\":", r.seconds, ",\"calls\":", r.calls,
          absl::StrFormat(",\"calls_per_second\":%.1f,\"mean_ms\":%.3f,"
                          "\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"p999_ms\":%.3f,"
                          "\"max_ms\":%.3f,\"cpu_cores\":%.3f,"
                          "\"cpu_us_per_call\":%.2f,\"other_cores\":%.3f",
                          r.calls_per_second, r.mean_ms, r.p50_ms, r.p99_ms,
                          r.p999_ms, r.max_ms, r.cpu_cores, r.cpu_us_per_call,
                          r.other_cores),
          ",\"errors\":", r.errors, ",\"errors_by_code\":", errors,
          ",\"interrupted\":", r.interrupted ? "true" : "false", "}");
    }
    absl::StrAppend(&line, "],\"throughput_ratio\":",
                    ratio.has_value() ? absl::StrFormat("%.4f", *ratio)
                                      : std::string("null"),
                    "}");
    std::cout << line << "\n";
  }
  std::cout << std::flush;

  stubs.clear();
  if (server != nullptr) server->Shutdown(absl::Seconds(5));
  server.reset();
  if (g_interrupted.load()) return 130;
  return total_errors > 0 ? 1 : 0;
}
