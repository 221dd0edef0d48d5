// The RocksDB log in replicated mode (issue 17), without etcd: a "leader"
// log whose replicated commit applies each entry to itself (as the
// follower loop does in a cluster) and records it, and "follower" logs that
// apply the same entries. What a follower holds must be what the leader
// holds, byte for byte, and an entry that does not continue its log must be
// refused.

#include <rocksdb/db.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "storage/key_format.h"
#include "storage/personal_crypto.h"
#include "storage/record_codec.h"
#include "storage/replicated_commit.h"
#include "storage/rocksdb_event_log.h"
#include "tests/unit/raw_store.h"
#include "tests/unit/test_util.h"

namespace ycr::storage {
namespace {

using test::PersonalEvent;
using test::StatusIs;
using test::TempDir;

const std::string kKek(kClusterKekBytes, 'k');
constexpr char kNotes[] = "PLAIN-NOTES-replicated-4410";

// Applies every commit to `log` itself, as an entry, and keeps the entries.
class Loopback : public ReplicatedCommit {
 public:
  absl::Status Prepare() override { return prepare; }
  ReplicatedCommitResult Commit(
      const std::vector<v1::ReplicatedAppend>& appends) override {
    if (!fail.ok()) return {0, fail};
    v1::ReplicatedEntry entry;
    entry.set_first_position(log->GetHead().position + 1);
    for (const v1::ReplicatedAppend& a : appends) *entry.add_appends() = a;
    absl::Status s =
        log->ApplyReplicated(entry, absl::StrCat("cp-", entries.size() + 1));
    if (!s.ok()) return {0, s};
    entries.push_back(std::move(entry));
    return {appends.size(), absl::OkStatus()};
  }

  RocksDbEventLog* log = nullptr;
  absl::Status prepare;
  absl::Status fail;
  std::vector<v1::ReplicatedEntry> entries;
};

std::unique_ptr<RocksDbEventLog> OpenReplicated(const std::string& path,
                                                Loopback* commit,
                                                const std::string& kek = kKek) {
  RocksDbEventLogOptions options;
  options.path = path;
  options.sync = false;
  options.replication = commit;
  options.cluster_kek = kek;
  absl::StatusOr<std::unique_ptr<RocksDbEventLog>> log =
      RocksDbEventLog::Open(options);
  EXPECT_TRUE(log.ok()) << log.status();
  if (!log.ok()) return nullptr;
  commit->log = log->get();
  return *std::move(log);
}

class ReplicatedApplyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    leader_ = OpenReplicated(leader_dir_.path(), &leader_commit_);
    follower_commit_.prepare = absl::UnavailableError("a follower");
    follower_ = OpenReplicated(follower_dir_.path(), &follower_commit_);
    ASSERT_NE(leader_, nullptr);
    ASSERT_NE(follower_, nullptr);
  }

  // Three appends on the leader: plain, personal with a sealed record, and
  // a second one on the same stream.
  void WriteSome() {
    ASSERT_TRUE(leader_->Append(test::OneEvent("ops-a")).ok());
    AppendRequest personal =
        test::Request("case-1", ExpectedVersion::NoStream(),
                      {PersonalEvent("pupil-1", kNotes, personal_id_)});
    personal.records.push_back({"rec/pupil-1", "sealed-value", "pupil-1"});
    personal.records.push_back({"plain/1", "plain-value"});
    ASSERT_TRUE(leader_->Append(personal).ok());
    ASSERT_TRUE(
        leader_->Append(test::OneEvent("case-1", ExpectedVersion::Exact(1)))
            .ok());
  }

  void ApplyAll(RocksDbEventLog& log) {
    for (size_t i = 0; i < leader_commit_.entries.size(); ++i) {
      ASSERT_TRUE(log.ApplyReplicated(leader_commit_.entries[i],
                                      absl::StrCat("cp-", i + 1))
                      .ok());
    }
  }

  TempDir leader_dir_, follower_dir_;
  Loopback leader_commit_, follower_commit_;
  std::unique_ptr<RocksDbEventLog> leader_, follower_;
  const std::string personal_id_ = NewUuid();
};

