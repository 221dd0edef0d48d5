#include "replication/leader_lease.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"

namespace ycr::replication {

absl::StatusOr<std::unique_ptr<LeaderLease>> LeaderLease::Campaign(
    EtcdClient* client, LeaderLeaseOptions options) {
  if (options.ttl < absl::Seconds(2)) {
    return absl::InvalidArgumentError("leader lease ttl: at least 2 s");
  }
  if (options.election.empty()) {
    return absl::InvalidArgumentError("leader lease election: a name");
  }
  ASSIGN_OR_RETURN(const int64_t lease, client->LeaseGrant(options.ttl));
  std::unique_ptr<LeaderLease> leader(
      new LeaderLease(client, std::move(options), lease));
  // Renewing starts before the campaign, which may wait longer than a TTL.
  leader->renewer_ = std::thread([l = leader.get()] { l->KeepAlive(); });
  absl::StatusOr<v3electionpb::LeaderKey> elected =
      client->Campaign(leader->options_.election, lease, leader->options_.value,
                       leader->options_.campaign_timeout);
  if (!elected.ok()) return elected.status();  // The destructor revokes.
  leader->leader_ = *std::move(elected);
  return leader;
}

LeaderLease::~LeaderLease() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (renewer_.joinable()) renewer_.join();
  if (!leader_.key().empty()) client_->Resign(leader_).IgnoreError();
  client_->LeaseRevoke(lease_).IgnoreError();
}

Fence LeaderLease::fence() const { return Fence{leader_.key(), leader_.rev()}; }

void LeaderLease::KeepAlive() {
  absl::Time renewed = absl::Now();
  auto stopping = [this]()
                      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      // The renewal period, not a wait for another thread's work.
      if (mu_.AwaitWithTimeout(absl::Condition(&stopping), options_.ttl / 3)) {
        return;
      }
    }
    absl::StatusOr<int64_t> ttl = client_->LeaseKeepAliveOnce(lease_);
    if (ttl.ok()) {
      renewed = absl::Now();
      continue;
    }
    if (ttl.status().code() == absl::StatusCode::kNotFound ||
        absl::Now() - renewed >= options_.ttl) {
      held_ = false;
      return;
    }
  }
}

}  // namespace ycr::replication
