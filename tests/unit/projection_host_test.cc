// Tests of the projection store (RocksDbProjectionStore), the runner and the
// host, over a real RocksDbEventLog in a temporary directory.

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/log.h"
#include "gtest/gtest.h"
#include "projections/host.h"
#include "projections/projection.h"
#include "projections/runner.h"
#include "storage/event_log.h"
#include "storage/projection_store.h"
#include "storage/rocksdb_event_log.h"
#include "tests/unit/fault_fs.h"
#include "tests/unit/test_util.h"

namespace ycr::projections {
namespace {

using ::ycr::storage::ProjectionBatch;
using ::ycr::storage::ProjectionCheckpoint;
using ::ycr::storage::ProjectionStore;
using ::ycr::test::OneEvent;
using ::ycr::test::OpaqueEvent;
using ::ycr::test::Request;
using ::ycr::test::StatusIs;
using ::ycr::test::TempDir;

// A generous bound for waits that should finish quickly; only reached when a
// test fails.
constexpr absl::Duration kFailureTimeout = absl::Seconds(10);

constexpr char kCounts[] = "counts";

using State = std::vector<std::pair<std::string, std::string>>;

// Blocks Apply while closed (so a rebuild can be held mid-way).
struct Gate {
  absl::Mutex mu;
  bool closed ABSL_GUARDED_BY(mu) = false;
  int blocked ABSL_GUARDED_BY(mu) = 0;  // Apply calls waiting now
  void Close() {
    absl::MutexLock lock(&mu);
    closed = true;
  }
  void Open() {
    absl::MutexLock lock(&mu);
    closed = false;
  }
  void Pass() {
    absl::MutexLock lock(&mu);
    ++blocked;
    mu.Await(absl::Condition(
        +[](bool* c) { return !*c; }, &closed));
    --blocked;
  }
  // Until an Apply waits at the closed gate.
  bool AwaitBlocked() {
    absl::MutexLock lock(&mu);
    return mu.AwaitWithTimeout(absl::Condition(
                                   +[](int* n) { return *n > 0; }, &blocked),
                               kFailureTimeout);
  }
};

// Counts events per stream ("s/<stream>") and in total ("total"), as decimal
// strings, adding `step` per event (so version 2 can write differently).
class CountingProjection : public Projection {
 public:
  explicit CountingProjection(uint32_t code_version = 1, int step = 1,
                              Gate* gate = nullptr)
      : code_version_(code_version), step_(step), gate_(gate) {}

  const std::string& name() const override { return name_; }
  uint32_t code_version() const override { return code_version_; }

  absl::Status Apply(const v1::RecordedEvent& event,
                     ProjectionBatch& batch) override {
    if (gate_ != nullptr) gate_->Pass();
    for (const std::string& key :
         {absl::StrCat("s/", event.stream()), std::string("total")}) {
      absl::StatusOr<std::optional<std::string>> old = batch.Get(key);
      if (!old.ok()) return old.status();
      int64_t count = 0;
      if (old->has_value() && !absl::SimpleAtoi(**old, &count)) {
        return absl::DataLossError(absl::StrCat("bad count at ", key));
      }
      batch.Put(key, absl::StrCat(count + step_));
    }
    return absl::OkStatus();
  }

 private:
  const std::string name_ = kCounts;
  const uint32_t code_version_;
  const int step_;
  Gate* const gate_;
};

// Fails Apply at one position (and every later one), otherwise forwards.
class FailAtProjection : public Projection {
 public:
  FailAtProjection(std::unique_ptr<Projection> inner, uint64_t fail_at)
      : inner_(std::move(inner)), fail_at_(fail_at) {}
  const std::string& name() const override { return inner_->name(); }
  uint32_t code_version() const override { return inner_->code_version(); }
  absl::Status Apply(const v1::RecordedEvent& event,
                     ProjectionBatch& batch) override {
    if (event.position() >= fail_at_) {
      return absl::InternalError("injected apply failure");
    }
    return inner_->Apply(event, batch);
  }

 private:
  const std::unique_ptr<Projection> inner_;
  const uint64_t fail_at_;
};

// Forwards to a real store; can fail Commit (without writing) from the Nth
// call on, and fail Activate a number of times.
class FaultyStore : public ProjectionStore {
 public:
  explicit FaultyStore(ProjectionStore* inner) : inner_(inner) {}

  // Commit calls numbered from 1; calls >= n fail (0: never). Relative to
  // the calls made so far when `relative`.
  void FailCommitsFrom(uint64_t n, bool relative = false) {
    absl::MutexLock lock(&mu_);
    fail_commit_from_ = relative ? commits_ + n : n;
  }
  // What failing commits return. Default: DATA_LOSS, an error that stops
  // the runner (UNAVAILABLE or RESOURCE_EXHAUSTED are retried).
  void SetCommitError(absl::Status error) {
    absl::MutexLock lock(&mu_);
    commit_error_ = std::move(error);
  }
  void FailActivates(int times) {
    absl::MutexLock lock(&mu_);
    activate_failures_left_ = times;
  }
  // Wait until `n` Commit calls have failed (resp. Activates).
  bool AwaitFailedCommits(int n) {
    absl::MutexLock lock(&mu_);
    return AwaitCounter(&failed_commits_, n);
  }
  uint64_t commits() {
    absl::MutexLock lock(&mu_);
    return commits_;
  }
  bool AwaitFailedActivates(int n) {
    absl::MutexLock lock(&mu_);
    return AwaitCounter(&failed_activates_, n);
  }

  absl::StatusOr<std::optional<uint32_t>> ActiveGeneration(
      absl::string_view projection) override {
    return inner_->ActiveGeneration(projection);
  }
  absl::StatusOr<std::optional<ProjectionCheckpoint>> ReadCheckpoint(
      absl::string_view projection, uint32_t generation) override {
    return inner_->ReadCheckpoint(projection, generation);
  }
  std::unique_ptr<ProjectionBatch> NewBatch(absl::string_view projection,
                                            uint32_t generation) override {
    return inner_->NewBatch(projection, generation);
  }
  std::unique_ptr<ProjectionBatch> NewBuildBatch(absl::string_view projection,
                                                 uint32_t generation,
                                                 size_t cache_bytes) override {
    return inner_->NewBuildBatch(projection, generation, cache_bytes);
  }
  absl::Status Commit(ProjectionBatch& batch,
                      const ProjectionCheckpoint& checkpoint) override {
    {
      absl::MutexLock lock(&mu_);
      ++commits_;
      if (fail_commit_from_ != 0 && commits_ >= fail_commit_from_) {
        ++failed_commits_;
        return commit_error_;
      }
    }
    return inner_->Commit(batch, checkpoint);
  }
  absl::Status CompactGeneration(absl::string_view projection,
                                 uint32_t generation) override {
    {
      absl::MutexLock lock(&mu_);
      ++compactions_;
    }
    return inner_->CompactGeneration(projection, generation);
  }
  uint64_t compactions() {
    absl::MutexLock lock(&mu_);
    return compactions_;
  }
  absl::Status Activate(absl::string_view projection,
                        uint32_t generation) override {
    {
      absl::MutexLock lock(&mu_);
      if (activate_failures_left_ > 0) {
        --activate_failures_left_;
        ++failed_activates_;
        return absl::UnavailableError("injected activate failure");
      }
    }
    return inner_->Activate(projection, generation);
  }
  absl::Status DropGeneration(absl::string_view projection,
                              uint32_t generation) override {
    return inner_->DropGeneration(projection, generation);
  }
  absl::Status DropOtherGenerations(absl::string_view projection,
                                    uint32_t keep) override {
    return inner_->DropOtherGenerations(projection, keep);
  }
  absl::StatusOr<std::optional<std::string>> Get(
      absl::string_view projection, uint32_t generation,
      absl::string_view key) override {
    return inner_->Get(projection, generation, key);
  }
  absl::Status Scan(
      absl::string_view projection, uint32_t generation, absl::string_view from,
      absl::string_view to,
      absl::FunctionRef<bool(absl::string_view key, absl::string_view value)>
          visit) override {
    return inner_->Scan(projection, generation, from, to, visit);
  }

 private:
  bool AwaitCounter(int* counter, int n) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    struct Arg {
      int* counter;
      int n;
    } arg{counter, n};
    return mu_.AwaitWithTimeout(
        absl::Condition(
            +[](Arg* a) { return *a->counter >= a->n; }, &arg),
        kFailureTimeout);
  }

  ProjectionStore* const inner_;
  absl::Mutex mu_;
  uint64_t commits_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t compactions_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t fail_commit_from_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status commit_error_ ABSL_GUARDED_BY(mu_) =
      absl::DataLossError("injected commit failure");
  int failed_commits_ ABSL_GUARDED_BY(mu_) = 0;
  int activate_failures_left_ ABSL_GUARDED_BY(mu_) = 0;
  int failed_activates_ ABSL_GUARDED_BY(mu_) = 0;
};

// Every committed key of one generation, in key order.
State ScanAll(ProjectionStore& store, absl::string_view projection,
              uint32_t generation) {
  State out;
  absl::Status s =
      store.Scan(projection, generation, "", "",
                 [&](absl::string_view k, absl::string_view v) {
                   out.emplace_back(std::string(k), std::string(v));
                   return true;
                 });
  EXPECT_TRUE(s.ok()) << s;
  return out;
}

// The state CountingProjection must have after the events tallied in
// `per_stream`.
State ExpectedCounts(const std::map<std::string, int64_t>& per_stream,
                     int step = 1) {
  std::map<std::string, std::string> keys;
  int64_t total = 0;
  for (const auto& [stream, n] : per_stream) {
    if (n == 0) continue;
    keys[absl::StrCat("s/", stream)] = absl::StrCat(n * step);
    total += n;
  }
  if (total > 0) keys["total"] = absl::StrCat(total * step);
  return State(keys.begin(), keys.end());
}

RunnerOptions SmallBatches() {
  RunnerOptions options;
  options.batch_events = 100;
  return options;
}

class ProjectionHostTest : public ::testing::Test {
 protected:
  void SetUp() override {
    storage::RocksDbEventLogOptions options;
    options.path = dir_.path();
    options.clock = &clock_;
    options.sync = false;
    options.block_cache_bytes = 1 << 20;
    absl::StatusOr<std::unique_ptr<storage::RocksDbEventLog>> log =
        storage::RocksDbEventLog::Open(std::move(options));
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = *std::move(log);
    store_ = log_->NewProjectionStore();
  }

  // Appends `n` events to `stream` (in requests of at most 100) and tallies
  // them. Returns the last position.
  uint64_t AppendTo(const std::string& stream, int n) {
    uint64_t last = 0;
    while (n > 0) {
      const int k = std::min(n, 100);
      std::vector<v1::ProposedEvent> events;
      for (int i = 0; i < k; ++i) events.push_back(OpaqueEvent("d"));
      absl::StatusOr<storage::AppendResult> r = log_->Append(
          Request(stream, storage::ExpectedVersion::Any(), std::move(events)));
      EXPECT_TRUE(r.ok()) << r.status();
      if (!r.ok()) return 0;
      last = r->last_position;
      n -= k;
    }
    return last;
  }

