// Crash safety of the real server binary: concurrent appends and domain
// commands, kill -9 at a random moment, restart, and check that
//   - every acknowledged append is there, at the positions it was given, with
//     the hash a reader saw before the crash;
//   - every unacknowledged append is wholly there or wholly absent;
//   - every acknowledged subject record is readable (record and event were
//     one write);
//   - the hash chain verifies from position 1;
//   - the Merkle tree recovered with the log agrees with it: opened as the
//     server would open it (recovery), the root over the stored hashes
//     equals the root computed from the leaves alone, for the head;
// and, after the last kill, that each projection equals a rebuild of it.
//
// YCR_CRASH_KILLS (default 10) sets how many kills; YCR_CRASH_SEED the
// random seed (printed, so a failure can be replayed). tests/crash/crash.sh
// runs a long version.

#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/ids.h"
#include "common/tlog.h"
#include "gtest/gtest.h"
#include "storage/rocksdb_event_log.h"
#include "tests/integration/server_process.h"
#include "tests/integration/test_server.h"
#include "tests/unit/tlog_reference.h"
#include "ycr/v1/subject_service.grpc.pb.h"

namespace ycr::testing {
namespace {

constexpr int kClients = 4;

uint64_t EnvNumber(const char* name, uint64_t fallback) {
  const char* value = std::getenv(name);
  uint64_t n = 0;
  if (value != nullptr && absl::SimpleAtoi(value, &n)) return n;
  return fallback;
}

// One attempted append or command, as its client saw it.
struct Attempt {
  std::vector<std::string> event_ids;  // Raw appends.
  std::string subject_id;              // Subject record puts.
  bool acknowledged = false;
  uint64_t first_position = 0;
  uint64_t last_position = 0;
};

// What clients learned before a crash: attempts, and hashes read back.
class Ledger {
 public:
  void Add(Attempt attempt) {
    absl::MutexLock lock(&mu_);
    if (attempt.acknowledged) ++acknowledged_;
    attempts_.push_back(std::move(attempt));
  }
  void SawHash(uint64_t position, const std::string& hash) {
    absl::MutexLock lock(&mu_);
    hashes_[position] = hash;
  }
  // Blocks until `n` attempts were acknowledged or `stop` is set.
  void AwaitAcknowledged(uint64_t n, const std::atomic<bool>& stop) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return acknowledged_ >= n || stop.load();
    };
    mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(30));
  }
  uint64_t acknowledged() const {
    absl::MutexLock lock(&mu_);
    return acknowledged_;
  }
  std::vector<Attempt> attempts() const {
    absl::MutexLock lock(&mu_);
    return attempts_;
  }
  std::map<uint64_t, std::string> hashes() const {
    absl::MutexLock lock(&mu_);
    return hashes_;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<Attempt> attempts_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, std::string> hashes_ ABSL_GUARDED_BY(mu_);
  uint64_t acknowledged_ ABSL_GUARDED_BY(mu_) = 0;
};

void SetDeadline(grpc::ClientContext* context) {
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(10));
}

// Appends and record puts until the server goes away.
void Client(const std::string& address, int id, uint64_t seed, Ledger* ledger) {
  auto channel =
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  auto log = v1::EventStore::NewStub(channel);
  auto subjects = v1::Subjects::NewStub(channel);
  std::mt19937_64 random(seed);
  for (int i = 0;; ++i) {
    Attempt attempt;
    grpc::ClientContext context;
    const bool raw = random() % 10 < 7;
    // Raw appends are an operator's; records a school's (access_policy.h).
    if (raw) {
      AsCaller(&context, "ops", "writer", "admin");
    } else {
      AsCaller(&context, "school-crash", "writer", "school");
    }
    SetDeadline(&context);
    grpc::Status status;
    if (raw) {
      v1::AppendRequest request;
      request.set_stream(absl::StrCat("ops-crash-", id));
      request.mutable_expected()->set_kind(v1::ExpectedVersion::ANY);
      const int n = 1 + static_cast<int>(random() % 5);
      for (int e = 0; e < n; ++e) {
        *request.add_events() =
            NoteEvent(absl::StrCat("c", id, "-", i, "-", e));
        attempt.event_ids.push_back(request.events(e).event_id());
      }
      v1::AppendResponse response;
      status = log->Append(&context, request, &response);
      attempt.first_position = response.first_position();
      attempt.last_position = response.last_position();
    } else {
      v1::PutSubjectRecordRequest request;
      request.set_request_id(NewUuid());
      attempt.subject_id = absl::StrCat("crash-s-", NewUuid());
      v1::SubjectRecord* record = request.mutable_record();
      record->set_subject_id(attempt.subject_id);
      record->set_given_name("Crash");
      record->set_family_name("Test");
      record->set_date_of_birth("2012-03-04");
      v1::CommandResponse response;
      status = subjects->PutRecord(&context, request, &response);
      attempt.first_position = attempt.last_position = response.position();
    }
    attempt.acknowledged = status.ok();
    const bool gone =
        status.error_code() == grpc::StatusCode::UNAVAILABLE ||
        status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ||
        status.error_code() == grpc::StatusCode::CANCELLED;
    EXPECT_TRUE(status.ok() || gone) << status.error_message();
    ledger->Add(std::move(attempt));
    if (!status.ok()) return;
  }
}

