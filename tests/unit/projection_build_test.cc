// Tests of the bulk build path: the shared log reader (one decode for every
// runner catching up), a build batch's spills (sorted runs set aside and
// merged into the generation at its next commit), and a runner building
// from position 1 through them. Real RocksDbEventLog in a temporary
// directory.

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/proto_bytes.h"
#include "gtest/gtest.h"
#include "projections/audit_trail.h"
#include "projections/host.h"
#include "projections/projection.h"
#include "projections/runner.h"
#include "projections/shared_reader.h"
#include "storage/projection_store.h"
#include "storage/rocksdb_event_log.h"
#include "tests/unit/test_util.h"

namespace ycr::projections {
namespace {

using ::ycr::storage::ProjectionBatch;
using ::ycr::storage::ProjectionCheckpoint;
using ::ycr::test::OpaqueEvent;
using ::ycr::test::Request;
using ::ycr::test::TempDir;

using State = std::map<std::string, std::string>;

// A log in `dir`, unsynced, with a small block cache.
std::unique_ptr<storage::RocksDbEventLog> LogIn(const std::string& dir,
                                                Clock* clock) {
  storage::RocksDbEventLogOptions o;
  o.path = dir;
  o.clock = clock;
  o.sync = false;
  o.block_cache_bytes = 1 << 20;
  auto log = storage::RocksDbEventLog::Open(std::move(o));
  EXPECT_TRUE(log.ok()) << log.status();
  return log.ok() ? *std::move(log) : nullptr;
}

class ProjectionBuildTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log_ = LogIn(dir_.path(), &clock_);
    ASSERT_NE(log_, nullptr);
    store_ = log_->NewProjectionStore();
  }

  // Appends `n` opaque events spread over `streams` streams; the head.
  uint64_t Append(int n, int streams) {
    uint64_t last = 0;
    for (int i = 0; n > 0; ++i) {
      const int k = std::min(n, 50);
      std::vector<v1::ProposedEvent> events;
      for (int j = 0; j < k; ++j) events.push_back(OpaqueEvent("d"));
      absl::StatusOr<storage::AppendResult> r = log_->Append(
          Request(absl::StrCat("s-", i % streams),
                  storage::ExpectedVersion::Any(), std::move(events)));
      EXPECT_TRUE(r.ok()) << r.status();
      if (!r.ok()) return 0;
      last = r->last_position;
      n -= k;
    }
    return last;
  }

  State Scan(const std::string& projection, uint32_t generation) {
    State out;
    absl::Status s =
        store_->Scan(projection, generation, "", "",
                     [&](absl::string_view k, absl::string_view v) {
                       out.emplace(std::string(k), std::string(v));
                       return true;
                     });
    EXPECT_TRUE(s.ok()) << s;
    return out;
  }

  // Files a build left beside the store.
  size_t BuildFiles() {
    std::error_code ec;
    size_t n = 0;
    for (const auto& f : std::filesystem::directory_iterator(
             dir_.path() + "/projection-build", ec)) {
      (void)f;
      ++n;
    }
    return n;
  }

  TempDir dir_;
  ManualClock clock_{absl::FromUnixSeconds(1700000000)};
  std::unique_ptr<storage::RocksDbEventLog> log_;
  std::unique_ptr<storage::ProjectionStore> store_;
};

// What every event visited, in order.
std::vector<std::string> Visit(SharedLogReader& reader, uint64_t from,
                               uint64_t* next) {
  std::vector<std::string> out;
  absl::Status s = reader.ForEach(
      from,
      [&](const v1::RecordedEvent& e) {
        out.push_back(e.SerializeAsString());
        return absl::OkStatus();
      },
      next);
  EXPECT_TRUE(s.ok()) << s;
  return out;
}

