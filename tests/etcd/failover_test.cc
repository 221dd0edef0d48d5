// Failover of real ycr-server processes on etcd (issue 17): 3 etcd members
// and 3 ycr nodes on loopback (ycr-server --replication). Clients append
// through the leader (raw appends with their own event ids); the leader is
// killed with SIGKILL under that load. Then:
//   - a surviving node serves writes within 10 s of the kill;
//   - every acknowledged append is on both survivors, at the positions it
//     was given, in the same order, and the survivors' logs (so their head
//     hashes) are identical;
//   - every append retried with the same event ids on the new leader lands
//     once (an acknowledged one is answered as a replay);
//   - a follower answers commands UNAVAILABLE naming the leader's address.
// Also: a leader paused past its lease writes nothing once resumed; with
// two etcd members lost appends are refused and reads go on.

#include <signal.h>

#include <atomic>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/etcd/cluster_nodes.h"

namespace ycr::testing {
namespace {

constexpr int kClients = 4;

class FailoverTest : public ClusterTest {};

TEST_F(FailoverTest, KillingTheLeaderLosesNoAcknowledgedAppend) {
  StartNodes();
  std::vector<std::string>& addresses = addresses_;
  std::vector<std::unique_ptr<ServerProcess>>& nodes = nodes_;
  // Whoever leads takes the first append; the others name it.
  const int leader = TakesWrites(NewAppend("ops-first", 1), absl::Seconds(20));
  ASSERT_GE(leader, 0) << "no node leads";
  const int follower = (leader + 1) % kNodes;
  v1::AppendResponse refused_response;
  grpc::Status refused =
      Append(addresses[follower], NewAppend("ops-x", 1), &refused_response);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(refused.error_message().find(addresses[leader]), std::string::npos)
      << refused.error_message();

  // A bounded load through the leader; the leader dies under it.
  absl::Mutex mu;
  std::vector<Attempt> attempts;
  int acknowledged = 0;
  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      for (int i = 0; i < 200 && !stop; ++i) {
        Attempt attempt;
        attempt.request = NewAppend(absl::StrCat("ops-load-", c), 1 + i % 3);
        v1::AppendResponse response;
        grpc::Status status =
            Append(addresses[leader], attempt.request, &response);
        attempt.acknowledged = status.ok();
        attempt.first_position = response.first_position();
        absl::MutexLock lock(&mu);
        acknowledged += status.ok();
        attempts.push_back(std::move(attempt));
        if (!status.ok()) return;
      }
    });
  }
  {
    absl::MutexLock lock(&mu);
    auto enough = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu) {
      return acknowledged >= 60;
    };
    mu.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(60));
  }
  nodes[leader]->Stop(SIGKILL);
  const absl::Time killed = absl::Now();
  stop = true;
  for (std::thread& t : clients) t.join();
  ASSERT_GE(acknowledged, 60);

  // A survivor serves writes within 10 s.
  std::vector<int> survivors;
  for (int i = 0; i < kNodes; ++i) {
    if (i != leader) survivors.push_back(i);
  }
  const int next =
      TakesWrites(NewAppend("ops-after", 1), absl::Seconds(10), leader);
  ASSERT_GE(next, 0) << "no survivor took writes within 10 s of the kill";
  std::cout << "new leader took writes " << absl::Now() - killed
            << " after the kill; " << acknowledged << " of " << attempts.size()
            << " appends acknowledged before it\n";

  // Retries land once: acknowledged ones replay at their positions, the
  // others land now.
  for (const Attempt& attempt : attempts) {
    v1::AppendResponse response;
    grpc::Status status = Append(addresses[next], attempt.request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    if (attempt.acknowledged) {
      EXPECT_TRUE(response.replayed());
      EXPECT_EQ(response.first_position(), attempt.first_position);
    }
  }
  v1::AppendResponse last;
  ASSERT_TRUE(Append(addresses[next], NewAppend("ops-last", 1), &last).ok());

  // Both survivors hold the same log, every event id once, and every
  // acknowledged append where it was acknowledged.
  const int other = survivors[0] == next ? survivors[1] : survivors[0];
  std::vector<v1::RecordedEvent> a = ReadEverything(addresses[next]);
  std::vector<v1::RecordedEvent> b;
  const absl::Time caught_deadline = absl::Now() + absl::Seconds(10);
  do {
    b = ReadEverything(addresses[other]);
  } while (b.size() < a.size() && absl::Now() < caught_deadline);
  ASSERT_EQ(a.size(), last.last_position());
  ASSERT_EQ(b.size(), a.size());
  std::map<std::string, uint64_t> position_of;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].hash(), b[i].hash()) << "position " << i + 1;
    EXPECT_TRUE(position_of.emplace(a[i].event_id(), a[i].position()).second)
        << "event id twice: " << a[i].event_id();
  }
  for (const Attempt& attempt : attempts) {
    for (int e = 0; e < attempt.request.events_size(); ++e) {
      auto it = position_of.find(attempt.request.events(e).event_id());
      ASSERT_NE(it, position_of.end());
      if (attempt.acknowledged) {
        EXPECT_EQ(it->second, attempt.first_position + e);
      }
    }
  }
}

