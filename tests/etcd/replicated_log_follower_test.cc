// The follower of the replicated log (replication/
// replicated_log_follower.h) against a real etcd member: every entry the
// writer put, in order, verified, from a checkpoint; a tampered or
// out-of-order entry stops the node; entries compacted away ask for a
// restore; a failed apply is not checkpointed.

#include "replication/replicated_log_follower.h"

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "replication/replicated_log_writer.h"
#include "tests/etcd/etcd_suite.h"
#include "tests/etcd/replicated_entries.h"

namespace ycr::replication {
namespace {

using ::ycr::testing::MakeAppends;

class ReplicatedLogFollowerTest : public ::ycr::testing::EtcdSuite<1> {
 protected:
  void SetUp() override {
    EtcdSuite::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    options_.prefix = prefix_;
    auto writer = ReplicatedLogWriter::Open(client_.get(), options_, {});
    ASSERT_TRUE(writer.ok()) << writer.status();
    writer_ = std::move(*writer);
  }

  // Puts an entry at position 2 by hand, past the writer and its fence.
  void PutForged(const std::string& prev_entry_hash,
                 const v1::ReplicatedAppend& append) {
    v1::ReplicatedEntry forged;
    forged.set_first_position(2);
    forged.set_prev_entry_hash(prev_entry_hash);
    *forged.add_appends() = append;
    etcdserverpb::TxnRequest put;
    *put.add_success() =
        PutOp(EntryKey(options_.prefix, 2), forged.SerializeAsString());
    ASSERT_TRUE(client_->Txn(put).ok());
  }

  void WriteBatch(const std::vector<int>& records_per_append) {
    WriteResult w =
        writer_->Write(MakeAppends(writer_->head(), records_per_append));
    ASSERT_TRUE(w.status.ok()) << w.status;
  }

  // A follower that records what it applied.
  std::unique_ptr<ReplicatedLogFollower> Follower(
      FollowerCheckpoint from = EmptyCheckpoint()) {
    return std::make_unique<ReplicatedLogFollower>(
        client_.get(), options_.prefix, std::move(from),
        [this](const v1::ReplicatedEntry& entry,
               const FollowerCheckpoint& after) -> absl::Status {
          if (!apply_error_.ok()) return apply_error_;
          applied_.push_back(entry.first_position());
          checkpoints_.push_back(after);
          return absl::OkStatus();
        });
  }

  absl::Time Deadline() { return absl::Now() + absl::Seconds(10); }

