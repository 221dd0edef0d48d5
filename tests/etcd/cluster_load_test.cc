// etcd members lost under a load (issue 17): 3 etcd members, 3 ycr-server
// nodes, 64 clients appending, each request with its own event ids (the
// idempotency keys) and retried with the same ids until acknowledged. A
// client that reaches a follower is refused with NOT_LEADER naming the
// leader (common/not_leader.h) and goes there. Then:
//   - one etcd member killed with SIGKILL: appends go on being acknowledged;
//   - a second killed: nothing is acknowledged (refused UNAVAILABLE), and
//     every node still serves reads;
//   - both restarted: appends are acknowledged again;
// and at the end every request is in the log exactly once, each
// acknowledged one at the position it was given, and the three nodes hold
// the same log (same order, same head hash).

#include <atomic>
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/not_leader.h"
#include "tests/etcd/append_load.h"

namespace ycr::testing {
namespace {

constexpr int kLoadClients = 64;

class EtcdMembersLostUnderLoadTest : public LoadTest {};

TEST_F(EtcdMembersLostUnderLoadTest, OneLostGoesOnTwoLostRefusedThenResume) {
  StartNodes();
  ASSERT_GE(TakesWrites(NewAppend("ops-first", 1), absl::Seconds(20)), 0)
      << "no node leads";
  StartLoad(kLoadClients);
  ASSERT_TRUE(AcknowledgedMore(0, 150, absl::Seconds(60)));

  // One etcd member lost: appends go on.
  ASSERT_TRUE(cluster_->Kill(0).ok());
  const size_t one_lost = Acknowledged();
  EXPECT_TRUE(AcknowledgedMore(one_lost, 150, absl::Seconds(30)))
      << "appends stopped with one etcd member of three lost";

  // Two lost: nothing acknowledged once what was in flight has settled;
  // refused with UNAVAILABLE; reads go on on every node.
  ASSERT_TRUE(cluster_->Kill(1).ok());
  const absl::Time two_lost = absl::Now();
  // An append sent now is refused: by etcd (no majority), or by a node
  // whose lease lapsed meanwhile (NOT_LEADER, no leader known).
  // (sent to the leader a follower names, if one does).
  const v1::AppendRequest probe = NewAppend("ops-refused", 1);
  v1::AppendResponse refused_response;
  grpc::Status refused =
      Append(addresses_[0], probe, &refused_response, absl::Seconds(40));
  std::string named;
  if (ParseNotLeader(refused.error_details(), &named) && !named.empty()) {
    refused = Append(named, probe, &refused_response, absl::Seconds(40));
  }
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAVAILABLE)
      << refused.error_message();
  // The outage under test lasts at least this long.
  absl::SleepFor(two_lost + absl::Seconds(6) - absl::Now());
  {
    absl::MutexLock lock(&mu_);
    for (const Done& d : done_) {
      EXPECT_LT(d.at, two_lost + absl::Seconds(2))
          << "acknowledged without an etcd majority, at position "
          << d.first_position;
    }
  }
  for (int i = 0; i < kNodes; ++i) {
    EXPECT_GE(ReadEverything(addresses_[i]).size(), 150u) << "node " << i;
  }

  // Both back: appends resume.
  ASSERT_TRUE(cluster_->Restart(0).ok());
  ASSERT_TRUE(cluster_->Restart(1).ok());
  const size_t back = Acknowledged();
  EXPECT_TRUE(AcknowledgedMore(back, 150, absl::Seconds(40)))
      << "appends did not resume";
  StopLoad();
  ExpectNothingLost();
  EXPECT_GT(redirected_, 0) << "no client was sent to the leader";
  std::cout << Acknowledged() << " appends acknowledged by " << kLoadClients
            << " clients; " << redirected_ << " redirected to the leader, "
            << refused_ << " refused and retried\n";
}

}  // namespace
}  // namespace ycr::testing
