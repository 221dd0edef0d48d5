// ycr-bench: measures durable single-event appends over gRPC.
//
// N closed-loop clients on gRPC's callback API (no thread per client): each
// keeps exactly one call outstanding and issues the next from the previous
// call's completion, until the time is up. Every call's latency is recorded;
// calls completing during the warm-up are discarded. `--mode=noop` uses Head,
// which touches no disk, to measure what gRPC alone costs on this machine.
// `--mode=domain` records safeguarding disclosures through Sharing: the
// domain rules, a sealed personal part, the server's real write path.
// `--tls` runs it all over mutual TLS, as deployed.

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
#include "clients/client_security.h"
#include "common/command_line.h"
#include "common/files.h"
#include "common/ids.h"
#include "services/grpc_status.h"
#include "services/security/caller_identity.h"
#include "services/server.h"
#include "tests/bench/machine_load.h"
#include "tests/bench/tree_bench.h"
#include "ycr/v1/event_store.grpc.pb.h"
#include "ycr/v1/safeguarding_service.grpc.pb.h"
#include "ycr/v1/sharing_service.grpc.pb.h"
#include "ycr/v1/subject_service.grpc.pb.h"

#ifndef YCR_DEV_CA_SCRIPT
#define YCR_DEV_CA_SCRIPT "deploy/dev-ca.sh"
#endif

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
          "append (durable single-event appends), noop (Head: no disk), "
          "both (noop, then append, and their throughput ratio), domain "
          "(Sharing.RecordDisclosure under a safeguarding basis, with a "
          "sealed personal part, by a school about its own pupils) or all "
          "(noop, append, domain); tree (in process, no server: the log's "
          "Merkle tree's cost per appended event, taken apart).");
ABSL_FLAG(int, subjects, 64,
          "--mode=domain: young carers the bench school records about (each "
          "with a record it holds and a concern it raised, made before the "
          "run); client i records about subject i mod this.");
ABSL_FLAG(bool, tls, false,
          "Mutual TLS: the in-process server requires client certificates "
          "and each client presents one (its identity). Certificates come "
          "from --tls_dir, or are made into the temporary directory by "
          "--dev_ca_script.");
ABSL_FLAG(std::string, tls_dir, "",
          "With --tls: a directory laid out by deploy/dev-ca.sh (ca.crt, "
          "server.crt/.key, clients/ORG/USER.crt/.key) holding ops/ycr-admin "
          "and, for --mode=domain, bench-school/dsl-bench (deploy/dev-ca.sh "
          "DIR client bench-school dsl-bench school). Required with --target; "
          "default for the in-process server: made afresh.");
ABSL_FLAG(int, command_threads, 0,
          "In-process server only: threads running domain commands (each "
          "waits for its own append). 0: the server's default "
          "(ServerOptions::command_threads).");
ABSL_FLAG(std::string, dev_ca_script, YCR_DEV_CA_SCRIPT,
          "deploy/dev-ca.sh, which makes the certificates for --tls.");
ABSL_FLAG(int, channels, 4,
          "gRPC channels (each its own connection) the clients are spread "
          "over, round robin.");
ABSL_FLAG(bool, json, false,
          "Also print one JSON line with the results, after the table.");
ABSL_FLAG(bool, quiet, false, "No per-second progress on stderr.");
ABSL_FLAG(int, tree_events, 200000,
          "--mode=tree: events whose tree work is measured (in process).");
ABSL_FLAG(int, tree_batch, 64,
          "--mode=tree: events per WriteBatch (one group commit).");

