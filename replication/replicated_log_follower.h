#pragma once

// The follower of the replicated log (issue 17): it reads the entries the
// writer put in etcd, in order, from where it stopped (its checkpoint),
// verifies each one continues what it applied (the previous entry's hash,
// gapless positions, every record's hash over its bytes and its prev_hash),
// and hands it to `apply`. A mismatch stops it for good (DATA_LOSS): a node
// must stop rather than diverge.
//
// `apply` must make the entry and the checkpoint it is given durable
// together (one synced write), so a node that restarts follows on from
// exactly what it has: ReplicatedEventLog hands it to
// RocksDbEventLog::ApplyReplicated with the checkpoint encoded.
//
// Not thread-safe, but Stop() may be called from any thread.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "replication/etcd_client.h"
#include "replication/replicated_entry.h"
#include "ycr/v1/replication.pb.h"

namespace ycr::replication {

// What a node has applied: the etcd revision of its last entry (0: none),
// and where that entry left the log.
struct FollowerCheckpoint {
  int64_t revision = 0;
  ChainEnd end;            // Genesis hash before any record.
  std::string entry_hash;  // NoEntryHash() before any entry.
};

// The checkpoint of a node that has applied nothing.
FollowerCheckpoint EmptyCheckpoint();

// Applies one verified entry; `after` is the checkpoint once it is applied.
using ApplyEntry = absl::AnyInvocable<absl::Status(
    const v1::ReplicatedEntry& entry, const FollowerCheckpoint& after)>;

class ReplicatedLogFollower {
 public:
  // `client` must outlive the follower.
  ReplicatedLogFollower(EtcdClient* client, std::string prefix,
                        FollowerCheckpoint from, ApplyEntry apply);
  ~ReplicatedLogFollower();

  // Follows until the log has been applied up to `until_position` (OK), or
  // `deadline` (DEADLINE_EXCEEDED), or Stop() (CANCELLED). A lost watch is
  // reopened from the checkpoint. Errors that stop it for good, returned by
  // every later call: DATA_LOSS (an entry does not continue the log),
  // OUT_OF_RANGE (entries this node never applied were removed from etcd,
  // whose tail is trimmed once every node has them: restore from a peer's
  // backup), and whatever `apply` returned. etcd compacting its history
  // stops nothing: the follower reads the entries, then watches from there.
  absl::Status Follow(uint64_t until_position, absl::Time deadline);
  void Stop() { stopped_ = true; }

  const FollowerCheckpoint& checkpoint() const { return checkpoint_; }

 private:
  // Applies the entries in etcd now, from the checkpoint on; `read_at` is
  // the revision read at. OUT_OF_RANGE when the next entry is gone.
  absl::Status CatchUp(int64_t* read_at);
  // Verifies and applies the value of entry key `key` written at `revision`.
  absl::Status Apply(const std::string& key, const std::string& value,
                     int64_t revision);

  EtcdClient* client_;
  const std::string prefix_;
  FollowerCheckpoint checkpoint_;
  ApplyEntry apply_;
  absl::Status stopped_for_good_;
  std::atomic<bool> stopped_{false};
};

}  // namespace ycr::replication
