#pragma once

// ycr-server's flags of replicated mode (issue 17; README "Running a
// cluster"): --replication, --node_id, --advertise, --cluster_kek,
// --replication_lease_seconds. Built into ycr-server only; without the
// replication layer (YCR_ETCD off) --replication is refused.

#include "absl/status/status.h"
#include "common/log.h"
#include "services/server.h"

namespace ycr::services {

// Without --replication: OK, nothing set (a single node, as before). With
// it: checks every cluster flag (INVALID_ARGUMENT naming the flag) and sets
// options->open_cluster_log.
absl::Status ConfigureCluster(ServerOptions* options, Logger* log);

}  // namespace ycr::services