TEST_F(ReplicatedApplyTest, AFollowerAppliesInOrderAndHoldsWhatTheLeaderHolds) {
  WriteSome();
  ASSERT_EQ(leader_commit_.entries.size(), 3u);
  ApplyAll(*follower_);
  EXPECT_EQ(follower_->GetHead().position, 3u);
  EXPECT_EQ(follower_->GetHead().hash, leader_->GetHead().hash);
  const std::vector<v1::RecordedEvent> a = test::ReadWholeLog(*leader_);
  const std::vector<v1::RecordedEvent> b = test::ReadWholeLog(*follower_);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].SerializeAsString(), b[i].SerializeAsString());
  }
  // The sealed part opens on the follower: its key came, wrapped.
  v1::RecordedEvent personal = b[1];
  ASSERT_TRUE(follower_->RevealPersonal(&personal).ok());
  EXPECT_EQ(personal.payload().personal().notes(), kNotes);
  EXPECT_EQ(**follower_->GetRecord("rec/pupil-1"), "sealed-value");
  EXPECT_EQ(**follower_->GetRecord("plain/1"), "plain-value");
  EXPECT_EQ(**follower_->LookupEventId(personal_id_), 2u);
  absl::StatusOr<StreamSlice> stream =
      follower_->ReadStream("case-1", ReadStreamOptions());
  ASSERT_TRUE(stream.ok());
  EXPECT_EQ(stream->stream_version, 2u);
  EXPECT_EQ(*follower_->ReadTreeHashes({0, 1, 2, 3}),
            *leader_->ReadTreeHashes({0, 1, 2, 3}));
  EXPECT_EQ(**follower_->ReplicationCheckpoint(), "cp-3");
  EXPECT_TRUE(follower_->VerifyChain(1, 0).ok());
}

TEST_F(ReplicatedApplyTest, AGapOrABrokenChainIsRefusedAndNothingWritten) {
  WriteSome();
  EXPECT_TRUE(StatusIs(
      follower_->ApplyReplicated(leader_commit_.entries[1], "cp-2"),
      absl::StatusCode::kDataLoss, {"starts at position 2", "ends at 0"}));
  ASSERT_TRUE(follower_->ApplyReplicated(leader_commit_.entries[0], "c").ok());
  v1::ReplicatedEntry forged = leader_commit_.entries[1];
  std::string* record = forged.mutable_appends(0)->mutable_records(0);
  (*record)[record->size() - 1] ^= 1;
  EXPECT_TRUE(StatusIs(follower_->ApplyReplicated(forged, "cp-2"),
                       absl::StatusCode::kDataLoss, {"hash chain broken"}));
  // An entry of another log: it does not chain to this head.
  TempDir other_dir;
  Loopback other_commit;
  auto other = OpenReplicated(other_dir.path(), &other_commit);
  ASSERT_TRUE(other->Append(test::OneEvent("ops-x")).ok());
  ASSERT_TRUE(other->Append(test::OneEvent("ops-x")).ok());
  EXPECT_TRUE(
      StatusIs(follower_->ApplyReplicated(other_commit.entries[1], "cp-2"),
               absl::StatusCode::kDataLoss, {"prev_hash"}));
  EXPECT_EQ(follower_->GetHead().position, 1u);
  EXPECT_EQ(**follower_->ReplicationCheckpoint(), "c");
}

TEST_F(ReplicatedApplyTest, ReapplyingAnAppliedEntryIsANoOp) {
  WriteSome();
  ApplyAll(*follower_);
  EXPECT_TRUE(follower_->ApplyReplicated(leader_commit_.entries[0], "x").ok());
  EXPECT_TRUE(follower_->ApplyReplicated(leader_commit_.entries[2], "x").ok());
  EXPECT_EQ(follower_->GetHead().position, 3u);
  EXPECT_EQ(**follower_->ReplicationCheckpoint(), "cp-3");
  // The same positions with other bytes: the node must stop.
  TempDir other_dir;
  Loopback other_commit;
  auto other = OpenReplicated(other_dir.path(), &other_commit);
  ASSERT_TRUE(other->Append(test::OneEvent("ops-x")).ok());
  EXPECT_TRUE(StatusIs(follower_->ApplyReplicated(other_commit.entries[0], "x"),
                       absl::StatusCode::kDataLoss, {"differs"}));
}

TEST_F(ReplicatedApplyTest, AppliedRecordsReopenVerifiedAndWakeWatches) {
  WriteSome();
  bool fired = false;
  EXPECT_NE(follower_->WatchHead(2, [&fired]() { fired = true; }), 0u);
  ASSERT_TRUE(follower_->ApplyReplicated(leader_commit_.entries[0], "1").ok());
  EXPECT_FALSE(fired);
  ASSERT_TRUE(follower_->ApplyReplicated(leader_commit_.entries[1], "2").ok());
  EXPECT_TRUE(fired);
  follower_->Close();
  follower_.reset();
  follower_ = OpenReplicated(follower_dir_.path(), &follower_commit_);
  ASSERT_NE(follower_, nullptr);
  EXPECT_EQ(follower_->GetHead().position, 2u);
  EXPECT_TRUE(follower_->VerifyChain(1, 0).ok());
  EXPECT_EQ(**follower_->ReplicationCheckpoint(), "2");
  ASSERT_TRUE(follower_->ApplyReplicated(leader_commit_.entries[2], "3").ok());
  EXPECT_EQ(follower_->GetHead().hash, leader_->GetHead().hash);
}

