#pragma once

// A node of a replicated cluster that does not lead refuses commands and
// appends with UNAVAILABLE (nothing of them was written) and says, in the
// status's details, where the leader is: an ErrorInfo with reason
// NOT_LEADER and metadata {"leader": "host:port"} (absent while no leader
// is known). A client branches on that, not on the message: the `ycr`
// command line sends the call once more to the leader it names. Commands
// are not forwarded by the follower (README "Running a cluster").

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace ycr {

namespace reason {
// UNAVAILABLE: this node does not lead the cluster; nothing was written.
inline constexpr char kNotLeader[] = "NOT_LEADER";
}  // namespace reason

// ErrorInfo.metadata's key of the leader's advertised address.
inline constexpr char kLeaderMetadataKey[] = "leader";

// UNAVAILABLE `message` with ErrorInfo {reason NOT_LEADER, domain ycr.v1,
// metadata {"leader": leader}} (no metadata when `leader` is empty).
absl::Status NotLeaderError(absl::string_view message,
                            absl::string_view leader);

// NotLeaderError with the message every refusal gives a client: send
// commands to `leader` (or: none known yet), retry an unacknowledged append
// with the same event ids.
absl::Status NotLeaderRefusal(absl::string_view leader);

// Whether `status` is a NOT_LEADER refusal; *leader is then the address it
// names ("" when none is known).
bool IsNotLeader(const absl::Status& status, std::string* leader);

// From a serialized google.rpc.Status (grpc-status-details-bin): true when
// it is a NOT_LEADER refusal; *leader is then the address it names ("" when
// none is known).
bool ParseNotLeader(const std::string& rpc_status, std::string* leader);

}  // namespace ycr