namespace {

namespace v1 = ycr::v1;
using SteadyClock = std::chrono::steady_clock;

std::atomic<bool> g_interrupted{false};

extern "C" void OnStopSignal(int) { g_interrupted.store(true); }

enum class Mode { kNoop, kAppend, kDomain };

const char* ModeName(Mode mode) {
  switch (mode) {
    case Mode::kNoop:
      return "noop";
    case Mode::kAppend:
      return "append";
    case Mode::kDomain:
      return "domain";
  }
  return "?";
}

// Who the clients call as. Under TLS the identity is the channel's client
// certificate (its subject O, OU, CN) and no identity metadata is sent; in
// plain text it is sent as metadata on every call.
struct Identity {
  std::string organisation;
  std::string user;
  std::string role;
};

// Raw appends and Head: the operator, a standard dev-ca.sh identity.
const Identity& AdminIdentity() {
  static const Identity* identity =
      new Identity{"ops", "ycr-admin", ycr::services::kAdminRole};
  return *identity;
}

// Domain commands: a school's designated safeguarding lead.
const Identity& SchoolIdentity() {
  static const Identity* identity =
      new Identity{"bench-school", "dsl-bench", ycr::services::kSchoolRole};
  return *identity;
}

// Sends `identity` as metadata (when not null: plain text only) and sets
// the 30 s deadline every call of the bench has.
void SetCaller(grpc::ClientContext* context, const Identity* identity) {
  if (identity != nullptr) {
    context->AddMetadata(ycr::services::kOrganisationMetadata,
                         identity->organisation);
    context->AddMetadata(ycr::services::kUserMetadata, identity->user);
    context->AddMetadata(ycr::services::kRoleMetadata, identity->role);
  }
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(30));
}

// The stubs of one identity's channels (each channel its own connection).
struct Stubs {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<v1::EventStore::Stub>> store;
  std::vector<std::unique_ptr<v1::Sharing::Stub>> sharing;
};

// A young carer the bench school holds the record of, with the concern it
// raised about them (what a safeguarding disclosure refers to).
struct BenchSubject {
  std::string subject_id;
  std::string concern_id;
};

// Free text for the sealed personal part: about `bytes` of plausible prose.
std::string PersonalText(absl::string_view sentence, size_t bytes) {
  std::string text;
  while (text.size() < bytes) {
    if (!text.empty()) text += ' ';
    text.append(sentence.data(), sentence.size());
  }
  text.resize(std::max<size_t>(bytes, 1));
  return text;
}

// A school's disclosure to children's social care without consent, under a
// safeguarding basis (the family not told, and why), about `subject`;
// its risk statement has about `personal_bytes` of text. The request and
// disclosure ids are set per call.
v1::RecordDisclosureRequest SafeguardingDisclosure(const BenchSubject& subject,
                                                   const Identity& school,
                                                   int personal_bytes) {
  v1::RecordDisclosureRequest request;
  v1::DisclosureRecorded* d = request.mutable_disclosure();
  d->set_subject_id(subject.subject_id);
  d->mutable_from()->set_organisation(school.organisation);
  d->mutable_to()->set_organisation("la-childrens-social-care");
  d->add_categories(v1::DATA_CATEGORY_IDENTITY);
  d->add_categories(v1::DATA_CATEGORY_CARING_SITUATION);
  d->set_purpose(v1::PURPOSE_SAFEGUARDING);
  v1::SafeguardingBasis* basis = d->mutable_safeguarding();
  basis->set_lawful_basis("dpa2018-sch1-para18");
  basis->set_decision_maker(school.user);
  basis->set_family_told(false);
  basis->set_concern_id(subject.concern_id);
  v1::PersonalData* personal = request.mutable_personal();
  personal->set_risk_statement(PersonalText(
      "The pupil has missed meals and sleep for weeks while caring alone at "
      "night for a parent whose condition has worsened.",
      personal_bytes));
  personal->set_not_told_reason(
      "Telling the parent first could lead to the pupil being kept at home.");
  return request;
}

// grpc::StatusCode values are 0..16; one more slot counts responses that
// were OK but wrong (e.g. an append reported as an idempotent replay).
constexpr int kBadResponse = 17;
constexpr int kErrorSlots = 18;

