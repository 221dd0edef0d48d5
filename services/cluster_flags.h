#pragma once

// ycr-server's flags of replicated mode (issue 17; README "Running a
// cluster"): --replication, --node_id, --advertise, --cluster_kek,
// --replication_lease_seconds, --replication_backup_hold_seconds; and the
// command `ycr-server forget-node`. Built into ycr-server only; without the
// replication layer (YCR_ETCD off) --replication is refused.

#include "absl/status/status.h"
#include "common/log.h"
#include "services/server.h"

namespace ycr::services {

// Without --replication: OK, nothing set (a single node, as before). With
// it: checks every cluster flag (INVALID_ARGUMENT naming the flag) and sets
// options->open_cluster_log.
absl::Status ConfigureCluster(ServerOptions* options, Logger* log);

// `ycr-server forget-node --replication=etcd://... --node_id=NAME`: deletes
// the position NAME (a node id, or backup:<name> for a backup's hold)
// published in etcd, so that a node removed for good no longer holds the
// trimming of etcd's tail back; prints the positions left. 0 when deleted,
// 1 when there was none or etcd did not answer, 2 for bad flags.
int RunForgetNode();

}  // namespace ycr::services
