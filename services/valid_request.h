#pragma once

// Every RPC's first step: who calls (UNAUTHENTICATED before anything else),
// then whether the request keeps to the contract
// (domain/message_validation.h: unknown fields, enum values,
// times, text). A handler that calls ResolveValidCaller instead of
// ResolveCaller refuses an invalid request with INVALID_ARGUMENT naming
// every offending field before it reads or writes anything.
// tests/integration/validation_coverage_test.cc calls every RPC of ycr.v1
// to check that each one does.

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "domain/message_validation.h"
#include "google/protobuf/message.h"
#include "services/security/caller_identity.h"

namespace ycr::services {

// The caller, or UNAUTHENTICATED; then INVALID_ARGUMENT when `request`
// does not keep to the contract.
inline absl::StatusOr<v1::Actor> ResolveValidCaller(
    const grpc::ServerContextBase& context,
    const google::protobuf::Message& request) {
  absl::StatusOr<v1::Actor> caller = ResolveCaller(context);
  if (!caller.ok()) return caller;
  if (absl::Status valid = domain::ValidateMessage(request); !valid.ok()) {
    return valid;
  }
  return caller;
}

}  // namespace ycr::services