std::string CodeName(int code) {
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
  // `identity`: sent as metadata on every call; null under TLS (the
  // channel's certificate is the identity). `sharing` and `subject` are
  // used by Mode::kDomain only.
  Client(Phase* phase, const Identity* identity, v1::EventStore::Stub* stub,
         v1::Sharing::Stub* sharing, std::string stream,
         const BenchSubject& subject, int payload_bytes, uint64_t seed)
      : phase_(phase),
        identity_(identity),
        stub_(stub),
        sharing_(sharing),
        random_(seed) {
    append_.set_stream(std::move(stream));
    append_.mutable_expected()->set_kind(v1::ExpectedVersion::ANY);
    v1::OpaquePayload* opaque =
        append_.add_events()->mutable_payload()->mutable_opaque();
    opaque->set_type("bench.event");
    opaque->mutable_data()->resize(payload_bytes);
    if (phase->mode == Mode::kDomain) {
      disclose_ =
          SafeguardingDisclosure(subject, SchoolIdentity(), payload_bytes);
    }
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
    SetCaller(context_.get(), identity_);
    if (phase_->mode == Mode::kDomain) {
      disclose_.set_request_id(ycr::NewUuid());
      disclose_.mutable_disclosure()->set_disclosure_id(ycr::NewUuid());
      started_ = SteadyClock::now();
      sharing_->async()->RecordDisclosure(
          context_.get(), &disclose_, &command_response_,
          [this](grpc::Status s) { OnDone(s); });
    } else if (phase_->mode == Mode::kAppend) {
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
    } else if (phase_->mode == Mode::kDomain &&
               (command_response_.replayed() ||
                command_response_.position() == 0 ||
                command_response_.stream_version() == 0)) {
      error = kBadResponse;
      message = absl::StrCat("unexpected response: ",
                             command_response_.ShortDebugString());
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
  const Identity* const identity_;
  v1::EventStore::Stub* const stub_;
  v1::Sharing::Stub* const sharing_;
  PayloadRandom random_;

  std::unique_ptr<grpc::ClientContext> context_;
  v1::AppendRequest append_;
  v1::AppendResponse append_response_;
  v1::HeadRequest head_;
  v1::HeadResponse head_response_;
  v1::RecordDisclosureRequest disclose_;
  v1::CommandResponse command_response_;
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

using ycr::bench::MachineBusySeconds;

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

// Runs one mode with `clients` over `stubs`, calling as `identity` (null
// under TLS); Mode::kDomain spreads the clients over `subjects`.
Result RunPhase(Mode mode, const Stubs& stubs, const Identity* identity,
                const std::vector<BenchSubject>& subjects,
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
    const size_t channel = i % stubs.store.size();
    const BenchSubject no_subject;
    all.push_back(std::make_unique<Client>(
        &phase, identity, stubs.store[channel].get(),
        stubs.sharing[channel].get(),
        absl::StrCat("ops-bench-", run_id, "-", i),
        subjects.empty() ? no_subject : subjects[i % subjects.size()],
        payload_bytes, seed));
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

// Runs deploy/dev-ca.sh into `dir`: the CA, the server's certificate, the
// standard identities (ops/ycr-admin among them) and the bench school's.
// INTERNAL with the script's output when it fails.
absl::Status MakeCertificates(const std::string& script,
                              const std::string& dir) {
  const std::string log = dir + ".log";
  for (const std::string& args :
       {std::string(),
        absl::StrCat(" client ", SchoolIdentity().organisation, " ",
                     SchoolIdentity().user, " ", SchoolIdentity().role)}) {
    // Both paths are ours (mkdtemp) or the build's; quoted all the same.
    const std::string command = absl::StrCat("bash '", script, "' '", dir, "'",
                                             args, " >>'", log, "' 2>&1");
    if (std::system(command.c_str()) != 0) {
      absl::StatusOr<std::string> output = ycr::ReadFile(log);
      return absl::InternalError(
          absl::StrCat(command, " failed: ", output.ok() ? *output : ""));
    }
  }
  return absl::OkStatus();
}

// The client side of `identity` from a dev-ca.sh directory.
absl::StatusOr<ycr::services::ClientSecurity> ClientTls(
    const std::string& tls_dir, const Identity& identity) {
  ycr::services::ClientSecurity base;
  absl::StatusOr<std::string> ca = ycr::ReadFile(tls_dir + "/ca.crt");
  if (!ca.ok()) return ca.status();
  base.ca = *std::move(ca);
  return ycr::services::IdentityFromDirectory(
      base, tls_dir + "/clients", identity.organisation, identity.user);
}

// `count` connected channels to `target`, each its own connection: plain
// text when `tls` is null, else mutual TLS as `*tls`. UNAVAILABLE when one
// does not connect within 10 s.
absl::StatusOr<Stubs> OpenStubs(const std::string& target,
                                const ycr::services::ClientSecurity* tls,
                                int count) {
  grpc::ChannelArguments args;
  // Without it, channels with equal arguments share one subchannel, hence
  // one connection.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (tls == nullptr) {
    credentials = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = tls->ca;
    options.pem_cert_chain = tls->certificate;
    options.pem_private_key = tls->private_key;
    credentials = grpc::SslCredentials(options);
  }
  Stubs stubs;
  for (int i = 0; i < count; ++i) {
    std::shared_ptr<grpc::Channel> channel =
        grpc::CreateCustomChannel(target, credentials, args);
    if (!channel->WaitForConnected(std::chrono::system_clock::now() +
                                   std::chrono::seconds(10))) {
      return absl::UnavailableError(
          absl::StrCat("cannot connect to ", target,
                       tls != nullptr ? " over mutual TLS" : ""));
    }
    stubs.store.push_back(v1::EventStore::NewStub(channel));
    stubs.sharing.push_back(v1::Sharing::NewStub(channel));
    stubs.channels.push_back(std::move(channel));
  }
  return stubs;
}

// Makes `count` young carers whose record the bench school holds, each with
// a concern it raised, through the domain services (as the school, over
// `channel`). Error naming the failed call.
absl::StatusOr<std::vector<BenchSubject>> CreateSubjects(
    const std::shared_ptr<grpc::Channel>& channel, const Identity* identity,
    const std::string& run_id, int count) {
  auto subjects = v1::Subjects::NewStub(channel);
  auto safeguarding = v1::Safeguarding::NewStub(channel);
  auto context = [&](grpc::ClientContext* c) { SetCaller(c, identity); };

  // Ids unique to this run, so that a --target server can be reused.
  const std::string prefix = run_id.substr(0, 8);
  std::vector<BenchSubject> made;
  for (int i = 0; i < count; ++i) {
    BenchSubject subject{absl::StrCat("bench-", prefix, "-s-", i),
                         absl::StrCat("bench-", prefix, "-g-", i)};
    v1::PutSubjectRecordRequest put;
    put.set_request_id(ycr::NewUuid());
    v1::SubjectRecord* record = put.mutable_record();
    record->set_subject_id(subject.subject_id);
    record->set_given_name(absl::StrCat("Pupil", i));
    record->set_family_name("Bench");
    record->set_date_of_birth("2012-03-04");
    v1::RelatedPerson* parent = record->add_related();
    parent->set_person_ref(absl::StrCat("parent-", i));
    parent->set_name("Parent Bench");
    parent->set_relationship("mother");
    parent->set_parental_responsibility(true);
    parent->set_cared_for(true);
    v1::CommandResponse response;
    grpc::ClientContext put_context;
    context(&put_context);
    grpc::Status status = subjects->PutRecord(&put_context, put, &response);
    if (!status.ok()) {
      return absl::InternalError(
          absl::StrCat("Subjects.PutRecord ", subject.subject_id, ": ",
                       ycr::services::StatusCodeName(status.error_code()), " ",
                       status.error_message()));
    }
    v1::SafeguardingCommand raise;
    raise.set_request_id(ycr::NewUuid());
    raise.set_concern_id(subject.concern_id);
    raise.mutable_raise()->set_concern_id(subject.concern_id);
    raise.mutable_raise()->set_subject_id(subject.subject_id);
    raise.mutable_personal()->set_facts(
        "Arrived tired and hungry three days running; said they were up "
        "caring at night.");
    grpc::ClientContext raise_context;
    context(&raise_context);
    status = safeguarding->Record(&raise_context, raise, &response);
    if (!status.ok()) {
      return absl::InternalError(
          absl::StrCat("Safeguarding.Record (raise) ", subject.concern_id, ": ",
                       ycr::services::StatusCodeName(status.error_code()), " ",
                       status.error_message()));
    }
    made.push_back(std::move(subject));
  }
  return made;
}

}  // namespace

int main(int argc, char** argv) {
  ycr::InitCommandLine(
      argc, argv,
      "Measures durable single-event appends over gRPC: --clients closed-loop "
      "callers, each with one call outstanding, appending one event per call "
      "to its own stream.\n"
      "Usage: ycr-bench [--target=HOST:PORT] "
      "[--mode=both|append|noop|domain|all|tree] [--tls] [--clients=64] "
      "[--seconds=10] [flags]\n"
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
  const int subject_count = absl::GetFlag(FLAGS_subjects);
  const bool tls = absl::GetFlag(FLAGS_tls);
  std::string tls_dir = absl::GetFlag(FLAGS_tls_dir);

  if (mode_flag == "tree") {
    return ycr::bench::RunTreeBench({absl::GetFlag(FLAGS_tree_events),
                                     payload_bytes,
                                     absl::GetFlag(FLAGS_tree_batch), json});
  }
  std::vector<Mode> modes;
  if (mode_flag == "both") {
    modes = {Mode::kNoop, Mode::kAppend};
  } else if (mode_flag == "append") {
    modes = {Mode::kAppend};
  } else if (mode_flag == "noop") {
    modes = {Mode::kNoop};
  } else if (mode_flag == "domain") {
    modes = {Mode::kDomain};
  } else if (mode_flag == "all") {
    modes = {Mode::kNoop, Mode::kAppend, Mode::kDomain};
  } else {
    std::cerr << "ycr-bench: --mode must be both, append, noop, domain, all "
                 "or tree\n";
    return 2;
  }
  if (clients < 1 || channels < 1 || !(seconds > 0) || warmup_seconds < 0 ||
      payload_bytes < 0 || subject_count < 1) {
    std::cerr << "ycr-bench: need --clients >= 1, --channels >= 1, "
                 "--seconds > 0, --warmup_seconds >= 0, --payload_bytes >= 0, "
                 "--subjects >= 1\n";
    return 2;
  }
  if (tls && !target_flag.empty() && tls_dir.empty()) {
    std::cerr << "ycr-bench: --tls with --target needs --tls_dir (the "
                 "certificates the server trusts)\n";
    return 2;
  }
  const bool domain =
      std::find(modes.begin(), modes.end(), Mode::kDomain) != modes.end();
  const bool admin = std::find_if(modes.begin(), modes.end(), [](Mode m) {
                       return m != Mode::kDomain;
                     }) != modes.end();

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
    if (tls) {
      // Mutual TLS, as deployed: identities from client certificates.
      if (tls_dir.empty()) {
        tls_dir = data_dir.path() + "/tls";
        if (absl::Status made =
                MakeCertificates(absl::GetFlag(FLAGS_dev_ca_script), tls_dir);
            !made.ok()) {
          std::cerr << "ycr-bench: cannot make certificates: " << made << "\n";
          return 2;
        }
      }
      for (auto [field, file] :
           {std::pair{&options.security.certificate_chain, "/server.crt"},
            std::pair{&options.security.private_key, "/server.key"},
            std::pair{&options.security.client_ca, "/ca.crt"}}) {
        absl::StatusOr<std::string> pem = ycr::ReadFile(tls_dir + file);
        if (!pem.ok()) {
          std::cerr << "ycr-bench: " << pem.status() << "\n";
          return 2;
        }
        *field = *std::move(pem);
      }
    } else {
      // Plain text on loopback, identities in metadata: the figures are
      // the log's and the RPC's, not TLS's.
      options.security.insecure = true;
    }
    options.log.path = data_dir.path() + "/data";
    options.log.sync = sync;
    if (const int threads = absl::GetFlag(FLAGS_command_threads); threads > 0) {
      options.command_threads = threads;
    }
    const int command_threads = options.command_threads;
    auto started = ycr::services::Server::Start(std::move(options));
    if (!started.ok()) {
      std::cerr << "ycr-bench: cannot start the server: " << started.status()
                << "\n";
      return 2;
    }
    server = *std::move(started);
    target = absl::StrCat("127.0.0.1:", server->port());
    server_description =
        absl::StrCat("in-process at ", target, ", data ", data_dir.path(),
                     ", WAL sync ", sync ? "ON (durable)" : "OFF (not durable)",
                     tls ? ", mutual TLS" : ", plain text", ", ",
                     command_threads, " command threads");
  } else {
    server_description = absl::StrCat(
        "target ", target, " (WAL sync is the server's own --sync setting)");
  }

  // One set of channels per identity: under TLS each presents its own
  // certificate; in plain text the identity travels as metadata.
  auto open = [&](const Identity& identity) -> absl::StatusOr<Stubs> {
    if (!tls) return OpenStubs(target, nullptr, channels);
    absl::StatusOr<ycr::services::ClientSecurity> security =
        ClientTls(tls_dir, identity);
    if (!security.ok()) return security.status();
    return OpenStubs(target, &*security, channels);
  };
  Stubs admin_stubs, school_stubs;
  for (auto [wanted, identity, stubs] :
       {std::tuple{admin, &AdminIdentity(), &admin_stubs},
        std::tuple{domain, &SchoolIdentity(), &school_stubs}}) {
    if (!wanted) continue;
    absl::StatusOr<Stubs> opened = open(*identity);
    if (!opened.ok()) {
      std::cerr << "ycr-bench: " << opened.status() << "\n";
      return 2;
    }
    *stubs = *std::move(opened);
  }

  const std::string run_id = ycr::NewUuid();
  std::vector<BenchSubject> subjects;
  if (domain) {
    absl::StatusOr<std::vector<BenchSubject>> made = CreateSubjects(
        school_stubs.channels.front(), tls ? nullptr : &SchoolIdentity(),
        run_id, subject_count);
    if (!made.ok()) {
      std::cerr << "ycr-bench: cannot make the young carers for "
                   "--mode=domain: "
                << made.status() << "\n";
      return 2;
    }
    subjects = *std::move(made);
  }
  const long online_cores = sysconf(_SC_NPROCESSORS_ONLN);
  std::cout << "server:  " << server_description << "\n"
            << "machine: " << online_cores << " cores online, "
            << AvailableCores() << " available to this process"
            << (server != nullptr ? " (shared by client and server)" : "")
            << "; gRPC " << grpc::Version() << "\n"
            << "load:    " << clients << " closed-loop clients over "
            << channels << " channel(s), " << payload_bytes
            << "-byte payloads, " << warmup_seconds << " s warm-up + "
            << seconds << " s measured per mode, run " << run_id << "\n";
  if (domain) {
    std::cout << "domain:  Sharing.RecordDisclosure as "
              << SchoolIdentity().organisation << "/" << SchoolIdentity().user
              << " (school), safeguarding basis, "
              << "sealed personal part, about " << subjects.size()
              << " young carers it holds\n";
  }
  std::cout << std::endl;

  std::vector<Result> results;
  for (Mode mode : modes) {
    if (g_interrupted.load()) break;
    const bool as_school = mode == Mode::kDomain;
    const Identity* identity = tls         ? nullptr
                               : as_school ? &SchoolIdentity()
                                           : &AdminIdentity();
    results.push_back(RunPhase(mode, as_school ? school_stubs : admin_stubs,
                               identity, subjects, run_id, clients, seconds,
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
  std::optional<double> ratio, domain_ratio;
  const Result* noop = nullptr;
  const Result* append = nullptr;
  const Result* recorded = nullptr;
  for (const Result& r : results) {
    (r.mode == Mode::kNoop     ? noop
     : r.mode == Mode::kAppend ? append
                               : recorded) = &r;
  }
  if (noop != nullptr && append != nullptr && noop->calls_per_second > 0) {
    ratio = append->calls_per_second / noop->calls_per_second;
    std::cout << absl::StrFormat(
        "%s/noop throughput ratio: %.2f\n",
        sync || server == nullptr ? "durable" : "append(no sync)", *ratio);
  }
  if (noop != nullptr && recorded != nullptr && noop->calls_per_second > 0) {
    domain_ratio = recorded->calls_per_second / noop->calls_per_second;
    std::cout << absl::StrFormat("domain/noop throughput ratio: %.2f\n",
                                 *domain_ratio);
  }
  if (append != nullptr && recorded != nullptr &&
      append->calls_per_second > 0) {
    std::cout << absl::StrFormat(
        "domain/append throughput ratio: %.2f\n",
        recorded->calls_per_second / append->calls_per_second);
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
        ",\"tls\":", tls ? "true" : "false", ",\"cores\":", online_cores,
        ",\"clients\":", clients, ",\"channels\":", channels,
        ",\"payload_bytes\":", payload_bytes,
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
                    ",\"domain_ratio\":",
                    domain_ratio.has_value()
                        ? absl::StrFormat("%.4f", *domain_ratio)
                        : std::string("null"),
                    "}");
    std::cout << line << "\n";
  }
  std::cout << std::flush;

  admin_stubs = Stubs();
  school_stubs = Stubs();
  if (server != nullptr) server->Shutdown(absl::Seconds(5));
  server.reset();
  if (g_interrupted.load()) return 130;
  return total_errors > 0 ? 1 : 0;
}
