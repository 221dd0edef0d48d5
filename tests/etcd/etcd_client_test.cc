// The etcd client (replication/etcd_client.h) against a real etcd member:
// reads, transactions and their compares, watches from a revision (in order,
// and compaction reported), leases, elections, and the errors of each.

#include "replication/etcd_client.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "replication/etcd_watch.h"
#include "tests/etcd/etcd_suite.h"

namespace ycr::replication {
namespace {

class EtcdClientTest : public ::ycr::testing::EtcdSuite<1> {
 protected:
  void SetUp() override {
    EtcdSuite::SetUp();
    prefix_ += "/";
  }

  int64_t Put(const std::string& key, const std::string& value) {
    etcdserverpb::TxnRequest txn;
    *txn.add_success() = PutOp(key, value);
    auto done = client_->Txn(txn);
    EXPECT_TRUE(done.ok()) << done.status();
    return done.ok() ? done->header().revision() : 0;
  }
};

TEST_F(EtcdClientTest, TxnCommitsOnlyWhenItsComparesHold) {
  const std::string key = prefix_ + "head";
  // Absent: create revision 0.
  etcdserverpb::TxnRequest create;
  *create.add_compare() = CreateRevisionIs(key, 0);
  *create.add_success() = PutOp(key, "one");
  auto created = client_->Txn(create);
  ASSERT_TRUE(created.ok()) << created.status();
  const int64_t revision = created->header().revision();

  auto got = client_->Get(key);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->value, "one");
  EXPECT_EQ((*got)->mod_revision, revision);
  EXPECT_EQ((*got)->create_revision, revision);

  // The same create again: the key exists, nothing is written.
  auto again = client_->Txn(create);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition)
      << again.status();

  // Compare on mod_revision: the current one wins, a stale one loses.
  etcdserverpb::TxnRequest move;
  *move.add_compare() = ModRevisionIs(key, revision);
  *move.add_success() = PutOp(key, "two");
  *move.add_success() = RangeOp(key);
  auto moved = client_->Txn(move);
  ASSERT_TRUE(moved.ok()) << moved.status();
  ASSERT_EQ(moved->responses_size(), 2);
  EXPECT_EQ(moved->responses(1).response_range().kvs(0).value(), "two");
  auto stale = client_->Txn(move);
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kFailedPrecondition);
  // TxnDecide answers which branch ran instead.
  auto decided = client_->TxnDecide(move);
  ASSERT_TRUE(decided.ok()) << decided.status();
  EXPECT_FALSE(decided->succeeded);

  // Compare on value, then delete.
  etcdserverpb::TxnRequest remove;
  *remove.add_compare() = ValueIs(key, "one");
  *remove.add_success() = DeleteOp(key);
  EXPECT_EQ(client_->Txn(remove).status().code(),
            absl::StatusCode::kFailedPrecondition);
  *remove.mutable_compare(0) = ValueIs(key, "two");
  ASSERT_TRUE(client_->Txn(remove).ok());
  got = client_->Get(key);
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(got->has_value());
}

TEST_F(EtcdClientTest, RangeReadsAPrefixInKeyOrder) {
  for (const char* k : {"c", "a", "b"}) Put(prefix_ + k, k);
  Put(prefix_.substr(0, prefix_.size() - 1) + "0", "outside");
  auto range = client_->Range(prefix_, PrefixEnd(prefix_));
  ASSERT_TRUE(range.ok()) << range.status();
  ASSERT_EQ(range->kvs_size(), 3);
  EXPECT_EQ(range->kvs(0).value(), "a");
  EXPECT_EQ(range->kvs(2).value(), "c");
  range = client_->Range(prefix_, PrefixEnd(prefix_), 2);
  ASSERT_TRUE(range.ok());
  EXPECT_EQ(range->kvs_size(), 2);
  EXPECT_TRUE(range->more());
  EXPECT_EQ(PrefixEnd("a\xff"), "b");
}

