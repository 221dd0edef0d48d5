#pragma once

// Who may call what: the one policy table. Every RPC of ycr.v1 has a row
// naming the roles that may call it; a call by any other role is
// PERMISSION_DENIED before its handler runs, and an RPC without a row is
// refused to everyone. The row is the coarse gate; which records a caller
// may touch within its role (its own pupils, referrals addressed to it, the
// agreements it is party to) is decided by the domain rules and queries,
// always from the caller's organisation.
//
// The method reaches ResolveCaller through the server's CallerInterceptor
// (caller_identity.h), which writes the called method's name (from gRPC, not
// from the client) into the call's metadata under kMethodMetadata.

#include <grpcpp/grpcpp.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "ycr/v1/event.pb.h"

namespace ycr::services {

// The roles a caller can have.
inline constexpr char kSchoolRole[] = "school";
inline constexpr char kServiceRole[] = "service";
inline constexpr char kLocalAuthorityRole[] = "local_authority";
inline constexpr char kAuditorRole[] = "auditor";
inline constexpr char kSchedulerRole[] = "scheduler";
inline constexpr char kAdminRole[] = "admin";

// Every role, in the policy table's column order.
const std::vector<std::string>& AllRoles();

// Metadata key the interceptor sets to the called method ("/pkg.Svc/Method").
// Whatever a client sends under it is replaced.
inline constexpr char kMethodMetadata[] = "x-ycr-called-method";

struct PolicyRow {
  // "/ycr.v1.Consents/Grant".
  std::string method;
  std::vector<std::string> roles;
};

// The whole table, one row per RPC.
const std::vector<PolicyRow>& PolicyTable();

// OK when `caller`'s role may call `method`; PERMISSION_DENIED ("role R may
// not call M; it is for ...") otherwise, and for a method without a row.
absl::Status Authorise(const v1::Actor& caller, absl::string_view method);

}  // namespace ycr::services