TEST_F(ProjectionBuildTest, SharedReaderVisitsWhatTheLogHoldsDecodingOnce) {
  const uint64_t head = Append(1000, 7);
  std::vector<std::string> expected;
  uint64_t next = 0;
  ASSERT_TRUE(log_->ForEach(
                      1, 0,
                      [&](const v1::RecordedEvent& e) {
                        expected.push_back(e.SerializeAsString());
                        return absl::OkStatus();
                      },
                      &next)
                  .ok());
  ASSERT_EQ(expected.size(), head);
  // 1000 events: 15 whole chunks of 64, and a tail of 40 read directly.
  SharedLogReader reader(
      log_.get(),
      {.chunk_events = 64,
       .max_chunks = 32,
       .readahead_chunks = 2,
       .idle_drop = absl::InfiniteDuration()});  // Kept between the visits.
  EXPECT_EQ(Visit(reader, 1, &next), expected);
  EXPECT_EQ(next, head + 1);
  EXPECT_EQ(reader.chunks_decoded(), 15u);
  // A second reader, and one starting inside a chunk: the chunks kept
  // serve them, nothing is decoded again.
  EXPECT_EQ(Visit(reader, 0, &next), expected);
  std::vector<std::string> tail = Visit(reader, 100, &next);
  EXPECT_EQ(tail,
            std::vector<std::string>(expected.begin() + 99, expected.end()));
  EXPECT_EQ(reader.chunks_decoded(), 15u);
  // Appends after: the new whole chunks are read too.
  const uint64_t later = Append(100, 3);
  EXPECT_EQ(Visit(reader, head + 1, &next).size(), later - head);
  EXPECT_EQ(next, later + 1);
  EXPECT_GT(reader.chunks_held(), 0u);
}

TEST_F(ProjectionBuildTest, SharedReaderFreesItsChunksOnceIdle) {
  Append(1000, 7);
  SharedLogReader reader(log_.get(), {.chunk_events = 64,
                                      .max_chunks = 32,
                                      .readahead_chunks = 2,
                                      .idle_drop = absl::ZeroDuration()});
  uint64_t next = 0;
  EXPECT_EQ(Visit(reader, 1, &next).size(), 1000u);
  // Nothing decoded stays once nobody reads.
  EXPECT_TRUE(reader.AwaitNoChunks(absl::Seconds(10)));
}

TEST_F(ProjectionBuildTest, SharedReaderServesConcurrentReadersAndStops) {
  const uint64_t head = Append(3000, 5);
  SharedLogReader reader(
      log_.get(),
      {.chunk_events = 100, .max_chunks = 4, .readahead_chunks = 2});
  // Three readers at once, with a window smaller than the log: each sees
  // every event in order; chunks evicted under a slow reader are decoded
  // again for it.
  std::vector<std::vector<uint64_t>> seen(3);
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      uint64_t next = 0;
      absl::Status s = reader.ForEach(
          1,
          [&](const v1::RecordedEvent& e) {
            seen[t].push_back(e.position());
            if (t == 2 && e.position() % 500 == 0) {
              std::this_thread::yield();  // A slower reader.
            }
            return absl::OkStatus();
          },
          &next);
      EXPECT_TRUE(s.ok()) << s;
    });
  }
  for (std::thread& t : threads) t.join();
  for (const auto& positions : seen) {
    ASSERT_EQ(positions.size(), head);
    for (uint64_t i = 0; i < head; ++i) ASSERT_EQ(positions[i], i + 1);
  }
  // A visitor's error ends the read at that event.
  uint64_t next = 0;
  absl::Status s = reader.ForEach(
      1,
      [](const v1::RecordedEvent& e) {
        return e.position() == 250 ? absl::CancelledError("enough")
                                   : absl::OkStatus();
      },
      &next);
  EXPECT_TRUE(absl::IsCancelled(s)) << s;
  EXPECT_EQ(next, 250u);
}

