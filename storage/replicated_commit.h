#pragma once

// The seam between the RocksDB log's writer and the replicated log (issue
// 17), so that storage names nothing of etcd.
//
// In replicated mode (RocksDbEventLogOptions::replication) the log's writer
// still decides every append (idempotency, version checks, sealing,
// positions, the hash chain) but writes nothing itself: it hands each
// group commit's decided appends to ReplicatedCommit::Commit as
// v1::ReplicatedAppend, and records reach the store only through
// RocksDbEventLog::ApplyReplicated, on every node, the leader included.

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "ycr/v1/replication.pb.h"

namespace ycr::storage {

// The cluster key-encryption key's size: AES-256.
inline constexpr size_t kClusterKekBytes = 32;

// The outcome of one Commit: the first `appends_written` appends are durable
// in the replicated log and applied to this node's log; the others get
// `status` (UNAVAILABLE: not written, or their outcome is unknown).
struct ReplicatedCommitResult {
  size_t appends_written = 0;
  absl::Status status;
};

class ReplicatedCommit {
 public:
  virtual ~ReplicatedCommit() = default;

  // On the writer thread, before it decides a batch: OK when this node may
  // decide (it leads, and its log has applied all the replicated log held
  // when it took the lead). Otherwise the error every append of the batch
  // gets (UNAVAILABLE naming the leader). May block, boundedly.
  virtual absl::Status Prepare() = 0;

  // On the writer thread: writes `appends` (decided in this order, the
  // first continuing this node's log) to the replicated log and returns
  // once those written are applied to this node's log (ApplyReplicated).
  virtual ReplicatedCommitResult Commit(
      const std::vector<v1::ReplicatedAppend>& appends) = 0;
};

// Which cluster key wraps a key write: the first 8 bytes of
// SHA-256("ycr cluster kek id" || kek).
std::string ClusterKekId(absl::string_view kek);

}  // namespace ycr::storage
