#pragma once

// ycr.v1.Admin: online backup (a RocksDB checkpoint under --backup_dir),
// for role "admin". The copy runs on a worker, never on a gRPC thread.

#include <string>

#include "common/log.h"
#include "services/work_queue.h"
#include "storage/cluster_node.h"
#include "storage/rocksdb_event_log.h"
#include "ycr/v1/admin_service.grpc.pb.h"

namespace ycr::services {

class AdminService final : public v1::Admin::CallbackService {
 public:
  // `log` and `pool` (and `cluster`, when not null) must outlive the
  // service. `backup_dir` empty: backups are off (FAILED_PRECONDITION).
  // `cluster`: a replicated node, whose backups first hold the cluster's
  // log after their head (ClusterNode::HoldForBackup).
  // `logger` (may be null) gets the cause of a hold etcd refused
  // (admin.backup_hold_failed); the client, the rule.
  AdminService(storage::RocksDbEventLog* log, WorkQueue* pool,
               std::string backup_dir, storage::ClusterNode* cluster = nullptr,
               Logger* logger = nullptr)
      : log_(log),
        pool_(pool),
        backup_dir_(std::move(backup_dir)),
        cluster_(cluster),
        logger_(logger) {}

  grpc::ServerUnaryReactor* Backup(grpc::CallbackServerContext* context,
                                   const v1::BackupRequest* request,
                                   v1::BackupResponse* response) override;

 private:
  storage::RocksDbEventLog* const log_;
  WorkQueue* const pool_;
  const std::string backup_dir_;
  storage::ClusterNode* const cluster_;
  Logger* const logger_;
};

}  // namespace ycr::services