TEST_F(ProjectionBuildTest, SpilledRunsAreReadBackAndMergedNewestFirst) {
  std::unique_ptr<ProjectionBatch> batch =
      store_->NewBuildBatch("p", 1, /*cache_bytes=*/0);
  batch->Put("a", "1");
  batch->Put("b", "1");
  batch->Put("c", "1");
  absl::StatusOr<bool> spilled = store_->Spill(*batch);
  ASSERT_TRUE(spilled.ok() && *spilled) << spilled.status();
  EXPECT_EQ(batch->staged_bytes(), 0u);
  // Nothing of a spill is in the store, nor checkpointed.
  EXPECT_EQ(*store_->Get("p", 1, "a"), std::nullopt);
  EXPECT_EQ(*store_->ReadCheckpoint("p", 1), std::nullopt);
  EXPECT_EQ(BuildFiles(), 1u);
  // A cache of 0 keeps nothing in memory: reads come from the run.
  EXPECT_EQ(*batch->Get("a"), std::optional<std::string>("1"));
  batch->Put("a", "2");
  batch->Delete("b");
  batch->Put("d", "2");
  ASSERT_TRUE(*store_->Spill(*batch));
  // The newest run wins, a deletion too.
  EXPECT_EQ(*batch->Get("a"), std::optional<std::string>("2"));
  EXPECT_EQ(*batch->Get("b"), std::nullopt);
  EXPECT_EQ(*batch->Get("c"), std::optional<std::string>("1"));
  EXPECT_EQ(*batch->Get("z"), std::nullopt);
  batch->Put("c", "3");
  batch->Put("b", "3");
  batch->Delete("d");
  ASSERT_TRUE(store_->Commit(*batch, ProjectionCheckpoint{42, 7}).ok());
  EXPECT_EQ(Scan("p", 1), (State{{"a", "2"}, {"b", "3"}, {"c", "3"}}));
  const auto checkpoint = *store_->ReadCheckpoint("p", 1);
  ASSERT_TRUE(checkpoint.has_value());
  EXPECT_EQ(checkpoint->position, 42u);
  // The runs are gone with the commit; the batch goes on over the store.
  EXPECT_EQ(BuildFiles(), 0u);
  EXPECT_EQ(*batch->Get("a"), std::optional<std::string>("2"));
  batch->Delete("a");
  ASSERT_TRUE(*store_->Spill(*batch));
  ASSERT_TRUE(store_->Commit(*batch, ProjectionCheckpoint{43, 7}).ok());
  EXPECT_EQ(Scan("p", 1), (State{{"b", "3"}, {"c", "3"}}));
  // A dropped batch takes its runs with it.
  batch->Put("e", "4");
  ASSERT_TRUE(*store_->Spill(*batch));
  EXPECT_EQ(BuildFiles(), 1u);
  batch = nullptr;
  EXPECT_EQ(BuildFiles(), 0u);
  EXPECT_EQ(Scan("p", 1), (State{{"b", "3"}, {"c", "3"}}));
}

TEST_F(ProjectionBuildTest, ABuildBatchKeepsWhatItReadAcrossSpillsOfMuchMore) {
  // Keys and values live in the batch's arena; a spill drops what was only
  // written and moves what was read to a fresh one, whose blocks the next
  // writes reuse: what was read must still read back right, from memory.
  std::unique_ptr<ProjectionBatch> batch =
      store_->NewBuildBatch("p", 1, /*cache_bytes=*/64 << 20);
  State model;
  const std::string big(4096, 'x');
  for (int round = 0; round < 4; ++round) {
    for (int i = 0; i < 1000; ++i) {  // ~4 MiB written, never read.
      const std::string key = absl::StrCat("w", round, "-", i);
      const std::string value = absl::StrCat(big, round, i);
      batch->Put(key, value);
      model[key] = value;
    }
    for (int i = 0; i < 50; ++i) {  // Read, then kept in memory.
      const std::string key = absl::StrCat("r", i);
      const std::optional<std::string> was = *batch->Get(key);
      EXPECT_EQ(was, model.count(key) > 0
                         ? std::optional<std::string>(model[key])
                         : std::nullopt)
          << key << " in round " << round;
      if (i % 7 == 3) {
        batch->Delete(key);
        model.erase(key);
      } else {
        const std::string value = absl::StrCat("v", round, "-", i);
        batch->Put(key, value);
        model[key] = value;
      }
    }
    ASSERT_TRUE(*store_->Spill(*batch));
  }
  for (const auto& [key, value] : model) {
    ASSERT_EQ(*batch->Get(key), std::optional<std::string>(value)) << key;
  }
  ASSERT_TRUE(store_->Commit(*batch, ProjectionCheckpoint{9, 7}).ok());
  EXPECT_EQ(Scan("p", 1), model);
}

