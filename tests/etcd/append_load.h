#pragma once

// A load on a cluster of ycr-server processes (cluster_nodes.h) for the
// failure tests: clients appending one request at a time, each with its own
// event ids (the idempotency keys) and retried with the same ids until
// acknowledged; a client refused with NOT_LEADER goes to the leader named,
// one refused otherwise (etcd without a majority, a node gone) to the next
// node. Then: the same log on every node, every acknowledged append once,
// where it was acknowledged.

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/not_leader.h"
#include "tests/etcd/cluster_nodes.h"

namespace ycr::testing {

class LoadTest : public ClusterTest {
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
    const absl::Time give_up = absl::Now() + load_limit_;
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
          // Refused by etcd, or the node is gone: the next node (whose
          // answer names the leader if it does not lead).
          ++refused_;
          target = (target + 1) % kNodes;
        }
        // A pause before the retry (not a wait for anything).
        absl::SleepFor(absl::Milliseconds(50));
      }
    }
  }

  // Starts `clients` clients (Client).
  void StartLoad(int clients) {
    for (int c = 0; c < clients; ++c) {
      clients_.emplace_back([this, c] { Client(c); });
    }
  }

  // A test that failed with its load running stops it first.
  void TearDown() override {
    if (!clients_.empty()) StopLoad();
    ClusterTest::TearDown();
  }

  // Stops the clients once each has its request in hand acknowledged.
  void StopLoad() {
    stop_ = true;
    for (std::thread& t : clients_) t.join();
    clients_.clear();
  }

  // After StopLoad: every node holds the same log, every event id once, and
  // every acknowledged append at the positions it was given.
  void ExpectNothingLost() {
    v1::AppendResponse last;
    const int leader = TakesWrites(NewAppend("ops-last", 1), absl::Seconds(20));
    ASSERT_GE(leader, 0);
    ASSERT_TRUE(
        Append(addresses_[leader], NewAppend("ops-last", 1), &last).ok());
    std::vector<std::vector<v1::RecordedEvent>> logs(kNodes);
    for (int i = 0; i < kNodes; ++i) {
      const absl::Time deadline = absl::Now() + absl::Seconds(30);
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
        ASSERT_NE(it, position_of.end()) << "an acknowledged append is lost";
        EXPECT_EQ(it->second, d.first_position + e);
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
  std::vector<std::thread> clients_;
  // How long a client goes on at most (a bound for a test that fails).
  absl::Duration load_limit_ = absl::Seconds(150);
};

}  // namespace ycr::testing
