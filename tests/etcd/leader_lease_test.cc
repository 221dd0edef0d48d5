// Leadership on a lease (replication/leader_lease.h) against a real etcd
// member: the lease outlives its TTL while renewed; one leader at a time;
// the next is elected when the first resigns, and the first's fenced writer
// can no longer write; a lease lost (revoked, as on expiry) is noticed.

#include "replication/leader_lease.h"

#include <memory>
#include <string>
#include <thread>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "replication/replicated_log_writer.h"
#include "tests/etcd/etcd_suite.h"
#include "tests/etcd/replicated_entries.h"

namespace ycr::replication {
namespace {

using ::ycr::testing::MakeAppends;

class LeaderLeaseTest : public ::ycr::testing::EtcdSuite<1> {
 protected:
  LeaderLeaseOptions Options(const std::string& value) {
    return {.election = prefix_ + "/leader",
            .value = value,
            .ttl = absl::Seconds(2),
            .campaign_timeout = absl::Seconds(10)};
  }
};

TEST_F(LeaderLeaseTest, RenewedLeadershipOutlivesItsTtl) {
  auto leader = LeaderLease::Campaign(client_.get(), Options("node-a"));
  ASSERT_TRUE(leader.ok()) << leader.status();
  const Fence fence = (*leader)->fence();
  // Past the TTL (2 s), checked every quarter second, the leader key stays:
  // the lease is being renewed. (Waiting out the TTL is the point here.)
  const absl::Time until = absl::Now() + absl::Seconds(3);
  while (absl::Now() < until) {
    auto key = client_->Get(fence.key);
    ASSERT_TRUE(key.ok() && key->has_value()) << "leadership lost";
    absl::SleepFor(absl::Milliseconds(250));
  }
  EXPECT_TRUE((*leader)->held());
  auto key = client_->Get(fence.key);
  ASSERT_TRUE(key.ok() && key->has_value());
  EXPECT_EQ((*key)->create_revision, fence.create_revision);
  auto posted = client_->Leader(prefix_ + "/leader");
  ASSERT_TRUE(posted.ok() && posted->has_value());
  EXPECT_EQ((*posted)->value, "node-a");
}

TEST_F(LeaderLeaseTest, OneLeaderAtATimeAndTheOldOneCannotWrite) {
  auto a = LeaderLease::Campaign(client_.get(), Options("node-a"));
  ASSERT_TRUE(a.ok()) << a.status();
  ReplicatedLogOptions log{.prefix = prefix_ + "/log"};
  auto writer_a = ReplicatedLogWriter::Open(client_.get(), log, (*a)->fence());
  ASSERT_TRUE(writer_a.ok());
  ASSERT_TRUE(
      (*writer_a)->Write(MakeAppends((*writer_a)->head(), {1})).status.ok());

  // B campaigns while A leads: it waits, then wins once A resigns.
  auto other = NewClient(absl::Seconds(5));
  absl::StatusOr<std::unique_ptr<LeaderLease>> b =
      absl::UnavailableError("not yet");
  std::thread campaign(
      [&] { b = LeaderLease::Campaign(other.get(), Options("node-b")); });
  auto posted = client_->Leader(prefix_ + "/leader");
  ASSERT_TRUE(posted.ok() && posted->has_value());
  EXPECT_EQ((*posted)->value, "node-a");
  a->reset();  // Resigns.
  campaign.join();
  ASSERT_TRUE(b.ok()) << b.status();
  posted = client_->Leader(prefix_ + "/leader");
  ASSERT_TRUE(posted.ok() && posted->has_value());
  EXPECT_EQ((*posted)->value, "node-b");

  // A's writer is fenced off; B's writes.
  EXPECT_EQ(
      (*writer_a)->Write(MakeAppends((*writer_a)->head(), {1})).status.code(),
      absl::StatusCode::kFailedPrecondition);
  auto writer_b = ReplicatedLogWriter::Open(client_.get(), log, (*b)->fence());
  ASSERT_TRUE(writer_b.ok());
  EXPECT_TRUE(
      (*writer_b)->Write(MakeAppends((*writer_b)->head(), {1})).status.ok());
}

TEST_F(LeaderLeaseTest, ALostLeaseIsNoticed) {
  auto leader = LeaderLease::Campaign(client_.get(), Options("node-a"));
  ASSERT_TRUE(leader.ok()) << leader.status();
  auto key = client_->Get((*leader)->fence().key);
  ASSERT_TRUE(key.ok() && key->has_value());
  // What etcd does when the lease expires: the lease and its key go.
  ASSERT_TRUE(client_->LeaseRevoke((*key)->lease).ok());
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while ((*leader)->held() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_FALSE((*leader)->held());
  EXPECT_EQ(LeaderLease::Campaign(
                client_.get(),
                {.election = "x", .value = "", .ttl = absl::Seconds(1)})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ycr::replication
