#pragma once

// etcd holds only the replicated log's tail (issue 17): every node
// publishes the last position it applied under <prefix>/applied/<node id>,
// and the leader deletes the entries every published node has applied, then
// compacts etcd's history up to that delete, so their values (the wrapped
// subject keys an erasure destroyed among them) leave etcd's keyspace and
// history. A node that has published once holds trimming back until its key
// is removed (an operator's step when a node leaves for good); a node that
// never published, or was away past what was trimmed, starts from a peer's
// backup (its follower says so: OUT_OF_RANGE).

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "replication/etcd_client.h"

namespace ycr::replication {

// <prefix>/applied/<node_id>
std::string AppliedKey(absl::string_view prefix, absl::string_view node_id);

// Puts `position` (decimal) under AppliedKey.
absl::Status PublishApplied(EtcdClient& client, absl::string_view prefix,
                            absl::string_view node_id, uint64_t position);

// Deletes the entries whose records every published node has applied (all
// entry keys below the first position none has applied everywhere) and
// compacts etcd's history up to that delete. Returns the lowest applied
// position (0: no node published, nothing done). UNAVAILABLE when etcd
// does not answer; DATA_LOSS for a malformed published position.
absl::StatusOr<uint64_t> TrimAppliedEntries(EtcdClient& client,
                                            absl::string_view prefix);

}  // namespace ycr::replication