TEST_F(EtcdClientTest, WatchDeliversEveryEventInOrderFromARevision) {
  const int64_t first = Put(prefix_ + "k0", "v0");
  for (int i = 1; i < 5; ++i) Put(absl::StrCat(prefix_, "k", i), "v");
  Put(prefix_ + "k0", "v0 again");
  // From the first write: the history, then what comes after.
  auto watch = client_->Watch(prefix_, PrefixEnd(prefix_), first);
  ASSERT_TRUE(watch.ok()) << watch.status();
  std::vector<WatchEvent> seen;
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (seen.size() < 6) {
    auto events = (*watch)->Next(deadline);
    ASSERT_TRUE(events.ok()) << events.status();
    seen.insert(seen.end(), events->begin(), events->end());
  }
  etcdserverpb::TxnRequest remove;
  *remove.add_success() = DeleteOp(prefix_ + "k3");
  ASSERT_TRUE(client_->Txn(remove).ok());
  while (seen.size() < 7) {
    auto events = (*watch)->Next(deadline);
    ASSERT_TRUE(events.ok()) << events.status();
    seen.insert(seen.end(), events->begin(), events->end());
  }
  ASSERT_EQ(seen.size(), 7u);
  for (size_t i = 1; i < seen.size(); ++i) {
    EXPECT_GT(seen[i].kv.mod_revision, seen[i - 1].kv.mod_revision) << i;
  }
  EXPECT_EQ(seen[0].kv.mod_revision, first);
  EXPECT_EQ(seen[5].kv.value, "v0 again");
  EXPECT_TRUE(seen[6].deleted);
  EXPECT_EQ(seen[6].kv.key, prefix_ + "k3");
  // Nothing more: the deadline answers, the watch stays open.
  auto none = (*watch)->Next(absl::Now() + absl::Milliseconds(100));
  EXPECT_EQ(none.status().code(), absl::StatusCode::kDeadlineExceeded);
}

TEST_F(EtcdClientTest, WatchFromACompactedRevisionIsOutOfRange) {
  const int64_t old = Put(prefix_ + "k", "1");
  const int64_t newer = Put(prefix_ + "k", "2");
  ASSERT_TRUE(client_->Compact(newer).ok());
  auto watch = client_->Watch(prefix_, PrefixEnd(prefix_), old);
  absl::Status status = watch.status();
  if (watch.ok()) {
    status = (*watch)->Next(absl::Now() + absl::Seconds(10)).status();
    EXPECT_EQ((*watch)->compact_revision(), newer);
  }
  EXPECT_EQ(status.code(), absl::StatusCode::kOutOfRange) << status;
  // Reading a compacted revision is OUT_OF_RANGE too.
  EXPECT_EQ(client_->Range(prefix_ + "k", {}, 0, old).status().code(),
            absl::StatusCode::kOutOfRange);
}