  // Appends `total` events spread over `streams` streams; returns the head.
  uint64_t AppendSpread(int total, int streams,
                        std::map<std::string, int64_t>* tally,
                        const std::string& prefix = "stream-") {
    uint64_t last = 0;
    for (int i = 0; total > 0; ++i) {
      const int k = std::min(total, 100);
      const std::string stream = absl::StrCat(prefix, i % streams);
      last = AppendTo(stream, k);
      (*tally)[stream] += k;
      total -= k;
    }
    return last;
  }

  uint64_t Head() { return log_->GetHead().position; }

  // The checkpoint of one generation of "counts"; {0, 0} (and a failure)
  // when it has none.
  ProjectionCheckpoint CheckpointOf(uint32_t generation) {
    absl::StatusOr<std::optional<ProjectionCheckpoint>> cp =
        store_->ReadCheckpoint(kCounts, generation);
    EXPECT_TRUE(cp.ok() && cp->has_value())
        << "generation " << generation << ": "
        << (cp.ok() ? "no checkpoint" : cp.status().ToString());
    return cp.ok() && cp->has_value() ? **cp : ProjectionCheckpoint{};
  }

  static absl::Time Deadline() { return absl::Now() + kFailureTimeout; }

  static ProjectionStatus StatusOf(ProjectionHost& host,
                                   const std::string& name) {
    for (ProjectionStatus& s : host.Status()) {
      if (s.name == name) return s;
    }
    ADD_FAILURE() << "no status for " << name;
    return {};
  }

  // Loops on Await with short deadlines until it returns `generation`
  // (bounded by kFailureTimeout). Null on failure.
  static std::shared_ptr<const GenerationLease> AwaitGeneration(
      ProjectionHost& host, const std::string& name, uint64_t min_position,
      uint32_t generation) {
    const absl::Time give_up = absl::Now() + kFailureTimeout;
    absl::Status last = absl::OkStatus();
    while (absl::Now() < give_up) {
      absl::StatusOr<std::shared_ptr<const GenerationLease>> lease =
          host.Await(name, min_position, absl::Now() + absl::Milliseconds(20));
      if (lease.ok() && (*lease)->generation() == generation) {
        return *std::move(lease);
      }
      if (!lease.ok() && !absl::IsDeadlineExceeded(lease.status())) {
        ADD_FAILURE() << lease.status();
        return nullptr;
      }
      last = lease.ok() ? absl::OkStatus() : lease.status();
    }
    ADD_FAILURE() << "generation " << generation << " of " << name
                  << " did not take over; last: " << last;
    return nullptr;
  }

  std::unique_ptr<ProjectionHost> NewHost(
      std::unique_ptr<Projection> projection, ProjectionStore* store = nullptr,
      RunnerOptions options = SmallBatches()) {
    auto host = std::make_unique<ProjectionHost>(
        log_.get(), store != nullptr ? store : store_.get(), options);
    host->Add(std::move(projection));
    return host;
  }

  TempDir dir_;
  ManualClock clock_{absl::FromUnixSeconds(1700000000)};
  std::unique_ptr<storage::RocksDbEventLog> log_;
  std::unique_ptr<ProjectionStore> store_;
};

// ---------------------------------------------------------------------------
// 1. The store.

TEST_F(ProjectionHostTest, BatchReadsStagedWritesOverCommittedState) {
  ProjectionStore& store = *store_;
  {
    std::unique_ptr<ProjectionBatch> batch = store.NewBatch("p", 1);
    EXPECT_EQ(batch->staged_bytes(), 0u);
    batch->Put("a", "1");
    batch->Put("b", "2");
    EXPECT_GT(batch->staged_bytes(), 0u);
    absl::StatusOr<std::optional<std::string>> a = batch->Get("a");
    ASSERT_TRUE(a.ok()) << a.status();
    EXPECT_EQ(*a, std::optional<std::string>("1"));
    // Staged, not committed.
    absl::StatusOr<std::optional<std::string>> committed =
        store.Get("p", 1, "a");
    ASSERT_TRUE(committed.ok());
    EXPECT_EQ(*committed, std::nullopt);
    ASSERT_TRUE(store.Commit(*batch, {10, 3}).ok());
  }
  std::unique_ptr<ProjectionBatch> batch = store.NewBatch("p", 1);
  // Committed state is visible through a fresh batch.
  EXPECT_EQ(*batch->Get("a"), std::optional<std::string>("1"));
  batch->Put("a", "11");
  batch->Delete("b");
  batch->Put("c", "3");
  EXPECT_EQ(*batch->Get("a"), std::optional<std::string>("11"));
  EXPECT_EQ(*batch->Get("b"), std::nullopt);
  EXPECT_EQ(*batch->Get("c"), std::optional<std::string>("3"));
  // The last staged write to a key wins.
  batch->Put("c", "33");
  EXPECT_EQ(*batch->Get("c"), std::optional<std::string>("33"));
  // The store still has the committed values.
  EXPECT_EQ(*store.Get("p", 1, "a"), std::optional<std::string>("1"));
  EXPECT_EQ(*store.Get("p", 1, "b"), std::optional<std::string>("2"));
  EXPECT_EQ(*store.Get("p", 1, "c"), std::nullopt);
  ASSERT_TRUE(store.Commit(*batch, {20, 3}).ok());
  EXPECT_EQ(ScanAll(store, "p", 1), (State{{"a", "11"}, {"c", "33"}}));
}

// A build batch: reads see its writes and the committed state; a commit
// writes only what changed, with the checkpoint, and the batch goes on
// (entries it dropped from memory are read back from the store).
TEST_F(ProjectionHostTest, BuildBatchCommitsRunsOverCommittedState) {
  ProjectionStore& store = *store_;
  auto checkpoint = [&store](uint32_t generation) {
    absl::StatusOr<std::optional<ProjectionCheckpoint>> cp =
        store.ReadCheckpoint("p", generation);
    EXPECT_TRUE(cp.ok() && cp->has_value());
    return cp.ok() && cp->has_value() ? **cp : ProjectionCheckpoint{};
  };
  {
    std::unique_ptr<ProjectionBatch> before = store.NewBatch("p", 1);
    before->Put("old", "o");
    before->Put("gone", "g");
    ASSERT_TRUE(store.Commit(*before, {1, 1}).ok());
  }
  // 0 bytes of cache: nothing stays in memory past a commit.
  for (size_t cache_bytes : {size_t{0}, size_t{1} << 20}) {
    SCOPED_TRACE(cache_bytes);
    ASSERT_TRUE(store.DropGeneration("p", 2).ok());
    std::unique_ptr<ProjectionBatch> batch =
        store.NewBuildBatch("p", 2, cache_bytes);
    EXPECT_EQ(*batch->Get("old"), std::nullopt);  // another generation's
    batch->Put("a", "1");
    batch->Put("b", "2");
    batch->Put("b", "22");
    EXPECT_EQ(*batch->Get("b"), std::optional<std::string>("22"));
    EXPECT_GT(batch->staged_bytes(), 0u);
    EXPECT_EQ(*store.Get("p", 2, "a"), std::nullopt);  // not yet committed
    ASSERT_TRUE(store.Commit(*batch, {10, 4}).ok());
    EXPECT_EQ(batch->staged_bytes(), 0u);
    EXPECT_EQ(ScanAll(store, "p", 2), (State{{"a", "1"}, {"b", "22"}}));
    EXPECT_EQ(checkpoint(2).position, 10u);
    EXPECT_EQ(checkpoint(2).code_version, 4u);

    // "a" was never read: it is read back from the store.
    EXPECT_EQ(*batch->Get("a"), std::optional<std::string>("1"));
    batch->Put("a", "11");
    batch->Delete("b");
    batch->Put("c", "3");
    EXPECT_EQ(*batch->Get("b"), std::nullopt);
    ASSERT_TRUE(store.Commit(*batch, {20, 4}).ok());
    EXPECT_EQ(ScanAll(store, "p", 2), (State{{"a", "11"}, {"c", "3"}}));
    EXPECT_EQ(checkpoint(2).position, 20u);
    // Nothing changed: only the checkpoint moves.
    EXPECT_EQ(*batch->Get("c"), std::optional<std::string>("3"));
    ASSERT_TRUE(store.Commit(*batch, {30, 4}).ok());
    EXPECT_EQ(ScanAll(store, "p", 2), (State{{"a", "11"}, {"c", "3"}}));
    EXPECT_EQ(checkpoint(2).position, 30u);
  }
  // The other generation is untouched.
  EXPECT_EQ(ScanAll(store, "p", 1), (State{{"gone", "g"}, {"old", "o"}}));
  EXPECT_EQ(checkpoint(1).position, 1u);
}

TEST_F(ProjectionHostTest, CommitWritesStateAndCheckpointTogether) {
  ProjectionStore& store = *store_;
  absl::StatusOr<std::optional<ProjectionCheckpoint>> none =
      store.ReadCheckpoint("p", 1);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(*none, std::nullopt);

  // A batch that is never committed leaves neither state nor checkpoint.
  {
    std::unique_ptr<ProjectionBatch> dropped = store.NewBatch("p", 1);
    dropped->Put("x", "y");
  }
  EXPECT_EQ(*store.Get("p", 1, "x"), std::nullopt);
  EXPECT_EQ(*store.ReadCheckpoint("p", 1), std::nullopt);

  std::unique_ptr<ProjectionBatch> batch = store.NewBatch("p", 1);
  batch->Put("k", "v");
  const ProjectionCheckpoint checkpoint{(uint64_t{1} << 40) + 3, 0xfffffffeu};
  ASSERT_TRUE(store.Commit(*batch, checkpoint).ok());
  EXPECT_EQ(*store.Get("p", 1, "k"), std::optional<std::string>("v"));
  absl::StatusOr<std::optional<ProjectionCheckpoint>> read =
      store.ReadCheckpoint("p", 1);
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_TRUE(read->has_value());
  EXPECT_EQ((*read)->position, checkpoint.position);
  EXPECT_EQ((*read)->code_version, checkpoint.code_version);

  // An empty batch still moves the checkpoint.
  std::unique_ptr<ProjectionBatch> empty = store.NewBatch("p", 1);
  ASSERT_TRUE(store.Commit(*empty, {7, 1}).ok());
  read = store.ReadCheckpoint("p", 1);
  ASSERT_TRUE(read.ok() && read->has_value());
  EXPECT_EQ((*read)->position, 7u);
  EXPECT_EQ((*read)->code_version, 1u);
  EXPECT_EQ(*store.Get("p", 1, "k"), std::optional<std::string>("v"));
  // Other generations have no checkpoint.
  EXPECT_EQ(*store.ReadCheckpoint("p", 2), std::nullopt);
  EXPECT_EQ(*store.ReadCheckpoint("p", 0), std::nullopt);
}

TEST_F(ProjectionHostTest, ScanRespectsBoundsAndStops) {
  ProjectionStore& store = *store_;
  std::unique_ptr<ProjectionBatch> batch = store.NewBatch("p", 1);
  for (const char* k : {"e", "a", "c", "b", "d"}) {
    batch->Put(k, absl::StrCat("v", k));
  }
  ASSERT_TRUE(store.Commit(*batch, {1, 1}).ok());

  auto scan = [&](absl::string_view from, absl::string_view to,
                  int stop_after = -1) {
    State out;
    absl::Status s = store.Scan(
        "p", 1, from, to, [&](absl::string_view k, absl::string_view v) {
          out.emplace_back(std::string(k), std::string(v));
          return stop_after < 0 || static_cast<int>(out.size()) < stop_after;
        });
    EXPECT_TRUE(s.ok()) << s;
    return out;
  };
  EXPECT_EQ(
      scan("", ""),
      (State{{"a", "va"}, {"b", "vb"}, {"c", "vc"}, {"d", "vd"}, {"e", "ve"}}));
  EXPECT_EQ(scan("b", "d"), (State{{"b", "vb"}, {"c", "vc"}}));
  EXPECT_EQ(scan("bb", "dd"), (State{{"c", "vc"}, {"d", "vd"}}));
  EXPECT_EQ(scan("c", ""), (State{{"c", "vc"}, {"d", "vd"}, {"e", "ve"}}));
  EXPECT_EQ(scan("", "b"), (State{{"a", "va"}}));
  EXPECT_EQ(scan("c", "c"), State{});
  EXPECT_EQ(scan("f", ""), State{});
  EXPECT_EQ(scan("", "", 2), (State{{"a", "va"}, {"b", "vb"}}));
  EXPECT_EQ(scan("b", "", 1), (State{{"b", "vb"}}));
}

TEST_F(ProjectionHostTest, GenerationsAndProjectionsAreIsolated) {
  ProjectionStore& store = *store_;
  // "p" and "pq" share a name prefix; generations 1, 2, 3 of "p" are
  // neighbours.
  struct Write {
    const char* name;
    uint32_t generation;
    uint64_t position;
  };
  for (const Write& w :
       {Write{"p", 1, 11}, Write{"p", 2, 12}, Write{"p", 3, 13},
        Write{"pq", 1, 21}, Write{"pq", 2, 22}}) {
    std::unique_ptr<ProjectionBatch> batch =
        store.NewBatch(w.name, w.generation);
    batch->Put("k", absl::StrCat(w.name, w.generation));
    batch->Put(absl::StrCat("only", w.generation), "x");
    ASSERT_TRUE(store.Commit(*batch, {w.position, 1}).ok());
  }
  EXPECT_EQ(ScanAll(store, "p", 2), (State{{"k", "p2"}, {"only2", "x"}}));
  EXPECT_EQ(ScanAll(store, "pq", 1), (State{{"k", "pq1"}, {"only1", "x"}}));
  EXPECT_EQ(*store.Get("p", 1, "k"), std::optional<std::string>("p1"));
  EXPECT_EQ(*store.Get("p", 1, "only2"), std::nullopt);
  EXPECT_EQ(*store.Get("pq", 3, "k"), std::nullopt);
  EXPECT_EQ((*store.ReadCheckpoint("p", 3))->position, 13u);
  EXPECT_EQ((*store.ReadCheckpoint("pq", 2))->position, 22u);
  // A batch of one generation reads only that generation.
  std::unique_ptr<ProjectionBatch> batch = store.NewBatch("p", 2);
  EXPECT_EQ(*batch->Get("only1"), std::nullopt);
  EXPECT_EQ(*batch->Get("k"), std::optional<std::string>("p2"));
}

TEST_F(ProjectionHostTest, ActivateAndActiveGeneration) {
  ProjectionStore& store = *store_;
  EXPECT_EQ(*store.ActiveGeneration("p"), std::nullopt);
  ASSERT_TRUE(store.Activate("p", 3).ok());
  EXPECT_EQ(*store.ActiveGeneration("p"), std::optional<uint32_t>(3));
  EXPECT_EQ(*store.ActiveGeneration("pq"), std::nullopt);
  ASSERT_TRUE(store.Activate("pq", 7).ok());
  ASSERT_TRUE(store.Activate("p", 1).ok());
  EXPECT_EQ(*store.ActiveGeneration("p"), std::optional<uint32_t>(1));
  EXPECT_EQ(*store.ActiveGeneration("pq"), std::optional<uint32_t>(7));
}

class StoreDropTest : public ProjectionHostTest {
 protected:
  void SetUp() override {
    ProjectionHostTest::SetUp();
    if (HasFatalFailure()) return;
    for (const char* name : {"p", "pq"}) {
      for (uint32_t g = 0; g <= 4; ++g) {
        std::unique_ptr<ProjectionBatch> batch = store_->NewBatch(name, g);
        batch->Put("k", absl::StrCat(name, g));
        ASSERT_TRUE(store_->Commit(*batch, {100 + g, 1}).ok());
      }
    }
    ASSERT_TRUE(store_->Activate("p", 2).ok());
    ASSERT_TRUE(store_->Activate("pq", 2).ok());
  }

