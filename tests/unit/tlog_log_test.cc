// The log's Merkle tree as RocksDbEventLog stores it: every stored hash and
// every root agree with the tree computed independently from the leaves
// (ReadLeaf), across tile edges, group commits, concurrent appends, reopen,
// idempotent retries and erasure; proofs from common/tlog verify; a
// tampered tree fails verification naming where.

#include <rocksdb/db.h>

#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "common/ids.h"
#include "common/metrics.h"
#include "common/tlog.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "gtest/gtest.h"
#include "storage/event_log.h"
#include "storage/key_format.h"
#include "storage/record_codec.h"
#include "storage/rocksdb_event_log.h"
#include "tests/unit/raw_store.h"
#include "tests/unit/test_util.h"
#include "tests/unit/tlog_reference.h"

namespace ycr::storage {
namespace {

using ::ycr::test::OneEvent;
using ::ycr::test::OpaqueEvent;
using ::ycr::test::Request;
using ::ycr::test::StatusIs;
using ::ycr::test::TempDir;

using ::ycr::test::ReferenceTreeHash;

class TlogLogTest : public ::testing::Test {
 protected:
  RocksDbEventLogOptions Options() {
    RocksDbEventLogOptions options;
    options.path = path_;
    options.sync = false;
    options.block_cache_bytes = 1 << 20;
    return options;
  }
  std::unique_ptr<RocksDbEventLog> Open() {
    absl::StatusOr<std::unique_ptr<RocksDbEventLog>> log =
        RocksDbEventLog::Open(Options());
    EXPECT_TRUE(log.ok()) << log.status();
    return log.ok() ? *std::move(log) : nullptr;
  }

  // The leaf hashes of records 1..head, from ReadLeaf.
  static std::vector<tlog::Hash> LeafHashes(EventLog& log) {
    std::vector<tlog::Hash> leaves;
    const uint64_t head = log.GetHead().position;
    for (uint64_t p = 1; p <= head; ++p) {
      absl::StatusOr<std::string> leaf = log.ReadLeaf(p);
      EXPECT_TRUE(leaf.ok()) << leaf.status();
      if (!leaf.ok()) return {};
      leaves.push_back(tlog::RecordHash(*leaf));
    }
    return leaves;
  }

  // Every stored hash, in chunks of 1000.
  static std::vector<tlog::Hash> AllStoredHashes(EventLog& log) {
    const int64_t count =
        tlog::StoredHashCount(static_cast<int64_t>(log.GetHead().position));
    std::vector<tlog::Hash> out;
    for (int64_t at = 0; at < count; at += 1000) {
      std::vector<int64_t> indexes;
      for (int64_t i = at; i < std::min(count, at + 1000); ++i) {
        indexes.push_back(i);
      }
      absl::StatusOr<std::vector<tlog::Hash>> hashes =
          log.ReadTreeHashes(indexes);
      EXPECT_TRUE(hashes.ok()) << hashes.status();
      if (!hashes.ok()) return {};
      out.insert(out.end(), hashes->begin(), hashes->end());
    }
    return out;
  }

  // Checks every stored hash against tlog::StoredHashes over the leaves and
  // the root against the reference recursion; returns the root.
  static tlog::Hash ExpectTreeMatchesLeaves(EventLog& log) {
    const std::vector<tlog::Hash> leaves = LeafHashes(log);
    std::vector<tlog::Hash> expected;
    tlog::HashReader from_expected = [&](absl::Span<const int64_t> indexes)
        -> absl::StatusOr<std::vector<tlog::Hash>> {
      std::vector<tlog::Hash> out;
      for (int64_t i : indexes) out.push_back(expected.at(i));
      return out;
    };
    for (size_t n = 0; n < leaves.size(); ++n) {
      absl::StatusOr<std::vector<tlog::Hash>> stored =
          tlog::StoredHashes(static_cast<int64_t>(n), leaves[n], from_expected);
      EXPECT_TRUE(stored.ok()) << stored.status();
      expected.insert(expected.end(), stored->begin(), stored->end());
    }
    EXPECT_EQ(AllStoredHashes(log), expected);
    const tlog::Hash reference = ReferenceTreeHash(leaves, 0, leaves.size());
    absl::StatusOr<tlog::Hash> root = tlog::TreeHash(
        static_cast<int64_t>(leaves.size()), TreeHashReader(log));
    EXPECT_TRUE(root.ok()) << root.status();
    EXPECT_EQ(*root, reference) << "size " << leaves.size();
    return reference;
  }