TEST_F(EtcdClientTest, LeaseKeepsItsKeysUntilRevoked) {
  auto lease = client_->LeaseGrant(absl::Seconds(30));
  ASSERT_TRUE(lease.ok()) << lease.status();
  etcdserverpb::TxnRequest put;
  *put.add_success() = PutOp(prefix_ + "owned", "x", *lease);
  ASSERT_TRUE(client_->Txn(put).ok());
  auto ttl = client_->LeaseKeepAliveOnce(*lease);
  ASSERT_TRUE(ttl.ok()) << ttl.status();
  EXPECT_EQ(*ttl, 30);
  auto left = client_->LeaseTimeToLive(*lease);
  ASSERT_TRUE(left.ok()) << left.status();
  EXPECT_GT(*left, 0);
  ASSERT_TRUE(client_->LeaseRevoke(*lease).ok());
  auto got = client_->Get(prefix_ + "owned");
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(got->has_value()) << "a revoked lease's key is deleted";
  EXPECT_EQ(client_->LeaseKeepAliveOnce(*lease).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(client_->LeaseTimeToLive(*lease).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(client_->LeaseGrant(absl::Milliseconds(10)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(EtcdClientTest, ElectionHasOneLeaderAtATime) {
  const std::string election = prefix_ + "leader";
  auto a = client_->LeaseGrant(absl::Seconds(30));
  auto b = client_->LeaseGrant(absl::Seconds(30));
  ASSERT_TRUE(a.ok() && b.ok());
  auto none = client_->Leader(election);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(none->has_value());

  auto leader = client_->Campaign(election, *a, "node-a", absl::Seconds(5));
  ASSERT_TRUE(leader.ok()) << leader.status();
  EXPECT_EQ(leader->lease(), *a);
  // A second candidate waits while the first leads: its deadline answers.
  auto waiting =
      client_->Campaign(election, *b, "node-b", absl::Milliseconds(300));
  EXPECT_EQ(waiting.status().code(), absl::StatusCode::kUnavailable);

  auto current = client_->Leader(election);
  ASSERT_TRUE(current.ok() && current->has_value());
  EXPECT_EQ((*current)->value, "node-a");
  ASSERT_TRUE(client_->Proclaim(*leader, "node-a:7070").ok());
  current = client_->Leader(election);
  ASSERT_TRUE(current.ok() && current->has_value());
  EXPECT_EQ((*current)->value, "node-a:7070");
  // The leader key is the fence: it lives as long as the lease.
  EXPECT_EQ((*current)->create_revision, leader->rev());
  EXPECT_EQ((*current)->lease, *a);

  ASSERT_TRUE(client_->Resign(*leader).ok());
  auto next = client_->Campaign(election, *b, "node-b", absl::Seconds(5));
  ASSERT_TRUE(next.ok()) << next.status();
  current = client_->Leader(election);
  ASSERT_TRUE(current.ok() && current->has_value());
  EXPECT_EQ((*current)->value, "node-b");
  // Proclaiming as the resigned leader fails.
  EXPECT_FALSE(client_->Proclaim(*leader, "node-a again").ok());
}

TEST(EtcdClientErrorsTest, ConfigurationAndUnreachableMembers) {
  EXPECT_EQ(EtcdClient::Create({}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EtcdClient::Create({.endpoints = {"127.0.0.1:1"},
                                .call_timeout = absl::ZeroDuration()})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  // Nothing listens on port 1: UNAVAILABLE, within the call's deadline.
  auto client = EtcdClient::Create(
      {.endpoints = {"127.0.0.1:1"}, .call_timeout = absl::Seconds(2)});
  ASSERT_TRUE(client.ok());
  const absl::Time start = absl::Now();
  EXPECT_EQ((*client)->Get("k").status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  EXPECT_EQ((*client)->Watch("k", "", 0).status().code(),
            absl::StatusCode::kUnavailable);
}

// The members by one DNS name (a Kubernetes headless Service's), or by
// their IPv4 addresses; names among several endpoints are refused.
TEST_F(EtcdClientTest, OneDnsNameOrIpv4AddressesReachTheMembers) {
  const std::string endpoint = cluster_->ClientEndpoints()[0];
  const std::string port = endpoint.substr(endpoint.rfind(':') + 1);
  auto by_name = EtcdClient::Create({.endpoints = {"localhost:" + port}});
  ASSERT_TRUE(by_name.ok()) << by_name.status();
  const int64_t revision = Put(prefix_ + "dns", "v");
  auto got = (*by_name)->Get(prefix_ + "dns");
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->mod_revision, revision);
  const absl::Status mixed =
      EtcdClient::Create({.endpoints = {"localhost:" + port, endpoint}})
          .status();
  EXPECT_EQ(mixed.code(), absl::StatusCode::kInvalidArgument) << mixed;
  EXPECT_NE(mixed.message().find("one DNS name"), absl::string_view::npos);
}

}  // namespace
}  // namespace ycr::replication
