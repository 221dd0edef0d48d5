#pragma once

// The one mapping from absl::Status to a gRPC status. Codes map one to one
// (absl's codes are gRPC's); messages pass through, since every error is
// written for the caller to act on. A version conflict also sets trailing
// metadata `ycr-conflict-stream` and `ycr-conflict-version` so that clients
// need not parse the message. Every error carries a google.rpc.Status in its
// details (common/error_details.h): ErrorInfo with a stable reason, and
// BadRequest / PreconditionFailure where they apply.

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "common/wire_names.h"

namespace ycr::services {

// The names are the clients' too (common/wire_names.h).
using ::ycr::kConflictStreamMetadata;
using ::ycr::kConflictVersionMetadata;
using ::ycr::StatusCodeName;

// `context` may be null (no trailing metadata then). Call before Finish.
grpc::Status ToGrpcStatus(const absl::Status& status,
                          grpc::CallbackServerContext* context = nullptr);

}  // namespace ycr::services