  static void AppendOne(EventLog& log, int i) {
    absl::StatusOr<AppendResult> r =
        log.Append(OneEvent("s", ExpectedVersion::Any(), absl::StrCat(i)));
    ASSERT_TRUE(r.ok()) << r.status();
  }

  TempDir dir_;
  const std::string path_ = dir_.path() + "/store";
};

TEST_F(TlogLogTest, RootFromStoredHashesMatchesTheLeavesAcrossTileEdges) {
  auto log = Open();
  ExpectTreeMatchesLeaves(*log);  // Empty: SHA-256 of nothing.
  int appended = 0;
  for (int size : {1, 2, 3, 255, 256, 257}) {
    while (appended < size) AppendOne(*log, appended++);
    ExpectTreeMatchesLeaves(*log);
  }
}

TEST_F(TlogLogTest, GroupCommitsOfDifferentSizesAndConcurrentAppends) {
  MetricRegistry metrics;
  RocksDbEventLogOptions options = Options();
  options.sync = true;  // Slower commits: appends queue up behind them.
  options.metrics = &metrics;
  absl::StatusOr<std::unique_ptr<RocksDbEventLog>> opened =
      RocksDbEventLog::Open(options);
  ASSERT_TRUE(opened.ok()) << opened.status();
  std::unique_ptr<RocksDbEventLog> log = *std::move(opened);
  // Appends of several events each.
  for (int events : {3, 1, 64, 7, 200}) {
    std::vector<v1::ProposedEvent> batch;
    for (int i = 0; i < events; ++i) batch.push_back(OpaqueEvent("x"));
    ASSERT_TRUE(
        log->Append(Request("multi", ExpectedVersion::Any(), std::move(batch)))
            .ok());
  }
  ExpectTreeMatchesLeaves(*log);
  // Many appends in flight at once: the writer commits them in groups, and
  // later records of a group build on earlier ones not yet stored.
  constexpr int kThreads = 4;
  constexpr int kPerThread = 60;
  absl::BlockingCounter done(kThreads * kPerThread);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        log->AppendAsync(OneEvent(absl::StrCat("t", t), ExpectedVersion::Any(),
                                  absl::StrCat(i)),
                         [&](absl::StatusOr<AppendResult> r) {
                           EXPECT_TRUE(r.ok()) << r.status();
                           done.DecrementCount();
                         });
      }
    });
  }
  for (std::thread& t : threads) t.join();
  done.Wait();
  EXPECT_EQ(log->GetHead().position, 275u + kThreads * kPerThread);
  ExpectTreeMatchesLeaves(*log);
  // Some commits took several appends (fewer commits than appends).
  const std::string text = metrics.Render();
  const size_t at = text.find("ycr_log_commit_batch_appends_count ");
  ASSERT_NE(at, std::string::npos) << text;
  EXPECT_LT(std::stoi(text.substr(at + 35)), 5 + kThreads * kPerThread);
}

