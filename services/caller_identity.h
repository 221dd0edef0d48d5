#pragma once

// Who is calling. Resolved once per call by ResolveCaller; every rule and
// every event's actor reads it from there, never from a request body. Today
// the identity comes from request metadata; mutual TLS will replace this one
// function without touching the rules.

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "ycr/v1/event.pb.h"

namespace ycr::services {

inline constexpr char kOrganisationMetadata[] = "x-ycr-organisation";
inline constexpr char kUserMetadata[] = "x-ycr-user";
inline constexpr char kRoleMetadata[] = "x-ycr-role";

// UNAUTHENTICATED when any of the three is missing or malformed (empty, more
// than 128 bytes, or not printable ASCII); PERMISSION_DENIED when the policy
// table (access_policy.h) does not let the caller's role call this method.
absl::StatusOr<v1::Actor> ResolveCaller(const grpc::ServerContextBase& context);

}  // namespace ycr::services
