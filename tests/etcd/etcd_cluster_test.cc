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

  ASSERT_TRUE(cluster.Kill(2).ok());
  // Members 0 and 1 are a majority: a write through them commits.
  auto client =
      ClientOf({cluster.ClientEndpoint(0), cluster.ClientEndpoint(1)});
  ASSERT_TRUE(Put(client.get(), "missed", "while down").ok());

  ASSERT_TRUE(cluster.Restart(2).ok()) << cluster.LogPath(2);
  // Read from member 2 alone (linearizable: it has caught up).
  auto only_2 = ClientOf({cluster.ClientEndpoint(2)});
  auto got = only_2->Get("missed");
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->value, "while down");

  // A paused member answers nothing until resumed; the others go on.
  ASSERT_TRUE(cluster.Pause(2).ok());
  ASSERT_TRUE(Put(client.get(), "paused", "2").ok());
  auto slow = EtcdClient::Create({.endpoints = {cluster.ClientEndpoint(2)},
                                  .call_timeout = absl::Milliseconds(300)});
  ASSERT_TRUE(slow.ok());
  EXPECT_EQ((*slow)->Get("paused").status().code(),
            absl::StatusCode::kUnavailable);
  ASSERT_TRUE(cluster.Resume(2).ok());
  ASSERT_TRUE(cluster.WaitReady(2, absl::Seconds(20)).ok());
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