TEST_F(ProjectionBuildTest, NewKeysPutBesideTheMapAreSpilledAndMergedInOrder) {
  // PutNew keeps a key out of the batch's map: it must still reach the
  // runs and the commit, in key order among the map's changes.
  std::unique_ptr<ProjectionBatch> batch =
      store_->NewBuildBatch("p", 1, /*cache_bytes=*/1 << 20);
  State model;
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 300; ++i) {
      // Interleaved with the map's keys: "k<i>" from Put, "k<i>n<round>"
      // from PutNew.
      const std::string key = absl::StrCat("k", i);
      const std::string fresh = absl::StrCat(key, "n", round);
      batch->Put(key, absl::StrCat("v", round));
      batch->PutNew(fresh, absl::StrCat("n", round, "-", i));
      model[key] = absl::StrCat("v", round);
      model[fresh] = absl::StrCat("n", round, "-", i);
    }
    EXPECT_GT(batch->staged_bytes(), 0u);
    if (round < 2) {
      ASSERT_TRUE(*store_->Spill(*batch));
    }
  }
  // Read back from the runs.
  EXPECT_EQ(*batch->Get("k7n0"), std::optional<std::string>("n0-7"));
  ASSERT_TRUE(store_->Commit(*batch, ProjectionCheckpoint{5, 7}).ok());
  EXPECT_EQ(Scan("p", 1), model);
}

TEST(ProjectionBuildFilesTest, AStoreRemovesWhatADeadBuildLeft) {
  TempDir dir;
  std::filesystem::create_directories(dir.path() + "/projection-build");
  const std::string left = dir.path() + "/projection-build/p-1-0-0-run.sst";
  { std::ofstream(left) << "state of a build that died"; }
  std::unique_ptr<storage::RocksDbEventLog> log = LogIn(dir.path(), nullptr);
  ASSERT_NE(log, nullptr);
  EXPECT_TRUE(std::filesystem::exists(left));
  std::unique_ptr<storage::ProjectionStore> store = log->NewProjectionStore();
  EXPECT_FALSE(std::filesystem::exists(left));
}

// Counts events per stream; reads its state back for every event.
class Counting : public Projection {
 public:
  const std::string& name() const override {
    static const std::string* const kName = new std::string("counts");
    return *kName;
  }
  uint32_t code_version() const override { return 1; }
  absl::Status Apply(const v1::RecordedEvent& event,
                     ProjectionBatch& batch) override {
    absl::StatusOr<std::optional<std::string>> n = batch.Get(event.stream());
    if (!n.ok()) return n.status();
    int64_t count = 0;
    if (n->has_value()) count = std::stoll(**n);
    batch.Put(event.stream(), absl::StrCat(count + 1));
    // A write-only key per event, never read back.
    batch.Put(absl::StrCat("e/", event.position()), event.stream());
    return absl::OkStatus();
  }
};

TEST_F(ProjectionBuildTest, BuildFromTheStartSpillsAndCommitsOnceAtTheHead) {
  const uint64_t head = Append(3000, 9);
  Counting counting;
  RunnerOptions options;
  options.build_min_events = 100;
  options.build_batch_bytes = 4 << 10;  // Spills every ~200 events.
  options.build_cache_bytes = 0;
  std::vector<std::pair<uint64_t, bool>> reports;
  std::vector<uint64_t> checkpoints;
  ProjectionRunner runner(log_.get(), store_.get(), &counting, 1, options);
  ASSERT_TRUE(runner
                  .Start([&](uint64_t applied, bool at_head) {
                    reports.emplace_back(applied, at_head);
                    auto cp = store_->ReadCheckpoint("counts", 1);
                    checkpoints.push_back(
                        cp.ok() && cp->has_value() ? (*cp)->position : 0);
                  })
                  .ok());
  ASSERT_TRUE(runner.WaitFor(head, absl::Now() + absl::Seconds(30)).ok());
  runner.Stop();
  ASSERT_GT(reports.size(), 5u);
  // Every report before the head is a spill: no checkpoint yet; the first
  // commit is at the head, with everything.
  for (size_t i = 0; i < reports.size(); ++i) {
    if (reports[i].first < head) {
      EXPECT_FALSE(reports[i].second);
      EXPECT_EQ(checkpoints[i], 0u) << "a checkpoint before the head";
    }
  }
  EXPECT_EQ(store_->ReadCheckpoint("counts", 1)->value().position, head);
  EXPECT_EQ(BuildFiles(), 0u);
  // The same state as a runner that commits every run.
  RunnerOptions plain = options;
  plain.build_min_events = 0;
  ProjectionRunner other(log_.get(), store_.get(), &counting, 2, plain);
  ASSERT_TRUE(other.Start().ok());
  ASSERT_TRUE(other.WaitFor(head, absl::Now() + absl::Seconds(30)).ok());
  other.Stop();
  const State built = Scan("counts", 1);
  EXPECT_EQ(built.size(), 9u + head);
  EXPECT_EQ(built, Scan("counts", 2));
}

