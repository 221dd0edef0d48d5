#pragma once
// The names the server and its clients share on the wire, beside the .proto
// files: the metadata keys a caller names itself in (on a plain-text
// loopback server; see services/security/caller_identity.h), the trailing
// metadata of a version conflict, and the names of status codes as the
// server's logs and the clients' messages print them.

#include <string>

namespace ycr {

// Request metadata: who the caller says it is. Read by the server only when
// it was started with --insecure (development and tests).
inline constexpr char kOrganisationMetadata[] = "x-ycr-organisation";
inline constexpr char kUserMetadata[] = "x-ycr-user";
inline constexpr char kRoleMetadata[] = "x-ycr-role";

// Trailing metadata of an ABORTED version conflict: the stream and its
// current version, so that clients need not parse the message.
inline constexpr char kConflictStreamMetadata[] = "ycr-conflict-stream";
inline constexpr char kConflictVersionMetadata[] = "ycr-conflict-version";

// "OK", "CANCELLED", ... "UNAUTHENTICATED" for a gRPC (= absl) status code;
// "UNKNOWN" for other values.
std::string StatusCodeName(int code);

}  // namespace ycr
