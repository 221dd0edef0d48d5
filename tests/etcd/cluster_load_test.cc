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
#include "tests/etcd/cluster_nodes.h"

namespace ycr::testing {
namespace {

constexpr int kLoadClients = 64;

class EtcdMembersLostUnderLoadTest : public ClusterTest {
 protected:
  struct Done {
    v1::AppendRequest request;
    uint64_t first_position = 0;
    absl::Time at;
  };

  // One client: appends one request at a time, each retried with the same
  // event ids until acknowledged; after stop_, only the request in hand.
  void Client(int c) {
    std::vector<std::unique_ptr<v1::EventStore::Stub>> stubs;
    for (const std::string& address : addresses_) {
      stubs.push_back(v1::EventStore::NewStub(
          grpc::CreateChannel(address, grpc::InsecureChannelCredentials())));
    }
    int target = c % kNodes;
    const absl::Time give_up = absl::Now() + absl::Seconds(150);
    for (int i = 0; !stop_ && absl::Now() < give_up; ++i) {
      const v1::AppendRequest request =
          NewAppend(absl::StrCat("ops-load-", c), 1 + i % 2);
      while (absl::Now() < give_up) {
        grpc::ClientContext context;
        AsCaller(&context, "ops", "writer", "admin");
        context.set_deadline(
            absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
        v1::AppendResponse response;
        const grpc::Status status =
            stubs[target]->Append(&context, request, &response);
        if (status.ok()) {
          absl::MutexLock lock(&mu_);
          done_.push_back({request, response.first_position(), absl::Now()});
          break;
        }
        // Refused, or its outcome unknown: retried with the same ids.
        EXPECT_TRUE(status.error_code() == grpc::StatusCode::UNAVAILABLE ||
                    status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED)
            << status.error_message();
        std::string leader;
        if (ParseNotLeader(status.error_details(), &leader)) {
          ++redirected_;
          int next = (target + 1) % kNodes;
          for (int n = 0; n < kNodes; ++n) {
            if (addresses_[n] == leader) next = n;
          }
          target = next;
        } else {
          ++refused_;
        }
        // A pause before the retry (not a wait for anything).
        absl::SleepFor(absl::Milliseconds(50));
      }
    }
  }

  // Waits (bounded) until `more` appends beyond `from` are acknowledged.
  bool AcknowledgedMore(size_t from, size_t more, absl::Duration within) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return done_.size() >= from + more;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), within);
  }

  size_t Acknowledged() {
    absl::MutexLock lock(&mu_);
    return done_.size();
  }

  absl::Mutex mu_;
  std::vector<Done> done_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> stop_{false};
  std::atomic<int> redirected_{0};
  std::atomic<int> refused_{0};
};

TEST_F(EtcdMembersLostUnderLoadTest, OneLostGoesOnTwoLostRefusedThenResume) {
  StartNodes();
  ASSERT_GE(TakesWrites(NewAppend("ops-first", 1), absl::Seconds(20)), 0)
      << "no node leads";
  std::vector<std::thread> clients;
  for (int c = 0; c < kLoadClients; ++c) {
    clients.emplace_back([this, c] { Client(c); });
  }
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
  stop_ = true;
  for (std::thread& t : clients) t.join();

  // Every request once, each where it was acknowledged; the same log on
  // every node.
  v1::AppendResponse last;
  const int leader = TakesWrites(NewAppend("ops-last", 1), absl::Seconds(20));
  ASSERT_GE(leader, 0);
  ASSERT_TRUE(Append(addresses_[leader], NewAppend("ops-last", 1), &last).ok());
  std::vector<std::vector<v1::RecordedEvent>> logs(kNodes);
  for (int i = 0; i < kNodes; ++i) {
    const absl::Time deadline = absl::Now() + absl::Seconds(15);
    do {
      logs[i] = ReadEverything(addresses_[i]);
    } while (logs[i].size() < last.last_position() && absl::Now() < deadline);
    ASSERT_EQ(logs[i].size(), last.last_position()) << "node " << i;
    for (size_t p = 0; p < logs[i].size(); ++p) {
      ASSERT_EQ(logs[i][p].hash(), logs[0][p].hash())
          << "node " << i << " position " << p + 1;
    }
  }
  std::map<std::string, uint64_t> position_of;
  for (const v1::RecordedEvent& e : logs[0]) {
    EXPECT_TRUE(position_of.emplace(e.event_id(), e.position()).second)
        << "event id twice: " << e.event_id();
  }
  absl::MutexLock lock(&mu_);
  for (const Done& d : done_) {
    for (int e = 0; e < d.request.events_size(); ++e) {
      auto it = position_of.find(d.request.events(e).event_id());
      ASSERT_NE(it, position_of.end());
      EXPECT_EQ(it->second, d.first_position + e);
    }
  }
  EXPECT_GT(redirected_, 0) << "no client was sent to the leader";
  std::cout << done_.size() << " appends acknowledged by " << kLoadClients
            << " clients; " << redirected_ << " redirected to the leader, "
            << refused_ << " refused and retried\n";
}

}  // namespace
}  // namespace ycr::testing