// A wall clock one second further on each time it is read.
class TickingClock : public Clock {
 public:
  absl::Time Now() const override {
    return absl::FromUnixSeconds(1800000000 + ticks_++);
  }

 private:
  mutable std::atomic<int64_t> ticks_{0};
};

TEST_F(ProjectionBuildTest, ARebuildThroughSpillsReportsProgressRateAndEta) {
  const uint64_t head = Append(3000, 9);
  RunnerOptions options;
  options.build_min_events = 100;
  options.build_batch_bytes = 4 << 10;  // Spills every ~200 events.
  options.build_cache_bytes = 0;
  options.shared_reader_options.chunk_events = 256;
  ProjectionHost host(log_.get(), store_.get(), options);
  host.Add(std::make_unique<Counting>());
  std::ostringstream lines;
  Logger logger(&lines, LogFormat::kText, LogLevel::kInfo);
  TickingClock wall;
  host.SetProgressLog(&logger, &wall, absl::ZeroDuration());
  ASSERT_TRUE(host.Start().ok());
  ASSERT_TRUE(host.Await("counts", head, absl::Now() + absl::Seconds(30)).ok());
  ASSERT_TRUE(host.Rebuild("counts").ok());
  ASSERT_TRUE(
      host.AwaitRebuilt("counts", absl::Now() + absl::Seconds(30)).ok());
  host.Stop();
  // Nothing is committed before the head, yet every spill reports how far
  // the build has come, at a rate and with an end in sight.
  std::istringstream in(lines.str());
  std::string line;
  uint64_t last = 0;
  int before_head = 0;
  bool done = false;
  const std::string of = absl::StrCat(" of=", head, " ");
  while (std::getline(in, line)) {
    SCOPED_TRACE(line);
    const size_t at = line.find(" applied=");
    ASSERT_NE(at, std::string::npos);
    const uint64_t applied = std::stoull(line.substr(at + 9));
    EXPECT_NE(line.find(of), std::string::npos);
    EXPECT_GE(applied, last);
    last = applied;
    if (line.find("projection_rebuild_done") != std::string::npos) {
      EXPECT_EQ(applied, head);
      EXPECT_NE(line.find("percent=100.0"), std::string::npos);
      EXPECT_NE(line.find("eta_seconds=0"), std::string::npos);
      done = true;
    } else if (applied > 0 && applied < head) {
      ++before_head;
      EXPECT_EQ(line.find("events_per_second=0 "), std::string::npos);
      EXPECT_EQ(line.find("eta_seconds=unknown"), std::string::npos);
    }
  }
  EXPECT_TRUE(done) << lines.str();
  EXPECT_GE(before_head, 5) << lines.str();
  EXPECT_EQ(store_->ReadCheckpoint("counts", 2)->value().position, head);
}

TEST(AuditEntryBytesTest, AreTheEntrysDeterministicBytes) {
  v1::RecordedEvent event;
  event.set_position(77);
  event.set_stream("sharing-subj-1");
  event.set_stream_version(3);
  event.set_hash(std::string(32, '\x01'));
  event.set_prev_hash(std::string(32, '\x02'));
  auto* d = event.mutable_payload()->mutable_disclosure_recorded();
  d->set_subject_id("subj-1");
  d->mutable_from()->set_organisation("urn-100001");
  d->mutable_to()->set_organisation("ycs-0001");
  d->add_categories(v1::DATA_CATEGORY_IDENTITY);
  d->add_categories(v1::DATA_CATEGORY_WELLBEING);
  const std::vector<const v1::DisclosureRecorded*> disclosures = {nullptr, d};
  for (const v1::DisclosureRecorded* disclosure : disclosures) {
    for (const std::string subject : {"subj-1", ""}) {
      v1::AuditEntry entry;
      *entry.mutable_event() = event;
      if (disclosure != nullptr) *entry.mutable_disclosure() = *disclosure;
      entry.set_subject_id(subject);
      EXPECT_EQ(AuditEntryBytes(event, disclosure, subject),
                DeterministicBytes(entry));
    }
  }
  // An empty event and disclosure are still present.
  v1::AuditEntry empty;
  empty.mutable_event();
  empty.mutable_disclosure();
  EXPECT_EQ(AuditEntryBytes(v1::RecordedEvent(), &empty.disclosure(), ""),
            DeterministicBytes(empty));
}

}  // namespace
}  // namespace ycr::projections
