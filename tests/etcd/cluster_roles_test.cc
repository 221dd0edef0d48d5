// What a cluster's node says of its role (issue 17), on 3 ycr-server
// processes and 3 etcd members: a follower's refusal carries the leader's
// address in its details (ErrorInfo NOT_LEADER, metadata "leader"), which
// the `ycr` command line follows once; grpc.health.v1 says who leads
// (ycr.v1.leader and ycr.v1.writes SERVING on the leader only, "" SERVING
// on every node that follows), and moves to the new leader after a kill.

#include <signal.h>

#include <string>

#include "common/error_details.h"
#include "common/not_leader.h"
#include "google/protobuf/util/json_util.h"
#include "services/server.h"
#include "tests/etcd/cluster_nodes.h"
#include "tests/integration/command_runner.h"

namespace ycr::testing {
namespace {

class ClusterRolesTest : public ClusterTest {
 protected:
  // Waits (bounded) until ycr.v1.leader is SERVING on `leader` only.
  bool HealthSaysLeader(int leader) {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (absl::Now() < deadline) {
      bool right = true;
      for (int i = 0; i < kNodes; ++i) {
        if (nodes_[i]->pid() < 0) continue;
        right =
            right && Serving(addresses_[i], services::kLeaderHealthService) ==
                         (i == leader);
      }
      if (right) return true;
      absl::SleepFor(absl::Milliseconds(100));  // A bounded poll.
    }
    return false;
  }
};

TEST_F(ClusterRolesTest, FollowersNameTheLeaderAndHealthSaysWhoLeads) {
  StartNodes();
  const int leader = TakesWrites(NewAppend("ops-first", 1), absl::Seconds(20));
  ASSERT_GE(leader, 0) << "no node leads";
  const int follower = (leader + 1) % kNodes;

  // The refusal's details name the leader, for a client to branch on.
  v1::AppendResponse response;
  const grpc::Status refused =
      Append(addresses_[follower], NewAppend("ops-x", 1), &response);
  ASSERT_EQ(refused.error_code(), grpc::StatusCode::UNAVAILABLE);
  std::string named;
  ASSERT_TRUE(ParseNotLeader(refused.error_details(), &named));
  EXPECT_EQ(named, addresses_[leader]);
  int code = 0;
  std::string message;
  ErrorDetails details;
  ASSERT_TRUE(
      ParseRpcStatus(refused.error_details(), &code, &message, &details));
  EXPECT_EQ(details.reason, reason::kNotLeader);

  // The command line sends it once more, to the leader named.
  std::string json;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(
                  NewAppend("ops-cli", 1), &json)
                  .ok());
  const Outcome cli =
      RunArgs(CliAs(YCR_CLI_BINARY, nodes_[follower]->port(), "ops", "admin",
                    {"event-store", "append", "--data", json}),
              root_.path() + "/cli.err");
  EXPECT_EQ(cli.code, 0) << cli.err;
  EXPECT_NE(cli.err.find("following the leader at " + addresses_[leader]),
            std::string::npos)
      << cli.err;
  EXPECT_NE(cli.out.find("first_position"), std::string::npos) << cli.out;
  // So does `ycr log append`, which once answered with the refusal.
  const Outcome log_append =
      RunArgs(CliAs(YCR_CLI_BINARY, nodes_[follower]->port(), "ops", "admin",
                    {"log", "append", "ops-cli-log", "test.note", "hello"}),
              root_.path() + "/cli-log.err");
  EXPECT_EQ(log_append.code, 0) << log_append.err;
  EXPECT_NE(
      log_append.err.find("following the leader at " + addresses_[leader]),
      std::string::npos)
      << log_append.err;
  EXPECT_NE(log_append.out.find("appended at position"), std::string::npos)
      << log_append.out;

  // Health: the leader only for ycr.v1.leader and ycr.v1.writes; every
  // node SERVING for "" (reads).
  ASSERT_TRUE(HealthSaysLeader(leader));
  for (int i = 0; i < kNodes; ++i) {
    EXPECT_TRUE(Serving(addresses_[i], "")) << "node " << i;
    EXPECT_EQ(Serving(addresses_[i], services::kWritesHealthService),
              i == leader)
        << "node " << i;
  }

  // The leader killed: health moves to whichever node leads next.
  nodes_[leader]->Stop(SIGKILL);
  const int next =
      TakesWrites(NewAppend("ops-after", 1), absl::Seconds(15), leader);
  ASSERT_GE(next, 0) << "no survivor took writes";
  EXPECT_TRUE(HealthSaysLeader(next));
}

}  // namespace
}  // namespace ycr::testing
