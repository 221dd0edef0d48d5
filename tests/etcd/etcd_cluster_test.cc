// The test harness itself (tests/etcd/etcd_cluster.h): three real etcd
// members on loopback that answer, lose a member and keep a majority, and
// take a restarted member back with what it missed.

#include "tests/etcd/etcd_cluster.h"

#include <memory>
#include <string>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "replication/etcd_client.h"

namespace ycr::testing {
namespace {

using replication::EtcdClient;
using replication::PutOp;

std::unique_ptr<EtcdClient> ClientOf(std::vector<std::string> endpoints) {
  auto client = EtcdClient::Create(
      {.endpoints = std::move(endpoints), .call_timeout = absl::Seconds(3)});
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? std::move(*client) : nullptr;
}

absl::Status Put(EtcdClient* client, const std::string& key,
                 const std::string& value) {
  etcdserverpb::TxnRequest txn;
  *txn.add_success() = PutOp(key, value);
  return client->Txn(txn).status();
}

TEST(EtcdClusterTest, ThreeMembersSurviveTheLossOfOneAndCatchUpOnRestart) {
  std::optional<std::string> etcd = FindEtcd();
  if (!etcd.has_value()) GTEST_SKIP() << "no etcd binary (etcd-server)";
  auto started = EtcdCluster::Start(*etcd, {.members = 3});
  ASSERT_TRUE(started.ok()) << started.status();
  EtcdCluster& cluster = **started;
  ASSERT_EQ(cluster.ClientEndpoints().size(), 3u);

  // A follower lost (losing the leader costs an election first: see
  // replicated_log_writer_test): the other two are a majority, and a write
  // through them commits at once.
  auto leader = cluster.Leader(absl::Seconds(10));
  ASSERT_TRUE(leader.ok()) << leader.status();
  const int down = (*leader + 1) % 3;
  ASSERT_TRUE(cluster.Kill(down).ok());
  auto client = ClientOf({cluster.ClientEndpoint(*leader),
                          cluster.ClientEndpoint(3 - *leader - down)});
  ASSERT_TRUE(Put(client.get(), "missed", "while down").ok());

  ASSERT_TRUE(cluster.Restart(down).ok()) << cluster.LogPath(down);
  // Read from it alone (linearizable: it has caught up).
  auto only_down = ClientOf({cluster.ClientEndpoint(down)});
  auto got = only_down->Get("missed");
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->value, "while down");

  // A paused member answers nothing until resumed; the others go on.
  ASSERT_TRUE(cluster.Pause(down).ok());
  ASSERT_TRUE(Put(client.get(), "paused", "2").ok());
  auto slow = EtcdClient::Create({.endpoints = {cluster.ClientEndpoint(down)},
                                  .call_timeout = absl::Milliseconds(300)});
  ASSERT_TRUE(slow.ok());
  EXPECT_EQ((*slow)->Get("paused").status().code(),
            absl::StatusCode::kUnavailable);
  ASSERT_TRUE(cluster.Resume(down).ok());
  ASSERT_TRUE(cluster.WaitReady(down, absl::Seconds(20)).ok());
}

TEST(EtcdClusterTest, OneMemberStartsAndIsGoneAfterwards) {
  std::optional<std::string> etcd = FindEtcd();
  if (!etcd.has_value()) GTEST_SKIP() << "no etcd binary (etcd-server)";
  std::string endpoint;
  {
    auto started = EtcdCluster::Start(*etcd, {.members = 1});
    ASSERT_TRUE(started.ok()) << started.status();
    endpoint = (*started)->ClientEndpoint(0);
    EXPECT_TRUE(Put(ClientOf({endpoint}).get(), "k", "v").ok());
  }
  // The destructor killed the member: nothing answers there now.
  auto client = EtcdClient::Create(
      {.endpoints = {endpoint}, .call_timeout = absl::Milliseconds(500)});
  ASSERT_TRUE(client.ok());
  EXPECT_EQ((*client)->Get("k").status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(EtcdCluster::Start(*etcd, {.members = 0}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ycr::testing
