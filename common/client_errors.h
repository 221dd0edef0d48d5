#pragma once

// What a client may read in an error: the rule that refused it, never the
// server's infrastructure. A cluster node's errors from etcd name its
// endpoints (hosts, ports, gRPC targets) and its keys; those belong in the
// server's log line, not in a status a caller sees. The leader's advertised
// address in a NOT_LEADER refusal is part of the API (common/not_leader.h)
// and stays.

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/log.h"

namespace ycr {

// Whether `message` names infrastructure: etcd, a gRPC target ("ipv4:",
// "ipv6:", "dns:", "unix:") or a host:port (a name or address followed by
// ':' and 2-5 digits).
bool NamesInfrastructure(absl::string_view message);

// `status` as a client may see it. OK, or a message that names no
// infrastructure: unchanged. A NOT_LEADER refusal: NotLeaderRefusal() of
// the leader it names (its reason, logged where it arose, dropped). Otherwise:
// the same code and payloads with `fixed` as the message, and the original
// message logged (warning, `event`, error=...). `log` may be null (nothing
// logged).
absl::Status ForClients(const absl::Status& status, absl::string_view fixed,
                        Logger* log, absl::string_view event);

}  // namespace ycr