class PausedLeaderTest : public ClusterTest {};

// A leader paused with SIGSTOP past its lease and then resumed writes
// nothing: an append it received while paused is refused, never in the
// log, and it follows the new leader's log.
TEST_F(PausedLeaderTest, AResumedLeaderWritesNothing) {
  StartNodes();
  const int old = TakesWrites(NewAppend("ops-first", 1), absl::Seconds(20));
  ASSERT_GE(old, 0) << "no node leads";
  ASSERT_EQ(kill(nodes_[old]->pid(), SIGSTOP), 0);
  const v1::AppendRequest stale = NewAppend("ops-stale", 2);
  grpc::Status stale_status;
  std::thread sender([&] {
    v1::AppendResponse response;
    stale_status = Append(addresses_[old], stale, &response, absl::Seconds(30));
  });
  // Another node leads once the paused one's lease has expired.
  const int next =
      TakesWrites(NewAppend("ops-after", 1), absl::Seconds(15), old);
  ASSERT_GE(next, 0) << "no other node took writes";
  v1::AppendResponse last;
  ASSERT_TRUE(Append(addresses_[next], NewAppend("ops-new", 1), &last).ok());
  ASSERT_EQ(kill(nodes_[old]->pid(), SIGCONT), 0);
  sender.join();
  EXPECT_EQ(stale_status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << stale_status.error_message();
  // Its own log catches up with the new leader's, which never had the
  // stale append.
  std::vector<v1::RecordedEvent> resumed;
  const absl::Time deadline = absl::Now() + absl::Seconds(15);
  do {
    resumed = ReadEverything(addresses_[old]);
  } while (resumed.size() < last.last_position() && absl::Now() < deadline);
  const std::vector<v1::RecordedEvent> current =
      ReadEverything(addresses_[next]);
  ASSERT_EQ(resumed.size(), current.size());
  EXPECT_EQ(resumed.back().hash(), current.back().hash());
  const std::map<std::string, int> ids = IdCounts(current);
  for (const auto& e : stale.events()) EXPECT_EQ(ids.count(e.event_id()), 0u);
}

class EtcdMajorityLostTest : public ClusterTest {};

// Two of three etcd members lost: appends are refused with UNAVAILABLE
// (nothing acknowledged without a majority) and every node still serves
// reads; once they are back, writes resume and the refused append, retried,
// lands once.
TEST_F(EtcdMajorityLostTest, WritesRefusedReadsGoOnThenResume) {
  StartNodes();
  const int leader = TakesWrites(NewAppend("ops-first", 1), absl::Seconds(20));
  ASSERT_GE(leader, 0) << "no node leads";
  // Every node holds the first append before the majority goes (a follower
  // cannot read etcd without one).
  for (int i = 0; i < kNodes; ++i) {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (ReadEverything(addresses_[i]).empty() && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(50));  // A bounded poll.
    }
  }
  ASSERT_TRUE(cluster_->Kill(1).ok());
  ASSERT_TRUE(cluster_->Kill(2).ok());
  const v1::AppendRequest refused = NewAppend("ops-refused", 1);
  v1::AppendResponse response;
  const grpc::Status status =
      Append(addresses_[leader], refused, &response, absl::Seconds(40));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << status.error_message();
  for (int i = 0; i < kNodes; ++i) {
    EXPECT_GE(ReadEverything(addresses_[i]).size(), 1u) << "node " << i;
  }
  ASSERT_TRUE(cluster_->Restart(1).ok());
  ASSERT_TRUE(cluster_->Restart(2).ok());
  const int now = TakesWrites(refused, absl::Seconds(30));
  ASSERT_GE(now, 0) << "writes did not resume";
  EXPECT_EQ(
      IdCounts(ReadEverything(addresses_[now]))[refused.events(0).event_id()],
      1);
}

}  // namespace
}  // namespace ycr::testing
