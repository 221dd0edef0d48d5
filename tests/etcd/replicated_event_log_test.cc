// ReplicatedEventLog (replication/replicated_event_log.h) against a real
// etcd member: ycr nodes in this process, each with its own store, one
// leading. An append is acknowledged once its entry is in etcd and applied
// to the leader's store; followers apply the same entries and refuse
// appends, naming the leader; when the leader goes, another takes over from
// what it applied, and a retry of an acknowledged append lands once.

#include "replication/replicated_event_log.h"

#include <sys/stat.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/files.h"
#include "gtest/gtest.h"
#include "replication/cluster_kek.h"
#include "replication/log_trimmer.h"
#include "replication/replicated_entry.h"
#include "tests/etcd/etcd_suite.h"
#include "tests/unit/test_util.h"

namespace ycr::replication {
namespace {

using ::ycr::test::StatusIs;
using ::ycr::test::TempDir;

const std::string kKek(storage::kClusterKekBytes, 'c');

class ReplicatedEventLogTest : public ::ycr::testing::EtcdSuite<1> {
 protected:
  std::unique_ptr<ReplicatedEventLog> OpenNode(const std::string& name,
                                               const TempDir& dir) {
    ReplicatedEventLogOptions options;
    options.endpoints = cluster_->ClientEndpoints();
    options.advertise = name;
    options.node_id = name.substr(0, name.find(':'));
    options.trim_interval = absl::Milliseconds(200);
    options.prefix = prefix_ + "/log";
    options.election = prefix_ + "/leader";
    options.lease_ttl = absl::Seconds(2);
    options.log.path = dir.path();
    options.log.sync = false;
    options.log.cluster_kek = kKek;
    auto log = ReplicatedEventLog::Open(std::move(options));
    EXPECT_TRUE(log.ok()) << log.status();
    return log.ok() ? std::move(*log) : nullptr;
  }

  // The node of `nodes` that leads, waiting (bounded) for one to.
  ReplicatedEventLog* Leader(const std::vector<ReplicatedEventLog*>& nodes) {
    const absl::Time deadline = absl::Now() + absl::Seconds(15);
    while (absl::Now() < deadline) {
      for (ReplicatedEventLog* node : nodes) {
        if (node->leading()) return node;
      }
      absl::SleepFor(absl::Milliseconds(20));  // A poll with a deadline.
    }
    return nullptr;
  }

  // Waits until `log` has applied `position`.
  bool Applied(storage::EventLog& log, uint64_t position) {
    auto done = std::make_shared<absl::Notification>();
    const uint64_t id = log.WatchHead(position, [done] { done->Notify(); });
    if (id == 0) return true;
    return done->WaitForNotificationWithTimeout(absl::Seconds(15));
  }

  // Opens nodes a and b and waits for one to lead.
  void StartTwo() {
    a_ = OpenNode("node-a:1", dir_a_);
    b_ = OpenNode("node-b:2", dir_b_);
    leader_ = Leader({a_.get(), b_.get()});
    ASSERT_NE(leader_, nullptr);
    follower_ = leader_ == a_.get() ? b_.get() : a_.get();
  }

  static v1::ProposedEvent Personal(const std::string& notes) {
    v1::ProposedEvent e = test::OpaqueEvent("skeleton");
    e.mutable_payload()->mutable_personal()->set_subject_id("pupil-9");
    e.mutable_payload()->mutable_personal()->set_notes(notes);
    return e;
  }

