#pragma once

// A test suite sharing one etcd cluster of kMembers members (started once,
// a second or two), each test with a client of every member and a key
// prefix of its own. Skipped only when there is no etcd binary.

#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "replication/etcd_client.h"
#include "tests/etcd/etcd_cluster.h"

namespace ycr::testing {

template <int kMembers>
class EtcdSuite : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::optional<std::string> etcd = FindEtcd();
    if (!etcd.has_value()) return;
    auto started = EtcdCluster::Start(*etcd, {.members = kMembers});
    ASSERT_TRUE(started.ok()) << started.status();
    cluster_ = std::move(*started).release();
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }

  // Derived fixtures call this first and return if IsSkipped().
  void SetUp() override {
    if (FindEtcd() == std::nullopt) {
      GTEST_SKIP() << "no etcd binary (Debian's etcd-server; tests/run.sh "
                      "installs it)";
    }
    ASSERT_NE(cluster_, nullptr);
    client_ = NewClient(absl::Seconds(5));
    prefix_ = absl::StrCat(
        "/t/", ::testing::UnitTest::GetInstance()->current_test_info()->name());
  }

  std::unique_ptr<replication::EtcdClient> NewClient(absl::Duration timeout) {
    auto client = replication::EtcdClient::Create(
        {.endpoints = cluster_->ClientEndpoints(), .call_timeout = timeout});
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? std::move(*client) : nullptr;
  }

  static inline EtcdCluster* cluster_ = nullptr;
  std::unique_ptr<replication::EtcdClient> client_;
  std::string prefix_;
};

}  // namespace ycr::testing