TEST_F(ReplicatedApplyTest, APromotedFollowerDecidesFromWhatItApplied) {
  WriteSome();
  ApplyAll(*follower_);
  follower_commit_.prepare = absl::OkStatus();
  // A retry of an append the old leader wrote lands once.
  AppendRequest retry =
      test::Request("case-1", ExpectedVersion::NoStream(),
                    {PersonalEvent("pupil-1", kNotes, personal_id_)});
  absl::StatusOr<AppendResult> replayed = follower_->Append(retry);
  ASSERT_TRUE(replayed.ok()) << replayed.status();
  EXPECT_TRUE(replayed->replayed);
  EXPECT_EQ(replayed->first_position, 2u);
  // Versions come from what was applied.
  EXPECT_TRUE(StatusIs(
      follower_->Append(test::OneEvent("case-1", ExpectedVersion::Exact(1)))
          .status(),
      absl::StatusCode::kAborted, {"version 2"}));
  absl::StatusOr<AppendResult> next =
      follower_->Append(test::OneEvent("case-1", ExpectedVersion::Exact(2)));
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->first_position, 4u);
  EXPECT_TRUE(follower_->VerifyChain(1, 0).ok());
}

TEST_F(ReplicatedApplyTest, ACommitThatDidNotLandAnswersUnavailable) {
  WriteSome();
  leader_commit_.fail = absl::UnavailableError("no majority");
  EXPECT_TRUE(StatusIs(leader_->Append(test::OneEvent("ops-a")).status(),
                       absl::StatusCode::kUnavailable, {"no majority"}));
  leader_commit_.prepare = absl::UnavailableError("not the leader: at x:1");
  EXPECT_TRUE(StatusIs(leader_->Append(test::OneEvent("ops-a")).status(),
                       absl::StatusCode::kUnavailable, {"x:1"}));
  leader_commit_.prepare = absl::OkStatus();
  leader_commit_.fail = absl::OkStatus();
  absl::StatusOr<AppendResult> r = leader_->Append(test::OneEvent("ops-a"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->first_position, 4u);
}

TEST_F(ReplicatedApplyTest, SubjectKeysTravelWrappedNeverInClear) {
  WriteSome();
  leader_->Close();
  const std::string key = StoredSubjectKey(leader_dir_.path(), "pupil-1");
  ASSERT_EQ(key.size(), kDataKeyBytes);
  for (const v1::ReplicatedEntry& entry : leader_commit_.entries) {
    EXPECT_EQ(entry.SerializeAsString().find(key), std::string::npos);
    EXPECT_EQ(entry.SerializeAsString().find(kNotes), std::string::npos);
  }
  int wrapped = 0;
  for (const auto& a : leader_commit_.entries[1].appends()) {
    wrapped += a.key_writes_size();
  }
  EXPECT_EQ(wrapped, 1);
}

TEST_F(ReplicatedApplyTest, ANodeWithAnotherClusterKeyRefusesToApply) {
  WriteSome();
  TempDir dir;
  Loopback commit;
  auto other =
      OpenReplicated(dir.path(), &commit, std::string(kClusterKekBytes, 'z'));
  ASSERT_TRUE(other->ApplyReplicated(leader_commit_.entries[0], "1").ok());
  EXPECT_TRUE(StatusIs(other->ApplyReplicated(leader_commit_.entries[1], "2"),
                       absl::StatusCode::kFailedPrecondition,
                       {"--cluster_kek", "nothing applied"}));
  EXPECT_EQ(other->GetHead().position, 1u);
}

TEST_F(ReplicatedApplyTest, AnErasureDestroysTheKeyOnTheFollowerToo) {
  WriteSome();
  AppendRequest erase = test::OneEvent("subject-pupil-1");
  erase.erase_subjects.push_back("pupil-1");
  erase.records.push_back({"rec/pupil-1", "", "", true});
  ASSERT_TRUE(leader_->Append(erase).ok());
  ApplyAll(*follower_);
  EXPECT_FALSE(follower_->GetRecord("rec/pupil-1")->has_value());
  absl::StatusOr<LogSlice> slice = follower_->ReadAll(2, 1, LogFilter());
  v1::RecordedEvent event = slice->events.at(0);
  ASSERT_TRUE(follower_->RevealPersonal(&event).ok());
  EXPECT_TRUE(event.payload().personal().erased());
  leader_->Close();
  follower_->Close();
  EXPECT_EQ(StoredSubjectKey(follower_dir_.path(), "pupil-1"), "");
}

TEST(ReplicatedApplyModeTest, ASingleNodeLogRefusesEntriesAndAShortKek) {
  TempDir dir;
  RocksDbEventLogOptions options;
  options.path = dir.path();
  auto log = RocksDbEventLog::Open(options);
  ASSERT_TRUE(log.ok());
  EXPECT_TRUE(StatusIs((*log)->ApplyReplicated(v1::ReplicatedEntry(), ""),
                       absl::StatusCode::kFailedPrecondition,
                       {"not in replicated mode"}));
  (*log)->Close();
  Loopback commit;
  options.replication = &commit;
  options.cluster_kek = "short";
  EXPECT_TRUE(StatusIs(RocksDbEventLog::Open(options).status(),
                       absl::StatusCode::kInvalidArgument, {"cluster_kek"}));
}

}  // namespace
}  // namespace ycr::storage