// Readers proving while the writer appends: every head a reader sees has
// its whole tree stored (the head is published after the write), and each
// tree it sees is consistent with the one it saw before.
TEST_F(TlogLogTest, ReadersSeeAConsistentTreeAtEveryHeadWhileAppendsGoOn) {
  auto log = Open();
  std::atomic<bool> done{false};
  std::atomic<int> checked{0};
  std::thread reader([&] {
    int64_t old_size = 0;
    tlog::Hash old_root = tlog::EmptyTreeHash();
    const tlog::HashReader read = TreeHashReader(*log);
    while (!done.load()) {
      const int64_t size = static_cast<int64_t>(log->GetHead().position);
      absl::StatusOr<tlog::Hash> root = tlog::TreeHash(size, read);
      ASSERT_TRUE(root.ok()) << root.status();
      absl::StatusOr<std::vector<tlog::Hash>> proof =
          tlog::ConsistencyProof(old_size, size, read);
      ASSERT_TRUE(proof.ok()) << proof.status();
      ASSERT_TRUE(
          tlog::VerifyConsistency(old_size, size, old_root, *root, *proof).ok())
          << old_size << " to " << size;
      old_size = size;
      old_root = *root;
      checked.fetch_add(1);
    }
  });
  for (int i = 0; i < 300; ++i) AppendOne(*log, i);
  done = true;
  reader.join();
  EXPECT_GT(checked.load(), 0);
  ExpectTreeMatchesLeaves(*log);
}

TEST_F(TlogLogTest, InclusionAndConsistencyProofsVerifyAgainstTheLog) {
  auto log = Open();
  for (int i = 0; i < 300; ++i) AppendOne(*log, i);
  const std::vector<tlog::Hash> leaves = LeafHashes(*log);
  const tlog::HashReader read = TreeHashReader(*log);
  for (int64_t size : {1, 2, 5, 256, 257, 300}) {
    const tlog::Hash root = ReferenceTreeHash(leaves, 0, size);
    for (int64_t index : {int64_t{0}, size / 2, size - 1}) {
      absl::StatusOr<std::vector<tlog::Hash>> proof =
          tlog::InclusionProof(index, size, read);
      ASSERT_TRUE(proof.ok()) << proof.status();
      EXPECT_TRUE(
          tlog::VerifyInclusion(index, size, leaves[index], *proof, root).ok())
          << index << " in " << size;
    }
    for (int64_t old_size : {int64_t{1}, size / 3, size - 1}) {
      if (old_size < 1) continue;
      absl::StatusOr<std::vector<tlog::Hash>> proof =
          tlog::ConsistencyProof(old_size, size, read);
      ASSERT_TRUE(proof.ok()) << proof.status();
      EXPECT_TRUE(tlog::VerifyConsistency(
                      old_size, size, ReferenceTreeHash(leaves, 0, old_size),
                      root, *proof)
                      .ok())
          << old_size << " to " << size;
    }
  }
}

TEST_F(TlogLogTest, TreeSurvivesReopenAndGrowsOnFromWhereItWas) {
  tlog::Hash root;
  {
    auto log = Open();
    for (int i = 0; i < 259; ++i) AppendOne(*log, i);
    root = ExpectTreeMatchesLeaves(*log);
  }
  for (uint64_t verify_tail : {uint64_t{1000}, uint64_t{0}, uint64_t{3}}) {
    RocksDbEventLogOptions options = Options();
    options.verify_tail_records = verify_tail;
    absl::StatusOr<std::unique_ptr<RocksDbEventLog>> log =
        RocksDbEventLog::Open(options);
    ASSERT_TRUE(log.ok()) << log.status();
    absl::StatusOr<tlog::Hash> reopened =
        tlog::TreeHash(259, TreeHashReader(**log));
    ASSERT_TRUE(reopened.ok());
    EXPECT_EQ(*reopened, root);
  }
  auto log = Open();
  for (int i = 0; i < 5; ++i) AppendOne(*log, i);
  ExpectTreeMatchesLeaves(*log);
  EXPECT_TRUE(log->VerifyChain(1, 0).ok());
}