  ReplicatedLogOptions options_;
  std::unique_ptr<ReplicatedLogWriter> writer_;
  std::vector<uint64_t> applied_;
  std::vector<FollowerCheckpoint> checkpoints_;
  absl::Status apply_error_;
};

TEST_F(ReplicatedLogFollowerTest, AppliesEveryEntryInOrderFromItsCheckpoint) {
  WriteBatch({2, 1});
  WriteBatch({1});
  WriteBatch({3});
  auto follower = Follower();
  ASSERT_TRUE(follower->Follow(7, Deadline()).ok());
  EXPECT_EQ(applied_, (std::vector<uint64_t>{1, 4, 5}));
  // The checkpoint is the writer's head, and the etcd revision it was at.
  EXPECT_EQ(follower->checkpoint().end.last_position, 7u);
  EXPECT_EQ(follower->checkpoint().end.last_record_hash,
            writer_->head().last_record_hash());
  EXPECT_EQ(follower->checkpoint().entry_hash, writer_->head().entry_hash());
  EXPECT_EQ(follower->checkpoint().revision, writer_->head_revision());

  // Live: entries written after it started following.
  std::thread later([this] {
    WriteBatch({1});
    WriteBatch({2});
  });
  ASSERT_TRUE(follower->Follow(10, Deadline()).ok());
  later.join();
  EXPECT_EQ(applied_, (std::vector<uint64_t>{1, 4, 5, 8, 9}));

  // A node restarted from a saved checkpoint applies only what came after.
  const FollowerCheckpoint saved = checkpoints_[2];
  applied_.clear();
  auto restarted = Follower(saved);
  ASSERT_TRUE(restarted->Follow(10, Deadline()).ok());
  EXPECT_EQ(applied_, (std::vector<uint64_t>{8, 9}));
}

TEST_F(ReplicatedLogFollowerTest, AnEntryThatDoesNotChainStopsTheNode) {
  WriteBatch({1});
  // A second entry that claims position 2 but whose previous-entry hash is
  // not the first entry's.
  PutForged(std::string(32, 'f'), MakeAppends(writer_->head(), {1})[0]);

  auto follower = Follower();
  absl::Status stopped = follower->Follow(2, Deadline());
  EXPECT_EQ(stopped.code(), absl::StatusCode::kDataLoss) << stopped;
  EXPECT_EQ(applied_, (std::vector<uint64_t>{1})) << "nothing past it";
  EXPECT_EQ(follower->checkpoint().end.last_position, 1u);
  // For good: the next call says the same without reading etcd.
  EXPECT_EQ(follower->Follow(2, Deadline()).code(),
            absl::StatusCode::kDataLoss);
}

TEST_F(ReplicatedLogFollowerTest, ARecordThatDoesNotChainStopsTheNode) {
  WriteBatch({1});
  // The right entry hash and position, but its record's bytes altered after
  // hashing.
  v1::ReplicatedAppend append = MakeAppends(writer_->head(), {1})[0];
  append.mutable_records(0)->back() ^= 1;
  PutForged(writer_->head().entry_hash(), append);

  auto follower = Follower();
  absl::Status stopped = follower->Follow(2, Deadline());
  EXPECT_EQ(stopped.code(), absl::StatusCode::kDataLoss) << stopped;
  EXPECT_NE(stopped.message().find("records[0]"), std::string::npos) << stopped;
  EXPECT_EQ(applied_.size(), 1u);
}

TEST_F(ReplicatedLogFollowerTest, EntriesTrimmedAwayAskForARestore) {
  WriteBatch({1});
  WriteBatch({1});
  WriteBatch({1});
  ASSERT_TRUE(Follower()->Follow(3, Deadline()).ok());
  ASSERT_EQ(checkpoints_.size(), 3u);
  const FollowerCheckpoint after_1 = checkpoints_[0];
  const FollowerCheckpoint after_2 = checkpoints_[1];
  // etcd's tail trimmed of entries 1 and 2, and compacted.
  etcdserverpb::TxnRequest trim;
  *trim.add_success() =
      DeleteOp(EntryKey(options_.prefix, 1), EntryKey(options_.prefix, 3));
  ASSERT_TRUE(client_->Txn(trim).ok());
  auto revision = client_->CurrentRevision();
  ASSERT_TRUE(revision.ok());
  ASSERT_TRUE(client_->Compact(*revision).ok());
  // A node that applied only entry 1 cannot get entry 2 any more.
  applied_.clear();
  auto behind = Follower(after_1);
  absl::Status stopped = behind->Follow(3, Deadline());
  EXPECT_EQ(stopped.code(), absl::StatusCode::kOutOfRange) << stopped;
  EXPECT_NE(stopped.message().find("backup"), std::string::npos);
  EXPECT_TRUE(applied_.empty());
  // One that had applied entry 2 goes on with entry 3.
  auto ahead = Follower(after_2);
  ASSERT_TRUE(ahead->Follow(3, Deadline()).ok());
  EXPECT_EQ(applied_, (std::vector<uint64_t>{3}));
}

TEST_F(ReplicatedLogFollowerTest, CompactionAloneStopsNoFollower) {
  WriteBatch({1});
  WriteBatch({2});
  auto revision = client_->CurrentRevision();
  ASSERT_TRUE(revision.ok());
  ASSERT_TRUE(client_->Compact(*revision).ok());
  // The history of these revisions is gone; the entries are not.
  auto follower = Follower();
  ASSERT_TRUE(follower->Follow(3, Deadline()).ok());
  EXPECT_EQ(applied_, (std::vector<uint64_t>{1, 2}));
}

TEST_F(ReplicatedLogFollowerTest, AFailedApplyIsNotCheckpointed) {
  WriteBatch({1});
  WriteBatch({1});
  apply_error_ = absl::InternalError("disk full");
  auto follower = Follower();
  EXPECT_EQ(follower->Follow(2, Deadline()).code(),
            absl::StatusCode::kInternal);
  EXPECT_EQ(follower->checkpoint().end.last_position, 0u);
  EXPECT_EQ(follower->checkpoint().revision, 0);
}

TEST_F(ReplicatedLogFollowerTest, FollowEndsAtItsDeadlineOrWhenStopped) {
  WriteBatch({1});
  auto follower = Follower();
  EXPECT_EQ(follower->Follow(5, absl::Now() + absl::Milliseconds(300)).code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(applied_.size(), 1u);
  std::thread stopper([&follower] { follower->Stop(); });
  stopper.join();
  EXPECT_EQ(follower->Follow(5, Deadline()).code(),
            absl::StatusCode::kCancelled);
}

}  // namespace
}  // namespace ycr::replication
