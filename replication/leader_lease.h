#pragma once

// Leadership of the replicated log through etcd's election API (v3election)
// on a lease that a thread keeps alive. The leader key is the writer's fence
// (replicated_log_writer.h): etcd deletes it when the lease expires (the
// process paused or cut off past its TTL) or the leader resigns, and from
// then on every fenced write of the old leader fails in etcd itself, whatever
// the old leader believes.

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "replication/etcd_client.h"
#include "replication/replicated_log_writer.h"

namespace ycr::replication {

struct LeaderLeaseOptions {
  // The election's name, e.g. "/ycr/leader".
  std::string election = "/ycr/leader";
  // What the leader posts: its address, for followers to forward to.
  std::string value;
  // The lease's TTL (whole seconds, at least 2): how long a silent leader
  // keeps leadership. Renewed every third of it.
  absl::Duration ttl = absl::Seconds(5);
  // How long Campaign waits to be elected.
  absl::Duration campaign_timeout = absl::Seconds(30);
};

class LeaderLease {
 public:
  // Grants a lease, starts keeping it alive, and campaigns: returns once
  // elected. UNAVAILABLE when not elected within campaign_timeout (the
  // lease is revoked).
  static absl::StatusOr<std::unique_ptr<LeaderLease>> Campaign(
      EtcdClient* client, LeaderLeaseOptions options);
  // Stops renewing, resigns and revokes the lease (best effort: the lease
  // expires anyway).
  ~LeaderLease();
  LeaderLease(const LeaderLease&) = delete;
  LeaderLease& operator=(const LeaderLease&) = delete;

  // The fence of this leadership, for ReplicatedLogWriter::Open.
  Fence fence() const;
  // False once a renewal found the lease gone, or none succeeded for a whole
  // TTL: the node must stop deciding commands (its writes fail anyway).
  bool held() const { return held_; }

 private:
  LeaderLease(EtcdClient* client, LeaderLeaseOptions options, int64_t lease)
      : client_(client), options_(std::move(options)), lease_(lease) {}
  void KeepAlive();

  EtcdClient* client_;
  const LeaderLeaseOptions options_;
  const int64_t lease_;
  v3electionpb::LeaderKey leader_;
  std::atomic<bool> held_{true};
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread renewer_;
};

}  // namespace ycr::replication