TEST_F(TlogLogTest, IdempotentRetryAddsNoLeafAndNoHash) {
  auto log = Open();
  AppendRequest request = Request("s", ExpectedVersion::Any(),
                                  {OpaqueEvent("a"), OpaqueEvent("b")});
  ASSERT_TRUE(log->Append(request).ok());
  const std::vector<tlog::Hash> before = AllStoredHashes(*log);
  absl::StatusOr<AppendResult> retry = log->Append(request);
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_TRUE(retry->replayed);
  EXPECT_EQ(log->GetHead().position, 2u);
  EXPECT_EQ(AllStoredHashes(*log), before);
  EXPECT_TRUE(StatusIs(log->ReadTreeHashes({tlog::StoredHashCount(2)}).status(),
                       absl::StatusCode::kNotFound));
  AppendOne(*log, 3);  // The next record is leaf 2.
  ExpectTreeMatchesLeaves(*log);
}

// Store format 7: a record with no personal part still holds random bytes,
// so its chain hash and leaf hash cannot be tested against guesses of the
// fields a reader does not see.
TEST_F(TlogLogTest, EveryRecordHoldsRandomBytesItsHashesCover) {
  auto log = Open();
  ASSERT_TRUE(log->Append(Request("s", ExpectedVersion::Any(),
                                  {OpaqueEvent("a"), OpaqueEvent("b")}))
                  .ok());
  AppendOne(*log, 3);
  absl::StatusOr<LogSlice> all = log->ReadAll(1, 0, LogFilter{});
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->events.size(), 3u);
  std::set<std::string> salts;
  for (const v1::RecordedEvent& e : all->events) {
    EXPECT_EQ(e.salt().size(), 16u) << e.position();
    salts.insert(e.salt());
    absl::StatusOr<std::string> leaf = log->ReadLeaf(e.position());
    ASSERT_TRUE(leaf.ok()) << leaf.status();
    v1::RecordedEvent stored;
    ASSERT_TRUE(stored.ParseFromString(*leaf));
    EXPECT_EQ(stored.salt(), e.salt()) << "the leaf holds the salt";
    // Everything a reader might see, without the salt, hashes to something
    // else: the chain hash cannot be recomputed from it.
    v1::RecordedEvent unsalted = e;
    unsalted.clear_salt();
    unsalted.clear_hash();
    std::string canonical;
    {
      google::protobuf::io::StringOutputStream out(&canonical);
      google::protobuf::io::CodedOutputStream coded(&out);
      coded.SetSerializationDeterministic(true);
      unsalted.SerializeToCodedStream(&coded);
    }
    EXPECT_NE(Sha256(e.prev_hash(), canonical), e.hash());
    EXPECT_NE(canonical, *leaf);
  }
  EXPECT_EQ(salts.size(), 3u) << "each record draws its own";
  EXPECT_TRUE(log->VerifyChain(1, 3).ok());
}

TEST_F(TlogLogTest, ReadsPastTheHeadAreNotFoundAndBoundsAreEnforced) {
  auto log = Open();
  EXPECT_TRUE(StatusIs(log->ReadLeaf(1).status(), absl::StatusCode::kNotFound,
                       {"position"}));
  EXPECT_TRUE(StatusIs(log->ReadTreeHashes({0}).status(),
                       absl::StatusCode::kNotFound, {"indexes[0]"}));
  for (int i = 0; i < 3; ++i) AppendOne(*log, i);
  EXPECT_TRUE(log->ReadLeaf(3).ok());
  EXPECT_TRUE(StatusIs(log->ReadLeaf(0).status(), absl::StatusCode::kNotFound));
  EXPECT_TRUE(StatusIs(log->ReadLeaf(4).status(), absl::StatusCode::kNotFound));
  const int64_t count = tlog::StoredHashCount(3);  // 4: 3 leaves, 1 node.
  EXPECT_EQ(count, 4);
  EXPECT_TRUE(log->ReadTreeHashes({count - 1, 0}).ok());
  EXPECT_TRUE(StatusIs(log->ReadTreeHashes({0, count}).status(),
                       absl::StatusCode::kNotFound, {"indexes[1]"}));
  EXPECT_TRUE(StatusIs(log->ReadTreeHashes({-1}).status(),
                       absl::StatusCode::kNotFound, {"indexes[0]"}));
  std::vector<int64_t> too_many((1 << 16) + 1, 0);
  EXPECT_TRUE(StatusIs(log->ReadTreeHashes(too_many).status(),
                       absl::StatusCode::kInvalidArgument, {"indexes"}));
  EXPECT_TRUE(log->ReadTreeHashes({}).ok());
  // The leaf is the record as stored, without its chain hash.
  absl::StatusOr<LogSlice> slice = log->ReadAll(2, 1, {});
  ASSERT_TRUE(slice.ok());
  v1::RecordedEvent stored = slice->events.at(0);
  stored.clear_hash();
  EXPECT_EQ(*log->ReadLeaf(2), stored.SerializeAsString());
  log->Close();
  EXPECT_TRUE(
      StatusIs(log->ReadLeaf(1).status(), absl::StatusCode::kUnavailable));
  EXPECT_TRUE(StatusIs(log->ReadTreeHashes({0}).status(),
                       absl::StatusCode::kUnavailable));
}