  TempDir dir_a_, dir_b_;
  std::unique_ptr<ReplicatedEventLog> a_, b_;
  ReplicatedEventLog* leader_ = nullptr;
  ReplicatedEventLog* follower_ = nullptr;
};

TEST_F(ReplicatedEventLogTest,
       TheLeaderAcknowledgesAppliedAppendsFollowersHold) {
  StartTwo();
  ReplicatedEventLog* leader = leader_;
  ReplicatedEventLog* follower = follower_;
  uint64_t last = 0;
  for (int i = 0; i < 10; ++i) {
    auto r = leader->Append(test::Request(
        "case-9", storage::ExpectedVersion::Exact(i), {Personal("notes")}));
    ASSERT_TRUE(r.ok()) << r.status();
    // Read-your-writes on the leader: applied before acknowledged.
    EXPECT_GE(leader->GetHead().position, r->last_position);
    last = r->last_position;
  }
  ASSERT_TRUE(Applied(*follower, last));
  EXPECT_EQ(follower->GetHead().hash, leader->GetHead().hash);
  std::vector<v1::RecordedEvent> on_follower = test::ReadWholeLog(*follower);
  ASSERT_EQ(on_follower.size(), last);
  // The subject's key came wrapped through etcd: the follower opens it.
  ASSERT_TRUE(follower->RevealPersonal(&on_follower[0]).ok());
  EXPECT_EQ(on_follower[0].payload().personal().notes(), "notes");

  // An append is never split across entries: one too large for an entry
  // is refused whole, and nothing is written.
  std::vector<v1::ProposedEvent> big;
  for (int i = 0; i < 25; ++i) {
    big.push_back(test::OpaqueEvent(std::string(64000, 'x')));
  }
  EXPECT_TRUE(StatusIs(
      leader
          ->Append(test::Request("ops-big", storage::ExpectedVersion::Any(),
                                 std::move(big)))
          .status(),
      absl::StatusCode::kInvalidArgument, {"too large for one replicated"}));
  EXPECT_EQ(leader->GetHead().position, last);

  const absl::Status refused =
      follower->Append(test::OneEvent("ops-x")).status();
  EXPECT_TRUE(StatusIs(
      refused, absl::StatusCode::kUnavailable,
      {"not the leader", leader == a_.get() ? "node-a:1" : "node-b:2"}));
}

TEST_F(ReplicatedEventLogTest, AnotherNodeTakesOverAndRetriesLandOnce) {
  TempDir da, db;
  auto a = OpenNode("node-a:1", da);
  auto b = OpenNode("node-b:2", db);
  ReplicatedEventLog* first = Leader({a.get(), b.get()});
  ASSERT_NE(first, nullptr);
  std::unique_ptr<ReplicatedEventLog>& gone = first == a.get() ? a : b;
  std::unique_ptr<ReplicatedEventLog>& next = first == a.get() ? b : a;
  const TempDir& gone_dir = first == a.get() ? da : db;
  storage::AppendRequest request = test::OneEvent("ops-retry");
  auto acked = first->Append(request);
  ASSERT_TRUE(acked.ok()) << acked.status();
  gone->Close();  // Resigns.
  gone.reset();

  ASSERT_EQ(Leader({next.get()}), next.get());
  auto retried = next->Append(request);
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_TRUE(retried->replayed);
  EXPECT_EQ(retried->first_position, acked->first_position);
  auto more = next->Append(test::OneEvent("ops-retry"));
  ASSERT_TRUE(more.ok()) << more.status();
  EXPECT_EQ(more->first_position, acked->last_position + 1);
  EXPECT_EQ(more->stream_version, 2u);

  // The old leader comes back as a follower and catches up from its
  // checkpoint.
  gone = OpenNode("node-old:3", gone_dir);
  ASSERT_NE(gone, nullptr);
  ASSERT_TRUE(Applied(*gone, more->last_position));
  EXPECT_EQ(gone->GetHead().hash, next->GetHead().hash);
  EXPECT_TRUE(gone->VerifyChain(1, 0).ok());
}

// etcd holds only the tail: once every node has applied the entries, the
// leader deletes them and compacts etcd's history, so an erased subject's
// wrapped key leaves etcd; the log goes on after it.
TEST_F(ReplicatedEventLogTest, AppliedEntriesLeaveEtcdWithTheirWrappedKeys) {
  StartTwo();
  ReplicatedEventLog* leader = leader_;
  ReplicatedEventLog* follower = follower_;
  ASSERT_TRUE(
      leader
          ->Append(test::Request("case-9", storage::ExpectedVersion::Any(),
                                 {Personal("notes")}))
          .ok());
  // The entry that carries the subject's wrapped key, and its revision.
  const std::string entries = EntriesBegin(prefix_ + "/log");
  int64_t carried_at = 0;
  auto first = client_->Range(entries, PrefixEnd(entries));
  ASSERT_TRUE(first.ok()) << first.status();
  for (const auto& kv : first->kvs()) {
    v1::ReplicatedEntry entry;
    ASSERT_TRUE(entry.ParseFromString(kv.value()));
    if (entry.appends(0).key_writes_size() > 0) carried_at = kv.mod_revision();
  }
  storage::AppendRequest erase = test::OneEvent("subject-pupil-9");
  erase.erase_subjects.push_back("pupil-9");
  auto erased = leader->Append(erase);
  ASSERT_TRUE(erased.ok()) << erased.status();
  ASSERT_TRUE(Applied(*follower, erased->last_position));

  // The trimmer deletes the entries, then compacts in a second call: wait
  // for both (reading between them once failed this test under load).
  const absl::Time deadline = absl::Now() + absl::Seconds(15);
  int left = -1;
  bool in_history = true;
  while ((left != 0 || in_history) && absl::Now() < deadline) {
    auto range = client_->Range(entries, PrefixEnd(entries));
    ASSERT_TRUE(range.ok()) << range.status();
    left = range->kvs_size();
    in_history =
        carried_at != 0 &&
        client_->Range(entries, PrefixEnd(entries), 0, carried_at).ok();
    if (left != 0 || in_history) {
      absl::SleepFor(absl::Milliseconds(50));  // Bounded poll.
    }
  }
  EXPECT_EQ(left, 0) << "the applied entries are still in etcd";
  // Nor in its history: the revision that wrote the key is compacted.
  EXPECT_FALSE(in_history) << "the revision that carried the key is kept";

  auto more = leader->Append(test::OneEvent("ops-after-trim"));
  ASSERT_TRUE(more.ok()) << more.status();
  ASSERT_TRUE(Applied(*follower, more->last_position));
  EXPECT_EQ(follower->GetHead().hash, leader->GetHead().hash);
}

// A node removed for good holds etcd's tail back until it is forgotten
// (ycr-server forget-node); a backup's hold keeps the entries after its head,
// on a lease, until it expires or is forgotten.
TEST_F(ReplicatedEventLogTest, AForgottenNodeOrBackupNoLongerHoldsTrimming) {
  StartTwo();
  const std::string prefix = prefix_ + "/log";
  const std::string gone_id = follower_ == a_.get() ? "node-a" : "node-b";
  const std::string leader_id = follower_ == a_.get() ? "node-b" : "node-a";
  auto first = leader_->Append(test::OneEvent("ops-1"));
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(Applied(*follower_, first->last_position));
  // The follower leaves for good (it may have published 0 or position 1).
  (follower_ == a_.get() ? a_ : b_).reset();
  uint64_t last = 0;
  for (int i = 0; i < 3; ++i) {
    auto more = leader_->Append(test::OneEvent("ops-1"));
    ASSERT_TRUE(more.ok()) << more.status();
    last = more->last_position;
  }
  // Once the leader has published its head, a trim deletes only what the
  // departed node applied.
  auto published = [&](const std::string& name) -> uint64_t {
    auto all = ListApplied(*client_, prefix);
    EXPECT_TRUE(all.ok()) << all.status();
    for (const auto& [n, p] : *all) {
      if (n == name) return p;
    }
    return UINT64_MAX;
  };
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (published(leader_id) != last && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));  // A bounded poll.
  }
  ASSERT_EQ(published(leader_id), last);
  auto lowest = TrimAppliedEntries(*client_, prefix);
  ASSERT_TRUE(lowest.ok()) << lowest.status();
  EXPECT_LT(*lowest, last);
  const std::string entries = EntriesBegin(prefix);
  auto left = client_->Range(entries, PrefixEnd(entries));
  ASSERT_TRUE(left.ok());
  EXPECT_GT(left->kvs_size(), 0);

