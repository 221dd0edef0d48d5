#include "services/grpc_status.h"

#include <string>

#include "absl/types/optional.h"
#include "storage/event_log.h"

namespace ycr::services {

grpc::Status ToGrpcStatus(const absl::Status& status,
                          grpc::CallbackServerContext* context) {
  if (status.ok()) return grpc::Status::OK;
  if (context != nullptr && absl::IsAborted(status)) {
    absl::optional<absl::Cord> stream =
        status.GetPayload(storage::kConflictStreamPayload);
    absl::optional<absl::Cord> version =
        status.GetPayload(storage::kConflictVersionPayload);
    if (stream.has_value() && version.has_value()) {
      context->AddTrailingMetadata(kConflictStreamMetadata,
                                   std::string(*stream));
      context->AddTrailingMetadata(kConflictVersionMetadata,
                                   std::string(*version));
    }
  }
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

}  // namespace ycr::services