// Erasure destroys keys; the leaves hold only ciphertext, so no leaf and no
// stored hash changes, and proofs made for older trees still verify.
TEST_F(TlogLogTest, ErasureChangesNoLeafAndNoStoredHash) {
  auto log = Open();
  for (int i = 0; i < 6; ++i) {
    v1::ProposedEvent e = OpaqueEvent("skeleton");
    e.mutable_payload()->mutable_personal()->set_subject_id("pupil-1");
    e.mutable_payload()->mutable_personal()->set_notes(
        absl::StrCat("cares for a parent ", i));
    ASSERT_TRUE(
        log->Append(Request("case-1", ExpectedVersion::Any(), {std::move(e)}))
            .ok());
    AppendOne(*log, i);
  }
  const int64_t old_size = 12;
  std::vector<std::string> leaves_before;
  for (uint64_t p = 1; p <= old_size; ++p) {
    leaves_before.push_back(*log->ReadLeaf(p));
  }
  const std::vector<tlog::Hash> hashes_before = AllStoredHashes(*log);
  const tlog::Hash old_root = ExpectTreeMatchesLeaves(*log);
  absl::StatusOr<std::vector<tlog::Hash>> inclusion =
      tlog::InclusionProof(2, old_size, TreeHashReader(*log));
  ASSERT_TRUE(inclusion.ok());

  AppendRequest erase = OneEvent("subject-pupil-1");
  erase.erase_subjects.push_back("pupil-1");
  ASSERT_TRUE(log->Append(erase).ok());
  v1::RecordedEvent revealed = log->ReadAll(1, 1, {})->events.at(0);
  ASSERT_TRUE(log->RevealPersonal(&revealed).ok());
  ASSERT_TRUE(revealed.payload().personal().erased());

  for (uint64_t p = 1; p <= old_size; ++p) {
    EXPECT_EQ(*log->ReadLeaf(p), leaves_before[p - 1]) << p;
  }
  std::vector<tlog::Hash> hashes_after = AllStoredHashes(*log);
  hashes_after.resize(hashes_before.size());
  EXPECT_EQ(hashes_after, hashes_before);
  const tlog::Hash new_root = ExpectTreeMatchesLeaves(*log);
  EXPECT_TRUE(tlog::VerifyInclusion(2, old_size,
                                    tlog::RecordHash(leaves_before[2]),
                                    *inclusion, old_root)
                  .ok());
  absl::StatusOr<std::vector<tlog::Hash>> consistency =
      tlog::ConsistencyProof(old_size, old_size + 1, TreeHashReader(*log));
  ASSERT_TRUE(consistency.ok());
  EXPECT_TRUE(tlog::VerifyConsistency(old_size, old_size + 1, old_root,
                                      new_root, *consistency)
                  .ok());
  EXPECT_TRUE(log->VerifyChain(1, 0).ok());
}

