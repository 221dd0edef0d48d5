// TLS to etcd (issue 17): one etcd member serving its client port over TLS
// with client-certificate auth, from certificates deploy/dev-ca.sh makes
// here. The client reaches it with the CA and a client certificate, and not
// without them; ycr-server refuses --replication over plain text unless
// --replication_insecure says so, and with the TLS flags leads and takes an
// append.

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "replication/etcd_client.h"
#include "services/tlog_checkpointer.h"
#include "tests/etcd/cluster_nodes.h"
#include "tests/etcd/etcd_cluster.h"
#include "tests/integration/command_runner.h"
#include "tests/integration/dev_ca.h"

namespace ycr::testing {
namespace {

class EtcdTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::optional<std::string> etcd = FindEtcd();
    if (!etcd.has_value()) GTEST_SKIP() << "no etcd binary";
    tls_ = dir_.path() + "/tls";
    ASSERT_NO_FATAL_FAILURE(RunDevCa(tls_));
    ASSERT_NO_FATAL_FAILURE(
        AddIdentity(tls_, "ycr-cluster", "ycr-node", "replication"));
    auto started = EtcdCluster::Start(*etcd, {.members = 1, .tls_dir = tls_});
    ASSERT_TRUE(started.ok()) << started.status();
    cluster_ = *std::move(started);
  }

  // A put through a client with `tls`: its status.
  absl::Status Put(const replication::EtcdTls& tls) {
    // The member twice: a channel of several addresses, whose authority is
    // their list, still checks the member's certificate by the first host.
    const std::string member = cluster_->ClientEndpoint(0);
    auto client =
        replication::EtcdClient::Create({.endpoints = {member, member},
                                         .call_timeout = absl::Seconds(2),
                                         .tls = tls});
    if (!client.ok()) return client.status();
    etcdserverpb::TxnRequest txn;
    *txn.add_success() = replication::PutOp("/tls-test", "x");
    return (*client)->TxnDecide(txn).status();
  }

  std::vector<std::string> NodeFlags() {
    return {"--replication=etcd://" + cluster_->ClientEndpoint(0),
            "--node_id=tls-node", "--advertise=127.0.0.1:1",
            "--cluster_kek=" + kek_, "--tlog_key=" + tlog_key_};
  }

  TempDir dir_;
  std::string tls_;
  std::string kek_;
  std::string tlog_key_;
  std::unique_ptr<EtcdCluster> cluster_;
};

TEST_F(EtcdTlsTest, OnlyAClientWithTheCaAndACertificateReachesEtcd) {
  EXPECT_TRUE(Put(cluster_->client_tls()).ok());
  replication::EtcdTls no_cert = cluster_->client_tls();
  no_cert.cert_pem.clear();
  no_cert.key_pem.clear();
  EXPECT_FALSE(Put(no_cert).ok());  // etcd asks for a client certificate.
  EXPECT_FALSE(Put(replication::EtcdTls()).ok());  // Plain text.
}

TEST_F(EtcdTlsTest, TheServerRefusesPlainTextUnlessToldAndLeadsOverTls) {
  kek_ = dir_.path() + "/cluster.kek";
  ASSERT_TRUE(WritePrivateFile(kek_, std::string(64, 'a') + "\n").ok());
  tlog_key_ = dir_.path() + "/tlog-signer.key";
  ASSERT_TRUE(
      services::WriteNewSignerKey(tlog_key_, "localhost/ycr/tls-test").ok());
  // Plain text without --replication_insecure: refused, naming the flags.
  std::vector<std::string> plain = {YCR_SERVER_BINARY, "--insecure",
                                    "--data_dir=" + dir_.path() + "/plain",
                                    "--listen=127.0.0.1:0"};
  for (const std::string& flag : NodeFlags()) plain.push_back(flag);
  const Outcome refused = RunArgs(plain, dir_.path() + "/plain.err");
  EXPECT_EQ(refused.code, 2);
  const std::string said = refused.out + refused.err;  // The log's line.
  EXPECT_NE(said.find("--replication_insecure"), std::string::npos) << said;
  EXPECT_NE(said.find("--replication_ca"), std::string::npos) << said;

  // Over TLS with a client certificate: it leads and takes an append.
  const std::string client = tls_ + "/clients/ycr-cluster/ycr-node";
  std::vector<std::string> flags = NodeFlags();
  flags.insert(flags.end(), {"--replication_ca=" + tls_ + "/ca.crt",
                             "--replication_cert=" + client + ".crt",
                             "--replication_key=" + client + ".key"});
  ServerProcess node(YCR_SERVER_BINARY, dir_.path() + "/node", flags);
  ASSERT_GT(node.port(), 0);
  const std::string address = absl::StrCat("127.0.0.1:", node.port());
  grpc::Status appended;
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (absl::Now() < deadline) {
    v1::AppendResponse response;
    appended = Append(address, NewAppend("ops-tls", 1), &response);
    if (appended.ok()) break;
    absl::SleepFor(absl::Milliseconds(100));  // A poll while it campaigns.
  }
  EXPECT_TRUE(appended.ok()) << appended.error_message();
}

}  // namespace
}  // namespace ycr::testing
