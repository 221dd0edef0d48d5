#pragma once

// What a node of a replicated cluster (issue 17, replication/) tells the
// server that serves it, so that services/ names nothing of etcd: its role
// (for the health service a load balancer asks) and a hold on etcd's tail
// for a backup (so that a node restored from it can catch up).

#include <cstdint>
#include <functional>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "storage/access_log_store.h"

namespace ycr::storage {

enum class ClusterRole {
  // It leads: it decides commands and appends.
  kLeader,
  // It applies the leader's log and serves reads; commands are refused
  // with UNAVAILABLE naming the leader.
  kFollower,
  // It has not yet caught up with the log as it was when it started, or it
  // stopped applying for good (a broken chain, or entries trimmed past it):
  // what it holds may be stale.
  kNotReady,
};

inline const char* ClusterRoleName(ClusterRole role) {
  switch (role) {
    case ClusterRole::kLeader:
      return "leader";
    case ClusterRole::kFollower:
      return "follower";
    case ClusterRole::kNotReady:
      return "not_ready";
  }
  return "not_ready";
}

class ClusterNode {
 public:
  virtual ~ClusterNode() = default;

  virtual ClusterRole role() = 0;
  // `listener` is called, on the node's own threads and one call at a time,
  // with each new role once it changes. Set it once, before serving.
  virtual void SetRoleListener(std::function<void(ClusterRole)> listener) = 0;
  // Before a backup named `name` of this node's store, whose copy will hold
  // at least `position`: keeps the cluster's log after `position` for a
  // while, so that a node restored from the copy finds what follows it.
  virtual absl::Status HoldForBackup(absl::string_view name,
                                     uint64_t position) = 0;
  // The store this node's access log is written through, given its own
  // (`local`, which it keeps and reads from): entries written to it reach
  // every node's access log. Call once, before serving.
  virtual absl::StatusOr<std::unique_ptr<AccessLogStore>> ClusterAccessLog(
      std::unique_ptr<AccessLogStore> local) = 0;
};

}  // namespace ycr::storage
