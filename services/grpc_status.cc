#include "services/grpc_status.h"

#include <string>
#include <utility>

#include "absl/types/optional.h"
#include "common/error_details.h"
#include "storage/event_log.h"

namespace ycr::services {

grpc::Status ToGrpcStatus(const absl::Status& in,
                          grpc::CallbackServerContext* context) {
  if (in.ok()) return grpc::Status::OK;
  absl::Status status = in;
  if (absl::IsAborted(status) &&
      status.GetPayload(storage::kConflictStreamPayload).has_value() &&
      DetailsOf(status).reason == "ABORTED") {
    status = WithReason(std::move(status), reason::kVersionConflict);
  }
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
                      std::string(status.message()),
                      SerializedRpcStatus(status));
}

}  // namespace ycr::services