// Reads the log from the start, recording each hash, until the server goes.
void Reader(const std::string& address, Ledger* ledger) {
  auto log = v1::EventStore::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  uint64_t from = 1;
  while (true) {
    grpc::ClientContext context;
    AsCaller(&context, "crash-auditor", "reader", "auditor");
    SetDeadline(&context);
    v1::ReadAllRequest request;
    request.set_from_position(from);
    request.set_limit(500);
    v1::ReadAllResponse response;
    if (!log->ReadAll(&context, request, &response).ok()) return;
    for (const v1::RecordedEvent& e : response.events()) {
      ledger->SawHash(e.position(), e.hash());
    }
    if (response.next_position() > from) from = response.next_position();
  }
}

// The whole log as it is now.
std::vector<v1::RecordedEvent> ReadEverything(const std::string& address) {
  auto log = v1::EventStore::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  std::vector<v1::RecordedEvent> events;
  uint64_t from = 1;
  while (true) {
    grpc::ClientContext context;
    AsCaller(&context, "crash-auditor", "reader", "auditor");
    SetDeadline(&context);
    v1::ReadAllRequest request;
    request.set_from_position(from);
    request.set_limit(1000);
    v1::ReadAllResponse response;
    grpc::Status status = log->ReadAll(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    if (!status.ok()) break;
    for (const v1::RecordedEvent& e : response.events()) events.push_back(e);
    if (response.events().empty() ||
        response.next_position() > response.head_position()) {
      break;
    }
    from = response.next_position();
  }
  return events;
}

// Recovers the killed server's store in this process and checks that its
// Merkle tree and its log agree (they are one atomic write): the root over
// the stored hashes (tlog::TreeHash) equals RFC 6962's root recomputed from
// every leaf, and the whole chain and every stored hash verify.
void CheckTreeAfterRecovery(const std::string& data, uint64_t kill) {
  SCOPED_TRACE(absl::StrCat("after kill ", kill));
  storage::RocksDbEventLogOptions options;
  options.path = data;
  absl::StatusOr<std::unique_ptr<storage::RocksDbEventLog>> log =
      storage::RocksDbEventLog::Open(options);
  ASSERT_TRUE(log.ok()) << log.status();
  const uint64_t head = (*log)->GetHead().position;
  std::vector<tlog::Hash> leaves;
  for (uint64_t p = 1; p <= head; ++p) {
    absl::StatusOr<std::string> leaf = (*log)->ReadLeaf(p);
    ASSERT_TRUE(leaf.ok()) << leaf.status();
    leaves.push_back(tlog::RecordHash(*leaf));
  }
  absl::StatusOr<tlog::Hash> root = tlog::TreeHash(
      static_cast<int64_t>(head), storage::TreeHashReader(**log));
  ASSERT_TRUE(root.ok()) << root.status();
  EXPECT_EQ(tlog::HashHex(*root),
            tlog::HashHex(test::ReferenceTreeHash(leaves, 0, leaves.size())))
      << "tree of " << head << " records";
  absl::Status verified = (*log)->VerifyChain(1, head);
  EXPECT_TRUE(verified.ok()) << verified;
  (*log)->Close();
}

// Checks the restarted server against what clients saw before the kill.
void CheckAfterRestart(const std::string& address, const Ledger& ledger,
                       int kill) {
  SCOPED_TRACE(absl::StrCat("after kill ", kill));
  const std::vector<v1::RecordedEvent> events = ReadEverything(address);
  std::map<std::string, uint64_t> position_of;
  for (size_t i = 0; i < events.size(); ++i) {
    // Contiguous positions and a linked chain (each stored hash is checked
    // against its bytes when the server opens its tail, and in full below).
    ASSERT_EQ(events[i].position(), i + 1);
    if (i > 0) {
      ASSERT_EQ(events[i].prev_hash(), events[i - 1].hash());
    }
    position_of[events[i].event_id()] = events[i].position();
  }
  for (const auto& [position, hash] : ledger.hashes()) {
    ASSERT_LE(position, events.size()) << "position " << position << " lost";
    EXPECT_EQ(events[position - 1].hash(), hash) << "position " << position;
  }
  auto subjects = v1::Subjects::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  for (const Attempt& a : ledger.attempts()) {
    if (!a.event_ids.empty()) {
      size_t present = 0;
      for (size_t e = 0; e < a.event_ids.size(); ++e) {
        auto it = position_of.find(a.event_ids[e]);
        if (it == position_of.end()) continue;
        ++present;
        if (a.acknowledged) {
          EXPECT_EQ(it->second, a.first_position + e);
        }
      }
      if (a.acknowledged) {
        EXPECT_EQ(present, a.event_ids.size()) << "acknowledged append lost";
      } else {
        EXPECT_TRUE(present == 0 || present == a.event_ids.size())
            << "half an append: " << present << " of " << a.event_ids.size();
      }
    } else if (a.acknowledged) {
      ASSERT_LE(a.first_position, events.size());
      const v1::RecordedEvent& e = events[a.first_position - 1];
      EXPECT_EQ(e.payload().subject_record_changed().subject_id(),
                a.subject_id);
      grpc::ClientContext context;
      AsCaller(&context, "school-crash", "writer", "school");
      SetDeadline(&context);
      v1::GetSubjectRecordRequest get;
      get.set_subject_id(a.subject_id);
      v1::SubjectRecord record;
      grpc::Status status = subjects->GetRecord(&context, get, &record);
      EXPECT_TRUE(status.ok())
          << a.subject_id << ": " << status.error_message();
    }
  }
}

TEST(CrashTest, KillNineLosesNothingAcknowledgedAndHalvesNothing) {
  const uint64_t kills = EnvNumber("YCR_CRASH_KILLS", 10);
  const uint64_t seed = EnvNumber("YCR_CRASH_SEED", std::random_device()());
  std::cout << "crash test: " << kills << " kills, YCR_CRASH_SEED=" << seed
            << "\n";
  std::mt19937_64 random(seed);
  TempDir dir;
  const std::string data = dir.path() + "/data";
  uint64_t acknowledged = 0, attempts = 0;
  const absl::Time start = absl::Now();
  for (uint64_t k = 1; k <= kills; ++k) {
    Ledger ledger;
    {
      ServerProcess server(YCR_SERVER_BINARY, data);
      ASSERT_GT(server.port(), 0);
      std::atomic<bool> stop{false};
      std::vector<std::thread> threads;
      for (int c = 0; c < kClients; ++c) {
        threads.emplace_back(Client, server.address(), c, random(), &ledger);
      }
      threads.emplace_back(Reader, server.address(), &ledger);
      // The kill lands after a random number of acknowledgements, with
      // other calls in flight.
      const uint64_t target = 5 + random() % 120;
      ledger.AwaitAcknowledged(target, stop);
      // A kill before anything was acknowledged would test nothing.
      EXPECT_GE(ledger.acknowledged(), target) << "the server acknowledged "
                                                  "too little before the kill";
      const int status = server.Stop(SIGKILL);
      EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
      stop = true;
      for (std::thread& t : threads) t.join();
    }
    acknowledged += ledger.acknowledged();
    attempts += ledger.attempts().size();
    ASSERT_NO_FATAL_FAILURE(CheckTreeAfterRecovery(data, k));
    ServerProcess restarted(YCR_SERVER_BINARY, data);
    ASSERT_GT(restarted.port(), 0) << "no restart after kill " << k;
    ASSERT_NO_FATAL_FAILURE(CheckAfterRestart(restarted.address(), ledger, k));
    if (HasFailure()) break;
  }
  std::cout << "crash test: " << kills << " kills, " << acknowledged
            << " acknowledged of " << attempts << " attempts, "
            << absl::FormatDuration(
                   absl::Trunc(absl::Now() - start, absl::Milliseconds(1)))
            << "\n";
  RecordProperty("kills", static_cast<int>(kills));
  RecordProperty("acknowledged", static_cast<int>(acknowledged));

  // The whole chain and tree verify, and every projection equals a
  // rebuild.
  TestServer server(data);
  storage::EventLog& log = server.server().log();
  const uint64_t head = log.GetHead().position;
  ASSERT_TRUE(log.VerifyChain(1, head).ok());
  projections::ProjectionHost& host = server.server().projections();
  for (const projections::ProjectionStatus& status : host.Status()) {
    SCOPED_TRACE(status.name);
    auto live = host.Await(status.name, head, absl::Now() + absl::Seconds(60));
    ASSERT_TRUE(live.ok()) << live.status();
    std::map<std::string, std::string> before, after;
    auto dump = [&](uint32_t generation,
                    std::map<std::string, std::string>* out) {
      ASSERT_TRUE(host.store()
                      .Scan(status.name, generation, "", "",
                            [&](absl::string_view k, absl::string_view v) {
                              (*out)[std::string(k)] = std::string(v);
                              return true;
                            })
                      .ok());
    };
    dump((*live)->generation(), &before);
    ASSERT_TRUE(host.Rebuild(status.name).ok());
    ASSERT_TRUE(
        host.AwaitRebuilt(status.name, absl::Now() + absl::Seconds(120)).ok());
    auto rebuilt =
        host.Await(status.name, head, absl::Now() + absl::Seconds(60));
    ASSERT_TRUE(rebuilt.ok()) << rebuilt.status();
    dump((*rebuilt)->generation(), &after);
    EXPECT_TRUE(before == after) << "live and rebuilt state differ";
  }
}

}  // namespace
}  // namespace ycr::testing