  // Forgotten: nothing of the log is left in etcd after a trim.
  ASSERT_TRUE(ForgetApplied(*client_, prefix, gone_id).ok());
  EXPECT_TRUE(StatusIs(ForgetApplied(*client_, prefix, gone_id),
                       absl::StatusCode::kNotFound, {gone_id}));
  lowest = TrimAppliedEntries(*client_, prefix);
  ASSERT_TRUE(lowest.ok()) << lowest.status();
  EXPECT_EQ(*lowest, last);
  left = client_->Range(entries, PrefixEnd(entries));
  ASSERT_TRUE(left.ok());
  EXPECT_EQ(left->kvs_size(), 0);

  // A backup's hold at `last`: the entries after it stay, on a lease.
  ASSERT_TRUE(leader_->HoldForBackup("nightly", last).ok());
  auto hold = client_->Get(AppliedKey(prefix, BackupHoldName("nightly")));
  ASSERT_TRUE(hold.ok() && hold->has_value());
  EXPECT_NE((*hold)->lease, 0);
  auto later = leader_->Append(test::OneEvent("ops-2"));
  ASSERT_TRUE(later.ok()) << later.status();
  lowest = TrimAppliedEntries(*client_, prefix);
  ASSERT_TRUE(lowest.ok()) << lowest.status();
  EXPECT_EQ(*lowest, last);
  left = client_->Range(entries, PrefixEnd(entries));
  ASSERT_TRUE(left.ok());
  EXPECT_EQ(left->kvs_size(), 1);
  ASSERT_TRUE(ForgetApplied(*client_, prefix, BackupHoldName("nightly")).ok());
}

// The cluster key's file (no etcd needed): 64 hex digits, private.
TEST(ClusterKekTest, APrivateFileOfSixtyFourHexDigitsOnly) {
  TempDir dir;
  const std::string path = dir.path() + "/cluster.kek";
  const std::string hex(64, 'b');
  ASSERT_TRUE(WritePrivateFile(path, hex + "\n").ok());
  absl::StatusOr<std::string> kek = LoadClusterKek("--cluster_kek", path);
  ASSERT_TRUE(kek.ok()) << kek.status();
  EXPECT_EQ(*kek, std::string(storage::kClusterKekBytes, '\xbb'));

  ASSERT_EQ(chmod(path.c_str(), 0644), 0);
  EXPECT_TRUE(StatusIs(LoadClusterKek("--cluster_kek", path).status(),
                       absl::StatusCode::kInvalidArgument,
                       {"--cluster_kek", "chmod 600"}));
  ASSERT_TRUE(WritePrivateFile(path, hex.substr(2) + "zz").ok());
  EXPECT_TRUE(StatusIs(LoadClusterKek("--cluster_kek", path).status(),
                       absl::StatusCode::kInvalidArgument,
                       {"64 hexadecimal digits"}));
  EXPECT_TRUE(StatusIs(LoadClusterKek("--cluster_kek", path + ".none").status(),
                       absl::StatusCode::kInvalidArgument, {"--cluster_kek"}));
}

}  // namespace
}  // namespace ycr::replication