// A stored hash changed or removed behind the log's back: VerifyChain (and
// so ycr-server verify), and opening with the tail checked, fail with
// DATA_LOSS naming the first bad position and index.
TEST_F(TlogLogTest, TamperedTreeHashFailsVerificationNamingWhere) {
  {
    auto log = Open();
    for (int i = 0; i < 20; ++i) AppendOne(*log, i);
  }
  // Record 5 (position 6) stores index StoredHashIndex(0, 5) = 8 (its leaf)
  // and 9 (level 1, records 4..5); neither is on the frontier of 20.
  const int64_t leaf = tlog::StoredHashIndex(0, 5);
  const int64_t node = tlog::StoredHashIndex(1, 2);
  ASSERT_EQ(node, leaf + 1);
  std::string value;
  {
    RawStore raw(path_);
    ASSERT_TRUE(raw.status().ok()) << raw.status().ToString();
    ASSERT_TRUE(raw.db()
                    ->Get(rocksdb::ReadOptions(), raw.cf(RawStore::kTree),
                          TreeHashKey(node), &value)
                    .ok());
    std::string tampered = value;
    tampered[0] ^= 1;
    ASSERT_TRUE(raw.Put(RawStore::kTree, TreeHashKey(node), tampered).ok());
  }
  EXPECT_TRUE(StatusIs(
      RocksDbEventLog::Open(Options()).status(), absl::StatusCode::kDataLoss,
      {"position 6", absl::StrCat("stored hash ", node), "differs"}));
  {
    RocksDbEventLogOptions options = Options();
    options.verify_tail_records = 0;
    absl::StatusOr<std::unique_ptr<RocksDbEventLog>> log =
        RocksDbEventLog::Open(options);
    ASSERT_TRUE(log.ok()) << log.status();
    EXPECT_TRUE(StatusIs((*log)->VerifyChain(1, 0), absl::StatusCode::kDataLoss,
                         {"position 6", absl::StrCat("stored hash ", node)}));
    EXPECT_TRUE((*log)->VerifyChain(1, 5).ok());
  }
  {
    RawStore raw(path_);
    ASSERT_TRUE(raw.Put(RawStore::kTree, TreeHashKey(node), value).ok());
    ASSERT_TRUE(raw.Delete(RawStore::kTree, TreeHashKey(leaf)).ok());
  }
  EXPECT_TRUE(StatusIs(
      RocksDbEventLog::Open(Options()).status(), absl::StatusCode::kDataLoss,
      {"position 6", absl::StrCat("stored hash ", leaf), "missing"}));
  ASSERT_TRUE(RawStore(path_)
                  .Put(RawStore::kTree, TreeHashKey(leaf), std::string(32, 'x'))
                  .ok());
  EXPECT_TRUE(StatusIs(RocksDbEventLog::Open(Options()).status(),
                       absl::StatusCode::kDataLoss, {"position 6"}));
}

// Format 4 stores have no tree, format 6 stores no salt: refused, saying
// what changed and what to do.
TEST_F(TlogLogTest, StoresOfEarlierFormatsAreRefusedSayingWhatChanged) {
  { auto log = Open(); }
  const std::pair<uint32_t, std::string> earlier[] = {{4, "Merkle tree"},
                                                      {6, "random bytes"}};
  for (const auto& [version, change] : earlier) {
    ASSERT_TRUE(RawStore(path_)
                    .Put(RawStore::kDefault, FormatVersionKey(),
                         EncodeFormatVersion(version))
                    .ok());
    EXPECT_TRUE(
        StatusIs(RocksDbEventLog::Open(Options()).status(),
                 absl::StatusCode::kFailedPrecondition,
                 {absl::StrCat("format version ", version),
                  "reads format version 7", change, "empty data directory"}));
  }
}

}  // namespace
}  // namespace ycr::storage