  // Which generations 0..4 of `name` still have state and checkpoint (they
  // must agree).
  std::vector<uint32_t> Present(const char* name) {
    std::vector<uint32_t> out;
    for (uint32_t g = 0; g <= 4; ++g) {
      const bool state = !ScanAll(*store_, name, g).empty();
      absl::StatusOr<std::optional<ProjectionCheckpoint>> cp =
          store_->ReadCheckpoint(name, g);
      EXPECT_TRUE(cp.ok()) << cp.status();
      EXPECT_EQ(state, cp.ok() && cp->has_value())
          << name << " generation " << g;
      if (state) out.push_back(g);
    }
    return out;
  }
};

TEST_F(StoreDropTest, DropGenerationDropsExactlyOne) {
  ASSERT_TRUE(store_->DropGeneration("p", 2).ok());
  EXPECT_EQ(Present("p"), (std::vector<uint32_t>{0, 1, 3, 4}));
  EXPECT_EQ(Present("pq"), (std::vector<uint32_t>{0, 1, 2, 3, 4}));
  // The active marker is not a generation's data.
  EXPECT_EQ(*store_->ActiveGeneration("p"), std::optional<uint32_t>(2));
  ASSERT_TRUE(store_->DropGeneration("p", 0).ok());
  ASSERT_TRUE(store_->DropGeneration("p", 4).ok());
  EXPECT_EQ(Present("p"), (std::vector<uint32_t>{1, 3}));
  // Dropping a missing generation is fine.
  ASSERT_TRUE(store_->DropGeneration("p", 9).ok());
  EXPECT_EQ(Present("p"), (std::vector<uint32_t>{1, 3}));
}

TEST_F(StoreDropTest, DropOtherGenerationsKeepsExactlyOne) {
  ASSERT_TRUE(store_->DropOtherGenerations("p", 2).ok());
  EXPECT_EQ(Present("p"), (std::vector<uint32_t>{2}));
  EXPECT_EQ(*store_->Get("p", 2, "k"), std::optional<std::string>("p2"));
  EXPECT_EQ(Present("pq"), (std::vector<uint32_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(*store_->ActiveGeneration("p"), std::optional<uint32_t>(2));
  EXPECT_EQ(*store_->ActiveGeneration("pq"), std::optional<uint32_t>(2));

  // Keeping the first and the last generation.
  ASSERT_TRUE(store_->DropOtherGenerations("pq", 0).ok());
  EXPECT_EQ(Present("pq"), (std::vector<uint32_t>{0}));
  std::unique_ptr<ProjectionBatch> batch = store_->NewBatch("pq", 4);
  batch->Put("k", "again");
  ASSERT_TRUE(store_->Commit(*batch, {1, 1}).ok());
  ASSERT_TRUE(store_->DropOtherGenerations("pq", 4).ok());
  EXPECT_EQ(Present("pq"), (std::vector<uint32_t>{4}));
  EXPECT_EQ(Present("p"), (std::vector<uint32_t>{2}));
}

// The last generation number is a generation like any other: dropping the
// others keeps it, dropping it removes it, and a scan sees it (no wrap to 0).
TEST_F(ProjectionHostTest, LastGenerationNumberIsAGenerationLikeAny) {
  constexpr uint32_t kLast = 0xffffffffu;
  for (uint32_t g : {uint32_t{1}, kLast}) {
    std::unique_ptr<ProjectionBatch> batch = store_->NewBatch("p", g);
    batch->Put("k", absl::StrCat(g));
    ASSERT_TRUE(store_->Commit(*batch, {g, 1}).ok());
  }
  EXPECT_EQ(ScanAll(*store_, "p", kLast), (State{{"k", absl::StrCat(kLast)}}));
  EXPECT_TRUE(store_->DropOtherGenerations("p", kLast).ok());
  EXPECT_EQ(*store_->Get("p", kLast, "k"),
            std::optional<std::string>(absl::StrCat(kLast)));
  EXPECT_EQ(*store_->Get("p", 1, "k"), std::nullopt);
  EXPECT_TRUE(store_->DropGeneration("p", kLast).ok());
  EXPECT_EQ(*store_->Get("p", kLast, "k"), std::nullopt);
  EXPECT_EQ(*store_->ReadCheckpoint("p", kLast), std::nullopt);
}

TEST_F(ProjectionHostTest, BadProjectionNamesAreInvalidArgument) {
  ProjectionStore& store = *store_;
  const std::string too_long(33, 'a');
  for (const std::string& bad :
       {std::string(), std::string("Counts"), std::string("a-b"),
        std::string("a b"), std::string("a\0b", 3), std::string("a/b"),
        too_long}) {
    SCOPED_TRACE(absl::StrCat("name '", bad, "'"));
    EXPECT_TRUE(StatusIs(store.ActiveGeneration(bad).status(),
                         absl::StatusCode::kInvalidArgument));
    EXPECT_TRUE(StatusIs(store.ReadCheckpoint(bad, 1).status(),
                         absl::StatusCode::kInvalidArgument));
    EXPECT_TRUE(
        StatusIs(store.Activate(bad, 1), absl::StatusCode::kInvalidArgument));
    EXPECT_TRUE(StatusIs(store.DropGeneration(bad, 1),
                         absl::StatusCode::kInvalidArgument));
    EXPECT_TRUE(StatusIs(store.DropOtherGenerations(bad, 1),
                         absl::StatusCode::kInvalidArgument));
    EXPECT_TRUE(StatusIs(store.Get(bad, 1, "k").status(),
                         absl::StatusCode::kInvalidArgument));
    bool visited = false;
    EXPECT_TRUE(StatusIs(store.Scan(bad, 1, "", "",
                                    [&](absl::string_view, absl::string_view) {
                                      visited = true;
                                      return true;
                                    }),
                         absl::StatusCode::kInvalidArgument));
    EXPECT_FALSE(visited);
    std::unique_ptr<ProjectionBatch> batch = store.NewBatch(bad, 1);
    batch->Put("k", "v");
    EXPECT_TRUE(StatusIs(store.Commit(*batch, {1, 1}),
                         absl::StatusCode::kInvalidArgument));
  }
  // The longest and the odd-but-valid names are accepted.
  const std::string longest(32, 'z');
  for (const std::string& good :
       {longest, std::string("a_0"), std::string("9")}) {
    EXPECT_TRUE(store.Activate(good, 1).ok()) << good;
    std::unique_ptr<ProjectionBatch> batch = store.NewBatch(good, 1);
    batch->Put("k", "v");
    EXPECT_TRUE(store.Commit(*batch, {1, 1}).ok()) << good;
  }
}

// ---------------------------------------------------------------------------
// 2-4. Catch-up, live follow, restart.

TEST_F(ProjectionHostTest, CatchesUpFromEmptyInManyCommits) {
  std::map<std::string, int64_t> tally;
  const uint64_t head = AppendSpread(2500, 7, &tally);
  ASSERT_EQ(head, 2500u);

  FaultyStore counting(store_.get());  // counts commits, never fails
  auto host = NewHost(std::make_unique<CountingProjection>(), &counting);
  ASSERT_TRUE(host->Start().ok());
  absl::StatusOr<std::shared_ptr<const GenerationLease>> lease =
      host->Await(kCounts, head, Deadline());
  ASSERT_TRUE(lease.ok()) << lease.status();
  EXPECT_EQ((*lease)->generation(), 1u);
  EXPECT_EQ(ScanAll(*store_, kCounts, 1), ExpectedCounts(tally));
  absl::StatusOr<std::optional<ProjectionCheckpoint>> cp =
      store_->ReadCheckpoint(kCounts, 1);
  ASSERT_TRUE(cp.ok() && cp->has_value());
  EXPECT_EQ((*cp)->position, head);
  EXPECT_EQ((*cp)->code_version, 1u);
  EXPECT_EQ(*store_->ActiveGeneration(kCounts), std::optional<uint32_t>(1));

  ProjectionStatus status = StatusOf(*host, kCounts);
  EXPECT_EQ(status.generation, 1u);
  EXPECT_EQ(status.applied, head);
  EXPECT_EQ(status.code_version, 1u);
  EXPECT_EQ(status.building_generation, 0u);
  EXPECT_TRUE(status.error.ok()) << status.error;
  host->Stop();
  // batch_events = 100: 2,500 events take at least 25 commits.
  EXPECT_GE(counting.commits(), 25u);
}

// Far enough behind the head, a runner catches up in build batches: large
// commits (here all of it in one) rather than one per batch_events; near
// the head it commits per batch_events again.
TEST_F(ProjectionHostTest, CatchesUpALongWayInBuildBatches) {
  std::map<std::string, int64_t> tally;
  const uint64_t head = AppendSpread(2500, 7, &tally);
  RunnerOptions options = SmallBatches();
  options.build_min_events = 1000;
  options.build_batch_bytes = 1 << 20;
  options.compact_after_build = true;
  FaultyStore counting(store_.get());
  auto host =
      NewHost(std::make_unique<CountingProjection>(), &counting, options);
  ASSERT_TRUE(host->Start().ok());
  ASSERT_TRUE(host->Await(kCounts, head, Deadline()).ok());
  EXPECT_EQ(ScanAll(*store_, kCounts, 1), ExpectedCounts(tally));
  EXPECT_EQ(CheckpointOf(1).position, head);
  // 2,500 events in batches of 100 would take 25 commits.
  EXPECT_EQ(counting.commits(), 1u);
  // Built from position 1: compacted once at the head.
  EXPECT_EQ(counting.compactions(), 1u);

  // 500 more, under build_min_events: small commits.
  const uint64_t more = AppendSpread(500, 3, &tally, "more-");
  ASSERT_TRUE(host->Await(kCounts, more, Deadline()).ok());
  EXPECT_EQ(ScanAll(*store_, kCounts, 1), ExpectedCounts(tally));
  EXPECT_GE(counting.commits(), 1u + 5u);
  host->Stop();
  EXPECT_EQ(counting.compactions(), 1u);

  // A rebuild goes the same way and gives the same bytes.
  FaultyStore counting2(store_.get());
  auto host2 =
      NewHost(std::make_unique<CountingProjection>(), &counting2, options);
  ASSERT_TRUE(host2->Start().ok());
  ASSERT_TRUE(host2->Rebuild(kCounts).ok());
  ASSERT_TRUE(host2->AwaitRebuilt(kCounts, Deadline()).ok());
  EXPECT_EQ(ScanAll(*store_, kCounts, 2), ExpectedCounts(tally));
  EXPECT_EQ(counting2.commits(), 1u);
  EXPECT_EQ(counting2.compactions(), 1u);

  // Catching up a long way from a checkpoint (not from position 1): build
  // batches, but no compaction of the whole generation.
  host2->Stop();
  const uint64_t last = AppendSpread(1500, 5, &tally, "late-");
  FaultyStore counting3(store_.get());
  auto host3 =
      NewHost(std::make_unique<CountingProjection>(), &counting3, options);
  ASSERT_TRUE(host3->Start().ok());
  ASSERT_TRUE(host3->Await(kCounts, last, Deadline()).ok());
  EXPECT_EQ(ScanAll(*store_, kCounts, 2), ExpectedCounts(tally));
  EXPECT_EQ(counting3.commits(), 1u);
  EXPECT_EQ(counting3.compactions(), 0u);
}

TEST_F(ProjectionHostTest, CommitsAreBoundedByBatchEvents) {
  std::map<std::string, int64_t> tally;
  const uint64_t head = AppendSpread(2500, 7, &tally);
  // Every commit after the 25th fails: a runner committing fewer than 100
  // events at a time stops short of the head.
  FaultyStore store(store_.get());
  store.FailCommitsFrom(26);
  auto host = NewHost(std::make_unique<CountingProjection>(), &store);
  ASSERT_TRUE(host->Start().ok());
  ASSERT_TRUE(host->Await(kCounts, head, Deadline()).ok());
  EXPECT_EQ(CheckpointOf(1).position, head);
  EXPECT_EQ(ScanAll(*store_, kCounts, 1), ExpectedCounts(tally));
  host->Stop();

  // With 24 commits allowed it stops exactly 2,400 events further (one
  // committing more than 100 at a time would get further).
  std::map<std::string, int64_t> tally2;
  ASSERT_EQ(AppendSpread(2500, 3, &tally2, "other-"), 5000u);
  FaultyStore store2(store_.get());
  store2.FailCommitsFrom(25);
  auto host2 = NewHost(std::make_unique<CountingProjection>(), &store2);
  ASSERT_TRUE(host2->Start().ok());
  EXPECT_TRUE(StatusIs(host2->Await(kCounts, 5000, Deadline()).status(),
                       absl::StatusCode::kUnavailable));
  EXPECT_EQ(CheckpointOf(1).position, 2500u + 2400u);
}

TEST_F(ProjectionHostTest, FollowsLiveAppendsFromAnotherThread) {
  std::map<std::string, int64_t> tally;
  const uint64_t start = AppendSpread(150, 3, &tally);
  auto host = NewHost(std::make_unique<CountingProjection>());
  ASSERT_TRUE(host->Start().ok());
  ASSERT_TRUE(host->Await(kCounts, start, Deadline()).ok());

  // 60 single-event appends and 10 appends of 20 events, round robin over
  // four streams, from another thread.
  constexpr int kSingles = 60;
  constexpr int kMulti = 10;
  const uint64_t target = start + kSingles + kMulti * 20;
  std::map<std::string, int64_t> live;
  std::thread writer([&] {
    for (int i = 0; i < kSingles + kMulti; ++i) {
      const std::string stream = absl::StrCat("live-", i % 4);
      const int n = i < kSingles ? 1 : 20;
      std::vector<v1::ProposedEvent> events;
      for (int j = 0; j < n; ++j) events.push_back(OpaqueEvent("d"));
      absl::StatusOr<storage::AppendResult> r = log_->Append(
          Request(stream, storage::ExpectedVersion::Any(), std::move(events)));
      EXPECT_TRUE(r.ok()) << r.status();
      live[stream] += n;
    }
  });
  absl::StatusOr<std::shared_ptr<const GenerationLease>> lease =
      host->Await(kCounts, target, Deadline());
  writer.join();
  ASSERT_TRUE(lease.ok()) << lease.status();
  ASSERT_EQ(Head(), target);
  for (const auto& [stream, n] : live) tally[stream] += n;
  EXPECT_EQ(ScanAll(*store_, kCounts, (*lease)->generation()),
            ExpectedCounts(tally));
  EXPECT_EQ(CheckpointOf(1).position, target);

  // And once more after it has gone idle at the head.
  tally["late"] += 1;
  const uint64_t late = AppendTo("late", 1);
  ASSERT_TRUE(host->Await(kCounts, late, Deadline()).ok());
  EXPECT_EQ(ScanAll(*store_, kCounts, 1), ExpectedCounts(tally));
}

TEST_F(ProjectionHostTest, RestartNeitherRepeatsNorSkips) {
  std::map<std::string, int64_t> tally;
  const uint64_t first = AppendSpread(350, 4, &tally);
  {
    auto host = NewHost(std::make_unique<CountingProjection>());
    ASSERT_TRUE(host->Start().ok());
    ASSERT_TRUE(host->Await(kCounts, first, Deadline()).ok());
    host->Stop();
    // Stop is idempotent, and a stopped host's Await says so.
    host->Stop();
    EXPECT_TRUE(StatusIs(host->Await(kCounts, first + 1, Deadline()).status(),
                         absl::StatusCode::kUnavailable));
  }
  EXPECT_EQ(ScanAll(*store_, kCounts, 1), ExpectedCounts(tally));

  // Appended while no host runs.
  const uint64_t second = AppendSpread(120, 5, &tally, "more-");
  auto host = NewHost(std::make_unique<CountingProjection>());
  ASSERT_TRUE(host->Start().ok());
  absl::StatusOr<std::shared_ptr<const GenerationLease>> lease =
      host->Await(kCounts, second, Deadline());
  ASSERT_TRUE(lease.ok()) << lease.status();
  EXPECT_EQ((*lease)->generation(), 1u);
  EXPECT_EQ(ScanAll(*store_, kCounts, 1), ExpectedCounts(tally));

  // And it keeps following.
  const uint64_t third = AppendSpread(30, 2, &tally);
  ASSERT_TRUE(host->Await(kCounts, third, Deadline()).ok());
  EXPECT_EQ(ScanAll(*store_, kCounts, 1), ExpectedCounts(tally));
  EXPECT_EQ(CheckpointOf(1).position, third);
}

// ---------------------------------------------------------------------------
// 5. Failure injection.

TEST_F(ProjectionHostTest, FailedCommitStopsTheRunnerAndARestartCatchesUp) {
  std::map<std::string, int64_t> tally;
  const uint64_t head = AppendSpread(2500, 7, &tally);
  {
    // "Killed" between applying the 5th run of events and checkpointing it.
    FaultyStore faulty(store_.get());
    faulty.FailCommitsFrom(5);
    auto host = NewHost(std::make_unique<CountingProjection>(), &faulty);
    ASSERT_TRUE(host->Start().ok());
    absl::StatusOr<std::shared_ptr<const GenerationLease>> lease =
        host->Await(kCounts, head, Deadline());
    EXPECT_TRUE(StatusIs(lease.status(), absl::StatusCode::kUnavailable,
                         {"injected commit failure"}))
        << lease.status();
    ProjectionStatus status = StatusOf(*host, kCounts);
    EXPECT_TRUE(StatusIs(status.error, absl::StatusCode::kDataLoss,
                         {"injected commit failure"}));
    EXPECT_EQ(status.applied, 400u);
    // What was applied before is still readable.
    EXPECT_TRUE(host->Await(kCounts, 400, Deadline()).ok());
    EXPECT_TRUE(StatusIs(host->Await(kCounts, 401, Deadline()).status(),
                         absl::StatusCode::kUnavailable));
    host->Stop();
  }
  // Exactly the first 400 events are in the state.
  absl::StatusOr<std::optional<ProjectionCheckpoint>> cp =
      store_->ReadCheckpoint(kCounts, 1);
  ASSERT_TRUE(cp.ok() && cp->has_value());
  EXPECT_EQ((*cp)->position, 400u);
  EXPECT_EQ(*store_->Get(kCounts, 1, "total"),
            std::optional<std::string>("400"));

  auto host = NewHost(std::make_unique<CountingProjection>());
  ASSERT_TRUE(host->Start().ok());
  ASSERT_TRUE(host->Await(kCounts, head, Deadline()).ok());
  EXPECT_EQ(ScanAll(*store_, kCounts, 1), ExpectedCounts(tally));
  EXPECT_EQ(CheckpointOf(1).position, head);
}

// A full disk: commits fail with RESOURCE_EXHAUSTED for a while. The runner
// retries from its checkpoint, the error and the lag show in Status, and
// once commits succeed it catches up with neither a skip nor a repeat.
TEST_F(ProjectionHostTest, TransientCommitFailureIsRetriedFromTheCheckpoint) {
  std::map<std::string, int64_t> tally;
  const uint64_t head = AppendSpread(2500, 7, &tally);
  FaultyStore faulty(store_.get());
  faulty.SetCommitError(absl::ResourceExhaustedError("injected: disk full"));
  faulty.FailCommitsFrom(5);
  RunnerOptions options = SmallBatches();
  options.retry_delay = absl::Milliseconds(1);
  auto host = NewHost(std::make_unique<CountingProjection>(), &faulty, options);
  ASSERT_TRUE(host->Start().ok());
  // Retried, not stopped.
  ASSERT_TRUE(faulty.AwaitFailedCommits(3));
  ProjectionStatus status = StatusOf(*host, kCounts);
  EXPECT_TRUE(StatusIs(status.error, absl::StatusCode::kResourceExhausted,
                       {"disk full"}));
  EXPECT_EQ(status.applied, 400u);
  EXPECT_EQ(CheckpointOf(1).position, 400u);
  EXPECT_EQ(*store_->Get(kCounts, 1, "total"),
            std::optional<std::string>("400"));

  faulty.FailCommitsFrom(0);
  ASSERT_TRUE(host->Await(kCounts, head, Deadline()).ok());
  EXPECT_EQ(ScanAll(*store_, kCounts, 1), ExpectedCounts(tally));
  EXPECT_EQ(CheckpointOf(1).position, head);
  EXPECT_TRUE(StatusOf(*host, kCounts).error.ok());
  host->Stop();
}

// The same on a real store whose disk fills: the projection's commit fails
// (RESOURCE_EXHAUSTED), which stops the log's writes too; once space returns
// the log's writer resumes the store on its timer and the runner catches up.
class DiskFullProjectionTest : public ProjectionHostTest {
 protected:
  void SetUp() override {
    ProjectionHostTest::SetUp();
    store_.reset();
    log_->Close();
    log_.reset();
    storage::RocksDbEventLogOptions options;
    options.path = dir_.path();
    options.clock = &clock_;
    options.sync = false;
    options.block_cache_bytes = 1 << 20;
    options.file_system = fs_;
    options.resume_interval = absl::Milliseconds(5);
    options.on_write_state = [this](const absl::Status& state) {
      absl::MutexLock lock(&state_mu_);
      write_state_ = state.code();
    };
    absl::StatusOr<std::unique_ptr<storage::RocksDbEventLog>> log =
        storage::RocksDbEventLog::Open(std::move(options));
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = *std::move(log);
    store_ = log_->NewProjectionStore();
  }

  // Until the log reports writes in state `code`.
  bool AwaitWriteState(absl::StatusCode code) {
    absl::MutexLock lock(&state_mu_);
    auto reached = [this, code]() ABSL_SHARED_LOCKS_REQUIRED(state_mu_) {
      return write_state_ == code;
    };
    return state_mu_.AwaitWithTimeout(absl::Condition(&reached),
                                      kFailureTimeout);
  }

  std::shared_ptr<::ycr::test::FaultFileSystem> fs_ =
      std::make_shared<::ycr::test::FaultFileSystem>();
  absl::Mutex state_mu_;
  absl::StatusCode write_state_ ABSL_GUARDED_BY(state_mu_) =
      absl::StatusCode::kOk;
};

TEST_F(DiskFullProjectionTest, CommitOnAFullDiskIsRetriedOnceSpaceReturns) {
  std::map<std::string, int64_t> tally;
  const uint64_t first = AppendSpread(50, 3, &tally);
  Gate gate;
  RunnerOptions options = SmallBatches();
  options.retry_delay = absl::Milliseconds(1);
  auto host = NewHost(std::make_unique<CountingProjection>(1, 1, &gate),
                      nullptr, options);
  ASSERT_TRUE(host->Start().ok());
  ASSERT_TRUE(host->Await(kCounts, first, Deadline()).ok());

  // The runner holds new events in hand when the disk fills.
  gate.Close();
  const uint64_t head = AppendSpread(50, 3, &tally, "more-");
  ASSERT_TRUE(gate.AwaitBlocked());
  fs_->Fail(::ycr::test::FaultFileSystem::Mode::kFailWrites, /*no_space=*/true);
  gate.Open();
  ASSERT_TRUE(AwaitWriteState(absl::StatusCode::kResourceExhausted));
  // Every Apply from now on is a retry's.
  gate.Close();
  ASSERT_TRUE(gate.AwaitBlocked());
  ProjectionStatus status = StatusOf(*host, kCounts);
  EXPECT_TRUE(StatusIs(status.error, absl::StatusCode::kResourceExhausted));
  EXPECT_EQ(status.applied, first);
  EXPECT_EQ(CheckpointOf(1).position, first);
  EXPECT_TRUE(StatusIs(log_->Append(OneEvent("refused")).status(),
                       absl::StatusCode::kResourceExhausted));

  fs_->Heal();
  gate.Open();
  ASSERT_TRUE(AwaitWriteState(absl::StatusCode::kOk));
  ASSERT_TRUE(host->Await(kCounts, head, Deadline()).ok());
  EXPECT_EQ(ScanAll(*store_, kCounts, 1), ExpectedCounts(tally));
  EXPECT_EQ(CheckpointOf(1).position, head);
  EXPECT_TRUE(StatusOf(*host, kCounts).error.ok());
  EXPECT_TRUE(log_->VerifyChain(1, 0).ok());
  host->Stop();
}

TEST_F(ProjectionHostTest, FailedApplyCommitsNothingOfItsBatch) {
  std::map<std::string, int64_t> tally;
  // Streams in runs of 100: events 1..100 on a-0, 101..200 on a-1, 201..300
  // on a-2, 301..400 on a-3.
  const uint64_t head = AppendSpread(400, 4, &tally, "a-");
  {
    auto host = NewHost(std::make_unique<FailAtProjection>(
        std::make_unique<CountingProjection>(), 250));
    ASSERT_TRUE(host->Start().ok());
    absl::StatusOr<std::shared_ptr<const GenerationLease>> lease =
        host->Await(kCounts, head, Deadline());
    EXPECT_TRUE(StatusIs(lease.status(), absl::StatusCode::kUnavailable,
                         {"cannot apply position 250", "injected"}))
        << lease.status();
    EXPECT_TRUE(StatusIs(StatusOf(*host, kCounts).error,
                         absl::StatusCode::kInternal,
                         {"cannot apply position 250"}));
    host->Stop();
  }
  // Batch 201..300 failed at 250: events 201..249 (a-2) are not committed.
  EXPECT_EQ(CheckpointOf(1).position, 200u);
  EXPECT_EQ(ScanAll(*store_, kCounts, 1),
            ExpectedCounts({{"a-0", 100}, {"a-1", 100}}));

  auto host = NewHost(std::make_unique<CountingProjection>());
  ASSERT_TRUE(host->Start().ok());
  ASSERT_TRUE(host->Await(kCounts, head, Deadline()).ok());
  EXPECT_EQ(ScanAll(*store_, kCounts, 1), ExpectedCounts(tally));
}

// ---------------------------------------------------------------------------
// 6. Rebuild.

// A rebuild says how far it is, how fast it goes and when it should end:
// in ProjectionStatus (hence the /metrics gauges) and in log lines.
TEST_F(ProjectionHostTest, ARebuildReportsItsProgressRateAndEta) {
  std::map<std::string, int64_t> tally;
  const uint64_t head = AppendSpread(2500, 7, &tally);
  Gate gate;
  auto host = NewHost(std::make_unique<CountingProjection>(1, 1, &gate));
  std::ostringstream lines;
  Logger logger(&lines, LogFormat::kText, LogLevel::kInfo);
  ManualClock wall(absl::FromUnixSeconds(1800000000));
  host->SetProgressLog(&logger, &wall, absl::ZeroDuration());
  ASSERT_TRUE(host->Start().ok());
  ASSERT_TRUE(host->Await(kCounts, head, Deadline()).ok());

  gate.Close();
  ASSERT_TRUE(host->Rebuild(kCounts).ok());
  ProjectionStatus status = StatusOf(*host, kCounts);
  ASSERT_EQ(status.building_generation, 2u);
  // Nothing applied yet: no rate, no end in sight.
  EXPECT_EQ(status.building_progress.started, wall.Now());
  EXPECT_EQ(status.building_progress.head, head);
  EXPECT_EQ(status.building_progress.events_per_second, 0);
  EXPECT_EQ(status.building_progress.eta, absl::InfiniteDuration());

  // Ten seconds later the builder runs to the head at once.
  wall.Advance(absl::Seconds(10));
  gate.Open();
  ASSERT_NE(AwaitGeneration(*host, kCounts, head, 2), nullptr);
  host->Stop();
  const std::string log = lines.str();
  EXPECT_NE(log.find("projection_rebuild_progress projection=counts "
                     "generation=2 applied=100 of=2500 percent=4.0 "
                     "events_per_second=10 seconds=10.0 eta_seconds=240"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("projection_rebuild_done projection=counts generation=2 "
                     "applied=2500 of=2500 percent=100.0 "
                     "events_per_second=250 seconds=10.0 eta_seconds=0"),
            std::string::npos)
      << log;
  // Once taken over, no progress is reported.
  EXPECT_EQ(StatusOf(*host, kCounts).building_generation, 0u);
}

TEST_F(ProjectionHostTest, RebuildSwapsToAnIdenticalGenerationAndDropsTheOld) {
  std::map<std::string, int64_t> tally;
  const uint64_t head = AppendSpread(2500, 7, &tally);
  Gate gate;
  auto host = NewHost(std::make_unique<CountingProjection>(1, 1, &gate));
  ASSERT_TRUE(host->Start().ok());
  absl::StatusOr<std::shared_ptr<const GenerationLease>> old_lease =
      host->Await(kCounts, head, Deadline());
  ASSERT_TRUE(old_lease.ok()) << old_lease.status();
  ASSERT_EQ((*old_lease)->generation(), 1u);
  const State before = ScanAll(*store_, kCounts, 1);
  ASSERT_EQ(before, ExpectedCounts(tally));

  EXPECT_TRUE(StatusIs(host->Rebuild("nope"), absl::StatusCode::kNotFound));

  // Hold the builder (the active runner is idle at the head, so only the
  // builder applies).
  gate.Close();
  ASSERT_TRUE(host->Rebuild(kCounts).ok());
  EXPECT_TRUE(
      StatusIs(host->Rebuild(kCounts), absl::StatusCode::kFailedPrecondition));
  ProjectionStatus status = StatusOf(*host, kCounts);
  EXPECT_EQ(status.generation, 1u);
  EXPECT_EQ(status.building_generation, 2u);
  EXPECT_EQ(status.applied, head);
  // Meanwhile the active generation serves.
  absl::StatusOr<std::shared_ptr<const GenerationLease>> during =
      host->Await(kCounts, head, Deadline());
  ASSERT_TRUE(during.ok());
  EXPECT_EQ((*during)->generation(), 1u);
  during->reset();
  gate.Open();

  std::shared_ptr<const GenerationLease> new_lease =
      AwaitGeneration(*host, kCounts, head, 2);
  ASSERT_NE(new_lease, nullptr);
  EXPECT_EQ(*store_->ActiveGeneration(kCounts), std::optional<uint32_t>(2));
  status = StatusOf(*host, kCounts);
  EXPECT_EQ(status.generation, 2u);
  EXPECT_EQ(status.building_generation, 0u);
  EXPECT_EQ(status.applied, head);

  // Byte for byte, while the old lease keeps the old generation.
  EXPECT_EQ(ScanAll(*store_, kCounts, 2), before);
  EXPECT_EQ(ScanAll(*store_, kCounts, 1), before);
  EXPECT_EQ(CheckpointOf(2).position, head);
  ASSERT_TRUE(store_->ReadCheckpoint(kCounts, 1)->has_value());

  // The last reader lets go: the old generation goes.
  old_lease->reset();
  EXPECT_EQ(ScanAll(*store_, kCounts, 1), State{});
  EXPECT_EQ(*store_->ReadCheckpoint(kCounts, 1), std::nullopt);
  EXPECT_EQ(ScanAll(*store_, kCounts, 2), before);

  // The new generation follows the log, and the next rebuild is generation 3.
  const uint64_t more = AppendSpread(50, 2, &tally, "after-");
  ASSERT_TRUE(host->Await(kCounts, more, Deadline()).ok());
  EXPECT_EQ(ScanAll(*store_, kCounts, 2), ExpectedCounts(tally));
  ASSERT_TRUE(host->Rebuild(kCounts).ok());
  std::shared_ptr<const GenerationLease> third =
      AwaitGeneration(*host, kCounts, more, 3);
  ASSERT_NE(third, nullptr);
  // Generation 2 stays while we hold it, and goes when we let go.
  EXPECT_EQ(ScanAll(*store_, kCounts, 2), ExpectedCounts(tally));
  new_lease.reset();
  EXPECT_EQ(ScanAll(*store_, kCounts, 2), State{});
  EXPECT_EQ(ScanAll(*store_, kCounts, 3), ExpectedCounts(tally));
}

// A runner that took over from a rebuild reports at every commit, and a
// later rebuild's takeover stops it while holding the host's lock. Its
// reports must not wait for that lock: one in flight at the takeover left
// the host deadlocked (the takeover joining the runner, the runner waiting
// for the lock). Rebuilds one after another while the log grows: each takes
// over. Without the fix this hangs until the test's timeout.
TEST_F(ProjectionHostTest, RebuildsOneAfterAnotherWhileTheLogGrowsAllTakeOver) {
  std::map<std::string, int64_t> tally;
  AppendSpread(200, 3, &tally);
  auto host = NewHost(std::make_unique<CountingProjection>());
  ASSERT_TRUE(host->Start().ok());
  std::atomic<bool> writing{true};
  std::thread writer([&] {
    for (int i = 0; writing.load(); ++i) {
      AppendTo(absl::StrCat("w-", i % 5), 1);
    }
  });
  for (uint32_t generation = 2; generation <= 25; ++generation) {
    ASSERT_TRUE(host->Rebuild(kCounts).ok()) << generation;
    ASSERT_NE(AwaitGeneration(*host, kCounts, 0, generation), nullptr)
        << generation;
  }
  writing.store(false);
  writer.join();
  ASSERT_TRUE(host->Await(kCounts, Head(), Deadline()).ok());
}

TEST_F(ProjectionHostTest, RestartDuringRebuildKeepsTheActiveGeneration) {
  std::map<std::string, int64_t> tally;
  const uint64_t head = AppendSpread(300, 3, &tally);
  Gate gate;
  {
    auto host = NewHost(std::make_unique<CountingProjection>(1, 1, &gate));
    ASSERT_TRUE(host->Start().ok());
    ASSERT_TRUE(host->Await(kCounts, head, Deadline()).ok());
    gate.Close();
    ASSERT_TRUE(host->Rebuild(kCounts).ok());
    // The builder is inside its first run of events.
    ASSERT_TRUE(gate.AwaitBlocked());
    // Stop from another thread. Once Await reports the host stopped, the
    // builder can no longer swap, so it may run on and stop.
    std::thread stopper([&] { host->Stop(); });
    absl::Status s = absl::OkStatus();
    const absl::Time give_up = absl::Now() + kFailureTimeout;
    while (absl::Now() < give_up) {
      s = host->Await(kCounts, head + 1, absl::Now() + absl::Milliseconds(10))
              .status();
      if (!absl::IsDeadlineExceeded(s)) break;
    }
    EXPECT_TRUE(StatusIs(s, absl::StatusCode::kUnavailable, {"stopped"}));
    gate.Open();
    stopper.join();
  }
  EXPECT_EQ(*store_->ActiveGeneration(kCounts), std::optional<uint32_t>(1));
  // The builder finished the run of events in hand (and maybe more, before
  // its own stop): a partial generation 2, consistent with its checkpoint.
  const uint64_t partial = CheckpointOf(2).position;
  EXPECT_GE(partial, 100u);
  EXPECT_EQ(*store_->Get(kCounts, 2, "total"),
            std::optional<std::string>(absl::StrCat(partial)));
  auto host = NewHost(std::make_unique<CountingProjection>());
  ASSERT_TRUE(host->Start().ok());
  // The half-built generation is dropped at Start.
  EXPECT_EQ(ScanAll(*store_, kCounts, 2), State{});
  EXPECT_EQ(*store_->ReadCheckpoint(kCounts, 2), std::nullopt);
  absl::StatusOr<std::shared_ptr<const GenerationLease>> lease =
      host->Await(kCounts, head, Deadline());
  ASSERT_TRUE(lease.ok());
  EXPECT_EQ((*lease)->generation(), 1u);
  EXPECT_EQ(ScanAll(*store_, kCounts, 1), ExpectedCounts(tally));
}

// A runner stopped inside a build-batch run commits what it applied, with
// its checkpoint (it looks at the stop every 4,096 events), and a restart
// goes on from there: nothing is counted twice or skipped.
TEST_F(ProjectionHostTest, StopInsideABuildRunKeepsStateAndCheckpointTogether) {
  std::map<std::string, int64_t> tally;
  const uint64_t head = AppendSpread(20000, 7, &tally);
  RunnerOptions options = SmallBatches();
  options.build_min_events = 100;
  Gate gate;
  {
    auto host = NewHost(std::make_unique<CountingProjection>(1, 1, &gate),
                        nullptr, options);
    gate.Close();
    ASSERT_TRUE(host->Start().ok());
    ASSERT_TRUE(gate.AwaitBlocked());
    // Held at its first event, inside its first build run. Let go and stop
    // at once: it looks at the stop 4,095 events later, and every 4,096
    // after, well before the head.
    gate.Open();
    host->Stop();
  }
  const uint64_t partial = CheckpointOf(1).position;
  EXPECT_GT(partial, 0u);
  EXPECT_LT(partial, head);
  EXPECT_EQ(*store_->Get(kCounts, 1, "total"),
            std::optional<std::string>(absl::StrCat(partial)));
  auto host = NewHost(std::make_unique<CountingProjection>(), nullptr, options);
  ASSERT_TRUE(host->Start().ok());
  ASSERT_TRUE(host->Await(kCounts, head, Deadline()).ok());
  EXPECT_EQ(ScanAll(*store_, kCounts, 1), ExpectedCounts(tally));
  EXPECT_EQ(CheckpointOf(1).position, head);
}

// ---------------------------------------------------------------------------
// 7. Code version change.

TEST_F(ProjectionHostTest, NewCodeVersionServesOldStateFrozenUntilRebuilt) {
  std::map<std::string, int64_t> tally;
  const uint64_t v1_head = AppendSpread(600, 5, &tally);
  {
    auto host = NewHost(std::make_unique<CountingProjection>(1, 1));
    ASSERT_TRUE(host->Start().ok());
    ASSERT_TRUE(host->Await(kCounts, v1_head, Deadline()).ok());
  }
  const State v1_state = ScanAll(*store_, kCounts, 1);
  ASSERT_EQ(v1_state, ExpectedCounts(tally));
  // More events while no host runs: the frozen state lacks them.
  const uint64_t head = AppendSpread(200, 2, &tally, "new-");

  Gate gate;
  gate.Close();  // hold the rebuild so the frozen phase is observable
  auto host = NewHost(std::make_unique<CountingProjection>(2, 2, &gate));
  ASSERT_TRUE(host->Start().ok());

  // At or below the old checkpoint: the old generation, at once (even with a
  // deadline in the past).
  for (uint64_t min : {uint64_t{0}, uint64_t{1}, v1_head}) {
    absl::StatusOr<std::shared_ptr<const GenerationLease>> old =
        host->Await(kCounts, min, absl::InfinitePast());
    ASSERT_TRUE(old.ok()) << min << ": " << old.status();
    EXPECT_EQ((*old)->generation(), 1u);
  }
  std::shared_ptr<const GenerationLease> old_lease =
      *host->Await(kCounts, v1_head, absl::InfinitePast());
  EXPECT_EQ(ScanAll(*store_, kCounts, 1), v1_state);
  // Past it: not until the rebuild has taken over.
  EXPECT_TRUE(StatusIs(
      host->Await(kCounts, v1_head + 1, absl::Now() + absl::Milliseconds(50))
          .status(),
      absl::StatusCode::kDeadlineExceeded));
  ProjectionStatus status = StatusOf(*host, kCounts);
  EXPECT_EQ(status.generation, 1u);
  EXPECT_EQ(status.applied, v1_head);
  EXPECT_EQ(status.code_version, 2u);
  EXPECT_EQ(status.building_generation, 2u);
  EXPECT_TRUE(status.error.ok());
  // Only one rebuild at a time.
  EXPECT_TRUE(
      StatusIs(host->Rebuild(kCounts), absl::StatusCode::kFailedPrecondition));

  gate.Open();
  absl::StatusOr<std::shared_ptr<const GenerationLease>> lease =
      host->Await(kCounts, head, Deadline());
  ASSERT_TRUE(lease.ok()) << lease.status();
  EXPECT_EQ((*lease)->generation(), 2u);
  EXPECT_EQ(ScanAll(*store_, kCounts, 2), ExpectedCounts(tally, 2));
  EXPECT_EQ(CheckpointOf(2).code_version, 2u);
  EXPECT_EQ(*store_->ActiveGeneration(kCounts), std::optional<uint32_t>(2));
  // The frozen generation stays while leased, then goes.
  EXPECT_EQ(ScanAll(*store_, kCounts, 1), v1_state);
  old_lease.reset();
  EXPECT_EQ(ScanAll(*store_, kCounts, 1), State{});

  // It follows the log with the new code.
  const uint64_t more = AppendTo("tail", 3);
  tally["tail"] += 3;
  ASSERT_TRUE(host->Await(kCounts, more, Deadline()).ok());
  EXPECT_EQ(ScanAll(*store_, kCounts, 2), ExpectedCounts(tally, 2));
  host->Stop();

  // A restart with the same version does not rebuild again.
  auto again = NewHost(std::make_unique<CountingProjection>(2, 2));
  ASSERT_TRUE(again->Start().ok());
  absl::StatusOr<std::shared_ptr<const GenerationLease>> l =
      again->Await(kCounts, more, Deadline());
  ASSERT_TRUE(l.ok());
  EXPECT_EQ((*l)->generation(), 2u);
  EXPECT_EQ(StatusOf(*again, kCounts).building_generation, 0u);
}

TEST_F(ProjectionHostTest, RunnerRefusesACheckpointOfAnotherCodeVersion) {
  const uint64_t head = AppendTo("s", 10);
  {
    CountingProjection v1(1);
    ProjectionRunner runner(log_.get(), store_.get(), &v1, 1);
    ASSERT_TRUE(runner.Start().ok());
    ASSERT_TRUE(runner.WaitFor(head, Deadline()).ok());
    EXPECT_EQ(runner.applied(), head);
    EXPECT_TRUE(
        StatusIs(runner.Start(), absl::StatusCode::kFailedPrecondition));
  }
  CountingProjection v2(2);
  ProjectionRunner runner(log_.get(), store_.get(), &v2, 1);
  EXPECT_TRUE(StatusIs(runner.Start(), absl::StatusCode::kFailedPrecondition,
                       {"code version 1"}));
}

// ---------------------------------------------------------------------------
// 8. Await's errors.

TEST_F(ProjectionHostTest, AwaitPastTheHeadTimesOutAndUnknownIsNotFound) {
  const uint64_t head = AppendTo("s", 5);
  auto host = NewHost(std::make_unique<CountingProjection>());
  ASSERT_TRUE(host->Start().ok());
  ASSERT_TRUE(host->Await(kCounts, head, Deadline()).ok());
  const absl::Time start = absl::Now();
  EXPECT_TRUE(StatusIs(
      host->Await(kCounts, head + 1, absl::Now() + absl::Milliseconds(100))
          .status(),
      absl::StatusCode::kDeadlineExceeded));
  EXPECT_LT(absl::Now() - start, kFailureTimeout);
  EXPECT_TRUE(
      StatusIs(host->Await(kCounts, head + 1, absl::InfinitePast()).status(),
               absl::StatusCode::kDeadlineExceeded));
  EXPECT_TRUE(StatusIs(host->Await("nope", 0, Deadline()).status(),
                       absl::StatusCode::kNotFound));
  EXPECT_TRUE(StatusIs(host->Await("nope", 0, absl::InfinitePast()).status(),
                       absl::StatusCode::kNotFound));
  // min_position 0: at once.
  absl::StatusOr<std::shared_ptr<const GenerationLease>> now =
      host->Await(kCounts, 0, absl::InfinitePast());
  ASSERT_TRUE(now.ok());
  EXPECT_EQ((*now)->generation(), 1u);
}

// A swap whose Activate fails leaves the old generation serving and
// following the log, and Await keeps its deadline.
TEST_F(ProjectionHostTest, AwaitKeepsItsDeadlineWhenTheSwapFails) {
  const uint64_t head = AppendTo("s", 50);
  FaultyStore faulty(store_.get());
  auto host = NewHost(std::make_unique<CountingProjection>(), &faulty);
  ASSERT_TRUE(host->Start().ok());
  ASSERT_TRUE(host->Await(kCounts, head, Deadline()).ok());
  // Activate keeps failing: the builder tries after its commit at the head
  // and again after its next (empty) read, then waits for an append.
  faulty.FailActivates(1000);
  ASSERT_TRUE(host->Rebuild(kCounts).ok());
  ASSERT_TRUE(faulty.AwaitFailedActivates(2));

  absl::Notification done;
  absl::StatusOr<std::shared_ptr<const GenerationLease>> result;
  std::thread waiter([&] {
    result =
        host->Await(kCounts, head + 1, absl::Now() + absl::Milliseconds(100));
    done.Notify();
  });
  const bool returned = done.WaitForNotificationWithTimeout(absl::Seconds(3));
  EXPECT_TRUE(returned) << "Await ignored its 100 ms deadline";
  // Release a spinning Await: the next append lets the builder swap.
  faulty.FailActivates(0);
  AppendTo("s", 1);
  waiter.join();
  EXPECT_TRUE(StatusIs(result.status(), absl::StatusCode::kDeadlineExceeded))
      << result.status();
}

// A rebuild that stopped on an error can be started again, and Status()
// shows why it stopped.
TEST_F(ProjectionHostTest, AFailedRebuildCanBeRetried) {
  std::map<std::string, int64_t> tally;
  const uint64_t head = AppendSpread(500, 3, &tally);
  FaultyStore faulty(store_.get());
  auto host = NewHost(std::make_unique<CountingProjection>(), &faulty);
  ASSERT_TRUE(host->Start().ok());
  ASSERT_TRUE(host->Await(kCounts, head, Deadline()).ok());
  // The active runner is idle: the next commit is the builder's.
  faulty.FailCommitsFrom(2, /*relative=*/true);
  ASSERT_TRUE(host->Rebuild(kCounts).ok());
  ASSERT_TRUE(faulty.AwaitFailedCommits(1));
  faulty.FailCommitsFrom(0);

  // Once the builder has stopped, a retry must be accepted. Await with a
  // short deadline paces the loop.
  absl::Status retry = absl::UnknownError("not tried");
  const absl::Time give_up = absl::Now() + absl::Seconds(2);
  while (absl::Now() < give_up) {
    retry = host->Rebuild(kCounts);
    if (!absl::IsFailedPrecondition(retry)) break;
    (void)host->Await(kCounts, head + 1, absl::Now() + absl::Milliseconds(10));
  }
  EXPECT_TRUE(retry.ok()) << retry;
  if (retry.ok()) {
    std::shared_ptr<const GenerationLease> lease =
        AwaitGeneration(*host, kCounts, head, 2);
    ASSERT_NE(lease, nullptr);
    EXPECT_EQ(ScanAll(*store_, kCounts, 2), ExpectedCounts(tally));
  }
}

// ---------------------------------------------------------------------------
// 8b. AwaitAsync: a wait that holds no thread.

// What AwaitAsync's callbacks received, in the order they ran.
struct Results {
  absl::Mutex mu;
  std::vector<std::pair<int, absl::Status>> got ABSL_GUARDED_BY(mu);
  std::vector<uint32_t> generations ABSL_GUARDED_BY(mu);

  ProjectionHost::AwaitCallback For(int tag) {
    return [this, tag](ProjectionHost::AwaitResult r) {
      absl::MutexLock lock(&mu);
      got.emplace_back(tag, r.status());
      generations.push_back(r.ok() ? (*r)->generation() : 0);
    };
  }
  size_t size() {
    absl::MutexLock lock(&mu);
    return got.size();
  }
  // Waits (bounded) until `n` callbacks have run.
  bool AwaitCount(size_t n) {
    absl::MutexLock lock(&mu);
    auto enough = [this, n]() ABSL_SHARED_LOCKS_REQUIRED(mu) {
      return got.size() >= n;
    };
    return mu.AwaitWithTimeout(absl::Condition(&enough), kFailureTimeout);
  }
};

TEST_F(ProjectionHostTest, AwaitAsyncRunsItsCallbackOnceThePositionIsApplied) {
  const uint64_t head = AppendTo("s", 5);
  auto host = NewHost(std::make_unique<CountingProjection>());
  ASSERT_TRUE(host->Start().ok());
  ASSERT_TRUE(host->Await(kCounts, head, Deadline()).ok());

  Results results;
  uint64_t id = 0;
  // Applied already: the answer now, and the callback is dropped.
  std::optional<ProjectionHost::AwaitResult> now =
      host->AwaitAsync(kCounts, head, Deadline(), results.For(0), &id);
  ASSERT_TRUE(now.has_value());
  ASSERT_TRUE(now->ok()) << now->status();
  EXPECT_EQ((**now)->generation(), 1u);
  // Unknown: at once too.
  now = host->AwaitAsync("nope", 1, Deadline(), results.For(0), &id);
  ASSERT_TRUE(now.has_value());
  EXPECT_TRUE(StatusIs(now->status(), absl::StatusCode::kNotFound));

  // Past the head: it waits, holding no thread, until appends reach it.
  now = host->AwaitAsync(kCounts, head + 3, Deadline(), results.For(1), &id);
  ASSERT_FALSE(now.has_value());
  EXPECT_NE(id, 0u);
  EXPECT_EQ(host->waiting(), 1u);
  AppendTo("s", 2);
  // One short: a blocking Await at head + 2 returns, the callback has not
  // run.
  ASSERT_TRUE(host->Await(kCounts, head + 2, Deadline()).ok());
  EXPECT_EQ(results.size(), 0u);
  AppendTo("s", 1);
  ASSERT_TRUE(results.AwaitCount(1));
  {
    absl::MutexLock lock(&results.mu);
    EXPECT_EQ(results.got[0].first, 1);
    EXPECT_TRUE(results.got[0].second.ok()) << results.got[0].second;
    EXPECT_EQ(results.generations[0], 1u);
  }
  EXPECT_EQ(host->waiting(), 0u);
  // Run: it can no longer be cancelled.
  EXPECT_FALSE(host->CancelAwait(id));
}

TEST_F(ProjectionHostTest, AwaitAsyncTimesOutAtEachDeadlineInOrder) {
  const uint64_t head = AppendTo("s", 5);
  auto host = NewHost(std::make_unique<CountingProjection>());
  ASSERT_TRUE(host->Start().ok());
  ASSERT_TRUE(host->Await(kCounts, head, Deadline()).ok());

  Results results;
  uint64_t id = 0;
  // Registered latest-deadline first: the waiter thread must re-arm for
  // each earlier one.
  ASSERT_FALSE(host->AwaitAsync(kCounts, head + 1,
                                absl::Now() + absl::Milliseconds(300),
                                results.For(3), &id)
                   .has_value());
  ASSERT_FALSE(host->AwaitAsync(kCounts, head + 1,
                                absl::Now() + absl::Milliseconds(150),
                                results.For(2), &id)
                   .has_value());
  ASSERT_FALSE(host->AwaitAsync(kCounts, head + 1,
                                absl::Now() + absl::Milliseconds(20),
                                results.For(1), &id)
                   .has_value());
  // Past its deadline already: DEADLINE_EXCEEDED at once.
  std::optional<ProjectionHost::AwaitResult> now = host->AwaitAsync(
      kCounts, head + 1, absl::InfinitePast(), results.For(0), &id);
  ASSERT_TRUE(now.has_value());
  EXPECT_TRUE(StatusIs(now->status(), absl::StatusCode::kDeadlineExceeded));

  ASSERT_TRUE(results.AwaitCount(3));
  absl::MutexLock lock(&results.mu);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(results.got[i].first, i + 1);
    // Await's own message.
    EXPECT_TRUE(StatusIs(results.got[i].second,
                         absl::StatusCode::kDeadlineExceeded,
                         {"has applied position", "by the deadline"}))
        << results.got[i].second;
  }
  EXPECT_EQ(host->waiting(), 0u);
}

TEST_F(ProjectionHostTest, ACancelledAwaitAsyncNeverRuns) {
  const uint64_t head = AppendTo("s", 5);
  auto host = NewHost(std::make_unique<CountingProjection>());
  ASSERT_TRUE(host->Start().ok());
  ASSERT_TRUE(host->Await(kCounts, head, Deadline()).ok());

  Results results;
  uint64_t cancelled = 0, kept = 0, short_lived = 0;
  ASSERT_FALSE(host->AwaitAsync(kCounts, head + 1, Deadline(), results.For(1),
                                &cancelled)
                   .has_value());
  ASSERT_FALSE(
      host->AwaitAsync(kCounts, head + 1, Deadline(), results.For(2), &kept)
          .has_value());
  ASSERT_FALSE(host->AwaitAsync(kCounts, head + 1,
                                absl::Now() + absl::Milliseconds(20),
                                results.For(3), &short_lived)
                   .has_value());
  EXPECT_EQ(host->waiting(), 3u);
  EXPECT_TRUE(host->CancelAwait(cancelled));
  EXPECT_FALSE(host->CancelAwait(cancelled));
  EXPECT_TRUE(host->CancelAwait(short_lived));
  EXPECT_EQ(host->waiting(), 1u);
  AppendTo("s", 1);
  ASSERT_TRUE(results.AwaitCount(1));
  // Past the cancelled one's deadline too: only the kept one ran.
  ASSERT_TRUE(host->Await(kCounts, head + 1, Deadline()).ok());
  host->Stop();
  absl::MutexLock lock(&results.mu);
  ASSERT_EQ(results.got.size(), 1u);
  EXPECT_EQ(results.got[0].first, 2);
  EXPECT_TRUE(results.got[0].second.ok());
}

TEST_F(ProjectionHostTest, ManyAwaitAsyncCallbacksEachRunOnce) {
  const uint64_t head = AppendTo("s", 5);
  auto host = NewHost(std::make_unique<CountingProjection>());
  ASSERT_TRUE(host->Start().ok());
  ASSERT_TRUE(host->Await(kCounts, head, Deadline()).ok());

  constexpr int kWaiters = 200;
  Results results;
  std::vector<uint64_t> ids(kWaiters);
  // Positions head+1 .. head+100, twice; every 7th is cancelled.
  for (int i = 0; i < kWaiters; ++i) {
    ASSERT_FALSE(host->AwaitAsync(kCounts, head + 1 + i % 100, Deadline(),
                                  results.For(i), &ids[i])
                     .has_value());
  }
  int cancelled = 0;
  for (int i = 0; i < kWaiters; i += 7) {
    EXPECT_TRUE(host->CancelAwait(ids[i]));
    ++cancelled;
  }
  // Appended from another thread, in small requests, while more wait.
  std::thread writer([&] {
    for (int i = 0; i < 50; ++i) AppendTo("s", 2);
  });
  // Past the end: released by Stop.
  uint64_t beyond = 0;
  ASSERT_FALSE(host->AwaitAsync(kCounts, head + 1000, Deadline(),
                                results.For(kWaiters), &beyond)
                   .has_value());
  writer.join();
  ASSERT_TRUE(results.AwaitCount(kWaiters - cancelled));
  EXPECT_EQ(host->waiting(), 1u);
  host->Stop();
  EXPECT_EQ(host->waiting(), 0u);
  absl::MutexLock lock(&results.mu);
  ASSERT_EQ(results.got.size(), static_cast<size_t>(kWaiters - cancelled + 1));
  std::vector<int> runs(kWaiters + 1, 0);
  for (const auto& [tag, status] : results.got) {
    ++runs[tag];
    if (tag == kWaiters) {
      EXPECT_TRUE(StatusIs(status, absl::StatusCode::kUnavailable,
                           {"stopped at position"}))
          << status;
    } else {
      EXPECT_TRUE(status.ok()) << tag << ": " << status;
    }
  }
  for (int i = 0; i < kWaiters; ++i) {
    EXPECT_EQ(runs[i], i % 7 == 0 ? 0 : 1) << i;
  }
  EXPECT_EQ(runs[kWaiters], 1);
  // A stopped host answers at once.
  uint64_t id = 0;
  std::optional<ProjectionHost::AwaitResult> now =
      host->AwaitAsync(kCounts, head + 1000, Deadline(), results.For(-1), &id);
  ASSERT_TRUE(now.has_value());
  EXPECT_TRUE(StatusIs(now->status(), absl::StatusCode::kUnavailable));
}

// ---------------------------------------------------------------------------
// 9. Random concurrent workload: live state equals a rebuild.

TEST_F(ProjectionHostTest, LiveStateUnderConcurrentAppendsEqualsARebuild) {
  std::map<std::string, int64_t> tally;
  AppendSpread(300, 3, &tally);
  auto host = NewHost(std::make_unique<CountingProjection>());
  ASSERT_TRUE(host->Start().ok());

  constexpr int kThreads = 4;
  constexpr int kAppendsPerThread = 80;
  std::vector<std::map<std::string, int64_t>> tallies(kThreads);
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([this, t, &tallies] {
      std::mt19937 rng(1234 + t);
      for (int i = 0; i < kAppendsPerThread; ++i) {
        const std::string stream =
            absl::StrCat("r-", std::uniform_int_distribution<int>(0, 11)(rng));
        const int n = std::uniform_int_distribution<int>(1, 6)(rng);
        std::vector<v1::ProposedEvent> events;
        for (int j = 0; j < n; ++j) events.push_back(OpaqueEvent("d"));
        absl::StatusOr<storage::AppendResult> r = log_->Append(Request(
            stream, storage::ExpectedVersion::Any(), std::move(events)));
        EXPECT_TRUE(r.ok()) << r.status();
        if (r.ok()) tallies[t][stream] += n;
      }
    });
  }
  // Reads while it runs: each lease's generation has applied what it asked.
  for (int i = 0; i < 20; ++i) {
    const uint64_t at = Head();
    absl::StatusOr<std::shared_ptr<const GenerationLease>> lease =
        host->Await(kCounts, at, Deadline());
    ASSERT_TRUE(lease.ok()) << lease.status();
    absl::StatusOr<std::optional<ProjectionCheckpoint>> cp =
        store_->ReadCheckpoint(kCounts, (*lease)->generation());
    ASSERT_TRUE(cp.ok() && cp->has_value());
    EXPECT_GE((*cp)->position, at);
  }
  for (std::thread& w : writers) w.join();
  for (const auto& t : tallies) {
    for (const auto& [stream, n] : t) tally[stream] += n;
  }
  const uint64_t head = Head();
  absl::StatusOr<std::shared_ptr<const GenerationLease>> live =
      host->Await(kCounts, head, Deadline());
  ASSERT_TRUE(live.ok()) << live.status();
  ASSERT_EQ((*live)->generation(), 1u);
  const State live_state = ScanAll(*store_, kCounts, 1);
  EXPECT_EQ(live_state, ExpectedCounts(tally));

  ASSERT_TRUE(host->Rebuild(kCounts).ok());
  std::shared_ptr<const GenerationLease> rebuilt =
      AwaitGeneration(*host, kCounts, head, 2);
  ASSERT_NE(rebuilt, nullptr);
  EXPECT_EQ(ScanAll(*store_, kCounts, 2), live_state);
  EXPECT_EQ(ScanAll(*store_, kCounts, 1), live_state);  // still leased
}

}  // namespace
}  // namespace ycr::projections
