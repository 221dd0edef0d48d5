#pragma once

// ycr.v1.AccessLog: auditors' queries of the access log (who read which
// subject's personal data). The policy table lets only role "auditor" call
// it. Reads run on a WorkQueue; entries are those the recorder has flushed.

#include "services/work_queue.h"
#include "storage/access_log_store.h"
#include "ycr/v1/access_log_service.grpc.pb.h"

namespace ycr::services {

class AccessLogService final : public v1::AccessLog::CallbackService {
 public:
  // Both must outlive the service.
  AccessLogService(storage::AccessLogStore* store, WorkQueue* pool)
      : store_(store), pool_(pool) {}

  grpc::ServerUnaryReactor* ListBySubject(
      grpc::CallbackServerContext* context,
      const v1::ListAccessBySubjectRequest* request,
      v1::AccessLogPage* response) override;
  grpc::ServerUnaryReactor* ListByReader(
      grpc::CallbackServerContext* context,
      const v1::ListAccessByReaderRequest* request,
      v1::AccessLogPage* response) override;

 private:
  storage::AccessLogStore* const store_;
  WorkQueue* const pool_;
};

// "<at_micros>.<sequence>"; exposed for tests.
std::string EncodeAccessPageToken(const storage::AccessCursor& cursor);
// INVALID_ARGUMENT ("page_token: ...") unless `token` came from
// EncodeAccessPageToken; nullopt for "".
absl::StatusOr<std::optional<storage::AccessCursor>> DecodeAccessPageToken(
    absl::string_view token);

}  // namespace ycr::services
