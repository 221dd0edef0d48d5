#include "services/admin_service.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/error_details.h"
#include "services/grpc_status.h"
#include "services/query_services.h"
#include "services/run_query.h"

namespace ycr::services {
namespace {

absl::Status CheckBackupName(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 100 && name[0] != '.';
  for (char c : name) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-');
  }
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(
      "name: 1 to 100 of [A-Za-z0-9._-], not starting with '.'");
}

}  // namespace

grpc::ServerUnaryReactor* AdminService::Backup(
    grpc::CallbackServerContext* context, const v1::BackupRequest* request,
    v1::BackupResponse* response) {
  return RunQuery(
      context, *request, pool_,
      [this, request, response](const v1::Actor& caller) -> absl::Status {
        if (caller.role() != kAdminRole) {
          return absl::PermissionDeniedError("backups are for role admin");
        }
        if (backup_dir_.empty()) {
          return PreconditionError(
              absl::StatusCode::kFailedPrecondition, "SERVER_SETTING",
              "--backup_dir",
              "backups are off: start ycr-server with --backup_dir",
              reason::kInvalidState);
        }
        if (absl::Status s = CheckBackupName(request->name()); !s.ok()) {
          return s;
        }
        std::error_code ec;
        std::filesystem::create_directories(backup_dir_, ec);
        const std::string path =
            (std::filesystem::path(backup_dir_) / request->name()).string();
        if (cluster_ != nullptr) {
          // Before the copy: a node restored from it must find in etcd
          // every entry after what it holds.
          absl::Status held = cluster_->HoldForBackup(request->name(),
                                                      log_->GetHead().position);
          if (!held.ok()) {
            // The cause is etcd's (its endpoints): the server's log's.
            if (logger_ != nullptr) {
              logger_->Log(LogLevel::kWarning, "admin.backup_hold_failed",
                           {{"backup", request->name()},
                            {"error", std::string(held.message())}});
            }
            return absl::UnavailableError(
                "cannot hold the cluster's log for this backup, so it is not "
                "taken (a node restored from it could not catch up; the cause "
                "is in the server's log): retry shortly");
          }
        }
        absl::StatusOr<uint64_t> head = log_->Checkpoint(path);
        if (!head.ok()) return head.status();
        response->set_path(path);
        response->set_head_position(*head);
        return absl::OkStatus();
      });
}

}  // namespace ycr::services
