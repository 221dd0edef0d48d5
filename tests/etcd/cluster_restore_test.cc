// A fresh node from a peer's backup (issue 17): 3 etcd members, two
// ycr-server nodes under a load through the leader; one node's backup is
// taken mid-load (ycr.v1.Admin.Backup, which first holds etcd's entries
// after its head); the load goes on and etcd's tail is trimmed past the
// backup's head as far as the hold allows; a third node restored from that
// backup (ycr-server restore) joins, catches up from etcd and answers
// ReadAll and Head exactly as the others do, then tails new appends. The
// backup's hold is released with `ycr-server forget-node`. A node started
// empty after the trim cannot catch up: its health says not ready, and once
// removed, forget-node stops it holding etcd's trimming back.

#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/synchronization/mutex.h"
#include "replication/log_trimmer.h"
#include "replication/replicated_entry.h"
#include "services/server.h"
#include "tests/etcd/cluster_nodes.h"
#include "ycr/v1/admin_service.grpc.pb.h"

namespace ycr::testing {
namespace {

constexpr char kPrefix[] = "/ycr/log";

// Runs ycr-server with `args`; its exit status (-1 if it did not exit).
int RunServerCommand(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {YCR_SERVER_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  ChildProcess child = SpawnWithStdout(argv);
  char line[1024];
  while (fgets(line, sizeof(line), child.out) != nullptr) {
  }
  fclose(child.out);
  int status = 0;
  waitpid(child.pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

v1::HeadResponse Head(const std::string& address) {
  auto stub = v1::EventStore::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  AsCaller(&context, "failover-auditor", "reader", "auditor");
  v1::HeadResponse response;
  const grpc::Status status = stub->Head(&context, {}, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return response;
}

// The first position of the oldest entry etcd still holds (0: none).
uint64_t OldestEntry(replication::EtcdClient& client) {
  const std::string begin = replication::EntriesBegin(kPrefix);
  auto range = client.Range(begin, replication::PrefixEnd(begin), 1);
  if (!range.ok() || range->kvs().empty()) return 0;
  uint64_t position = 0;
  EXPECT_TRUE(
      absl::SimpleAtoi(range->kvs(0).key().substr(begin.size()), &position));
  return position;
}

class RestoredNodeTest : public ClusterTest {};

TEST_F(RestoredNodeTest,
       ANodeRestoredFromAPeersBackupCatchesUpAndAnswersAlike) {
  const std::string backups = root_.path() + "/backups";
  StartNodes(2, {"--backup_dir=" + backups});
  const int leader = TakesWrites(NewAppend("ops-first", 1), absl::Seconds(20));
  ASSERT_GE(leader, 0) << "no node leads";
  const int peer = 1 - leader;

  // A bounded load through the leader; the peer's backup is taken under it.
  absl::Mutex mu;
  int acknowledged = 0;
  std::vector<std::thread> clients;
  for (int c = 0; c < 4; ++c) {
    clients.emplace_back([&, c] {
      for (int i = 0; i < 60; ++i) {
        v1::AppendResponse response;
        const grpc::Status status = Append(
            addresses_[leader],
            NewAppend(absl::StrCat("ops-load-", c), 1 + i % 3), &response);
        EXPECT_TRUE(status.ok()) << status.error_message();
        absl::MutexLock lock(&mu);
        acknowledged += status.ok();
      }
    });
  }
  {
    absl::MutexLock lock(&mu);
    auto enough = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu) {
      return acknowledged >= 40;
    };
    mu.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(60));
  }
  v1::BackupResponse backup;
  {
    auto stub = v1::Admin::NewStub(grpc::CreateChannel(
        addresses_[peer], grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    AsCaller(&context, "ops", "operator", "admin");
    v1::BackupRequest request;
    request.set_name("mid-load");
    const grpc::Status status = stub->Backup(&context, request, &backup);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  for (std::thread& t : clients) t.join();
  v1::AppendResponse last;
  ASSERT_TRUE(Append(addresses_[leader], NewAppend("ops-last", 1), &last).ok());
  ASSERT_GT(last.last_position(), backup.head_position());

  // The leader trims what both nodes applied, but not past the backup's
  // hold (without it, everything after the backup's head would go).
  const absl::Time trimmed_by = absl::Now() + absl::Seconds(30);
  while (OldestEntry(*client_) == 1 && absl::Now() < trimmed_by) {
    absl::SleepFor(absl::Milliseconds(100));  // A bounded poll of etcd.
  }
  const uint64_t oldest = OldestEntry(*client_);
  ASSERT_NE(oldest, 1u) << "etcd's tail was never trimmed";
  ASSERT_NE(oldest, 0u) << "etcd's tail was trimmed past the backup's hold";
  EXPECT_LE(oldest, backup.head_position() + 1);

  // A node started empty now cannot catch up (what it lacks was trimmed):
  // it stops applying, and its health says it is not ready.
  StartNode(3, root_.path() + "/node3");
  const absl::Time stopped_by = absl::Now() + absl::Seconds(15);
  while (Serving(addresses_[3], "") && absl::Now() < stopped_by) {
    absl::SleepFor(absl::Milliseconds(100));  // A bounded poll.
  }
  EXPECT_FALSE(Serving(addresses_[3], ""));
  EXPECT_FALSE(Serving(addresses_[3], services::kLeaderHealthService));
  nodes_[3]->Stop(SIGTERM);
  // Removed for good: forgotten, it holds etcd's trimming back no more.
  ASSERT_EQ(RunServerCommand({"forget-node", "--replication=" + EtcdFlag(),
                              "--replication_insecure", "--node_id=node3"}),
            0);

  // A third node from the peer's backup, with the cluster's one signer key
  // (the restored store's last checkpoint was signed with it).
  const std::string restored = root_.path() + "/node2";
  ASSERT_EQ(RunServerCommand({"restore", "--from=" + backup.path(),
                              "--data_dir=" + restored}),
            0);
  StartNode(2, restored);

  // It catches up and answers as the others do.
  const absl::Time caught_by = absl::Now() + absl::Seconds(20);
  while (Head(addresses_[2]).position() < last.last_position() &&
         absl::Now() < caught_by) {
    absl::SleepFor(absl::Milliseconds(50));  // A bounded poll.
  }
  const std::vector<v1::RecordedEvent> on_leader =
      ReadEverything(addresses_[leader]);
  ASSERT_EQ(on_leader.size(), last.last_position());
  for (int i : {peer, 2}) {
    const std::vector<v1::RecordedEvent> on_node =
        ReadEverything(addresses_[i]);
    ASSERT_EQ(on_node.size(), on_leader.size()) << "node " << i;
    for (size_t p = 0; p < on_leader.size(); ++p) {
      ASSERT_EQ(on_node[p].SerializeAsString(),
                on_leader[p].SerializeAsString())
          << "node " << i << " position " << p + 1;
    }
    const v1::HeadResponse head = Head(addresses_[i]);
    EXPECT_EQ(head.position(), last.last_position());
    EXPECT_EQ(head.hash(), Head(addresses_[leader]).hash());
  }

  // It tails etcd from then on.
  v1::AppendResponse after;
  ASSERT_TRUE(
      Append(addresses_[leader], NewAppend("ops-after", 2), &after).ok());
  const absl::Time tailed_by = absl::Now() + absl::Seconds(10);
  while (Head(addresses_[2]).position() < after.last_position() &&
         absl::Now() < tailed_by) {
    absl::SleepFor(absl::Milliseconds(50));  // A bounded poll.
  }
  EXPECT_EQ(Head(addresses_[2]).hash(), Head(addresses_[leader]).hash());

  // The backup's hold is released by hand; the restored node publishes its
  // own position.
  ASSERT_EQ(
      RunServerCommand({"forget-node", "--replication=" + EtcdFlag(),
                        "--replication_insecure", "--node_id=backup:mid-load"}),
      0);
  auto published = replication::ListApplied(*client_, kPrefix);
  ASSERT_TRUE(published.ok()) << published.status();
  for (const auto& [name, position] : *published) {
    EXPECT_NE(name, "backup:mid-load");
  }
  EXPECT_EQ(
      RunServerCommand({"forget-node", "--replication=" + EtcdFlag(),
                        "--replication_insecure", "--node_id=backup:mid-load"}),
      1)
      << "a second forget finds nothing";
}

}  // namespace
}  // namespace ycr::testing
