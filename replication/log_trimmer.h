#pragma once

// etcd holds only the replicated log's tail (issue 17): every node
// publishes the last position it applied under <prefix>/applied/<node id>,
// and the leader deletes the entries every published node has applied, then
// compacts etcd's history up to that delete, so their values (the wrapped
// subject keys an erasure destroyed among them) leave etcd's keyspace and
// history. A node that has published once holds trimming back until its key
// is removed (`ycr-server forget-node`, ForgetApplied, when a node leaves
// for good); a backup holds it back for a while (HoldForBackup); a node that
// never published, or was away past what was trimmed, starts from a peer's
// backup (its follower says so: OUT_OF_RANGE).

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "replication/etcd_client.h"

namespace ycr::replication {

// <prefix>/applied/<node_id>
std::string AppliedKey(absl::string_view prefix, absl::string_view node_id);

// Puts `position` (decimal) under AppliedKey.
absl::Status PublishApplied(EtcdClient& client, absl::string_view prefix,
                            absl::string_view node_id, uint64_t position);

// Every published position under <prefix>/applied/, by name (node ids and
// backup holds), in key order. DATA_LOSS for a value that is not a
// position.
absl::StatusOr<std::vector<std::pair<std::string, uint64_t>>> ListApplied(
    EtcdClient& client, absl::string_view prefix);

// The name under <prefix>/applied/ of a backup's hold: "backup:<name>" (no
// node id has a ':').
std::string BackupHoldName(absl::string_view backup_name);

// Holds trimming back at `position` for a backup named `backup_name` whose
// copy of the store holds at least `position`: puts `position` under
// AppliedKey(BackupHoldName(backup_name)) on a lease of `ttl` (whole
// seconds), so a node restored from that backup within `ttl` finds in etcd
// every entry after its checkpoint. The key goes when the lease expires or
// is forgotten (ForgetApplied). Put it before the copy is taken: a trim that
// read the published positions before the hold deletes nothing the copy
// lacks (every node's published position is at most its head, and the copy
// holds at least the head after the hold).
absl::Status HoldForBackup(EtcdClient& client, absl::string_view prefix,
                           absl::string_view backup_name, uint64_t position,
                           absl::Duration ttl);

// Deletes AppliedKey(name): a node removed for good (or a backup's hold)
// no longer holds trimming back. NOT_FOUND when there is no such key. A node
// still running publishes again as it applies more.
absl::Status ForgetApplied(EtcdClient& client, absl::string_view prefix,
                           absl::string_view name);

// Deletes the entries whose records every published node has applied (all
// entry keys below the first position none has applied everywhere) and
// compacts etcd's history up to that delete. Returns the lowest applied
// position (0: no node published, nothing done). UNAVAILABLE when etcd
// does not answer; DATA_LOSS for a malformed published position.
absl::StatusOr<uint64_t> TrimAppliedEntries(EtcdClient& client,
                                            absl::string_view prefix);

}  // namespace ycr::replication
