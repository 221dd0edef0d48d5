#pragma once

// The fenced writer of the replicated log (issue 17): a batch of appends
// becomes one replicated entry (ycr.v1.ReplicatedEntry) written in ONE etcd
// transaction that
//   - compares the head key's mod_revision to the revision this writer last
//     wrote (or read when it opened): another writer's entry in between
//     fails it;
//   - compares the fence key's create_revision (the writer's leadership key,
//     which lives on its lease): a writer whose lease expired, or who
//     resigned, fails it;
//   - puts the entry under <prefix>/entry/<first position, 20 digits> and the
//     new head (ycr.v1.ReplicatedHead) under <prefix>/head.
// Either both puts commit on a majority of etcd members or neither does.
//
// Sizes: an entry's value stays within max_entry_bytes (under etcd's
// default 1.5 MiB request limit, with room for the keys, the head and the
// compares). A batch larger than that is split into several entries, each in
// its own transaction, fenced on the one before; an append is never split:
// one larger than max_entry_bytes is refused (INVALID_ARGUMENT) before
// anything is written. Each transaction holds 2 puts and at most 3 compares,
// far under etcd's 128 operations.
//
// Errors of Write:
//   INVALID_ARGUMENT    the batch does not continue the log (positions,
//                       chain) or an append is too large: nothing written.
//   FAILED_PRECONDITION deposed: another writer moved the head or the fence
//                       is gone. Nothing of that entry was written, and this
//                       writer never writes again (open a new one).
//   UNAVAILABLE         etcd did not answer (no majority, no member): that
//                       entry's outcome is UNKNOWN until Recover().
// Not thread-safe: one caller at a time (the leader's group commit).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "replication/commit_metrics.h"
#include "replication/etcd_client.h"
#include "replication/replicated_entry.h"
#include "ycr/v1/replication.pb.h"

namespace ycr::replication {

// etcd's default --max-request-bytes is 1.5 MiB; 16 KiB of it is left for the
// keys, the head, the compares and the request's framing.
inline constexpr size_t kDefaultMaxEntryBytes = 1536 * 1024 - 16 * 1024;
inline constexpr size_t kMaxPrefixBytes = 256;

struct ReplicatedLogOptions {
  // The log's keys are <prefix>/head and <prefix>/entry/...; 1..256 bytes.
  std::string prefix = "/ycr/log";
  // The largest entry value written (tests lower it to split small batches).
  size_t max_entry_bytes = kDefaultMaxEntryBytes;
  // Told of each fenced transaction (commit_metrics.h). Not owned; may be
  // null.
  CommitMetrics* metrics = nullptr;
};

// The key a writer may write only while it exists as created at
// `create_revision`: its election leader key (EtcdClient::Campaign's key
// and rev), which etcd deletes when the lease expires or the leader resigns.
struct Fence {
  std::string key;
  int64_t create_revision = 0;
};

// The outcome of one Write: the first `appends_written` appends are durable
// in etcd (committed on a majority); `status` says why the rest are not.
struct WriteResult {
  size_t appends_written = 0;
  absl::Status status;
};

class ReplicatedLogWriter {
 public:
  // Reads the head (none yet: an empty log) and continues from it.
  // `client` must outlive the writer. No fence: only the head's revision
  // guards the log (tests, and a single writer).
  static absl::StatusOr<std::unique_ptr<ReplicatedLogWriter>> Open(
      EtcdClient* client, ReplicatedLogOptions options,
      std::optional<Fence> fence);

  // Writes `appends` in order, as few entries as the size limit allows. The
  // first append's first record must be at head().last_position() + 1 and
  // chain to head().last_record_hash(); every record to the one before.
  WriteResult Write(const std::vector<v1::ReplicatedAppend>& appends);

  // After UNAVAILABLE: reads the head to settle the entry in doubt. Returns
  // how many appends of it are durable (all of them if it landed, 0 if
  // not); the writer then goes on from the head. FAILED_PRECONDITION if
  // another writer moved the head meanwhile (deposed); UNAVAILABLE again if
  // etcd still does not answer.
  absl::StatusOr<size_t> Recover();

  // The log's head as this writer last wrote or read it.
  const v1::ReplicatedHead& head() const { return head_; }
  // The etcd revision of that head (0: no head yet).
  int64_t head_revision() const { return head_revision_; }
  bool deposed() const { return deposed_; }

 private:
  ReplicatedLogWriter(EtcdClient* client, ReplicatedLogOptions options,
                      std::optional<Fence> fence)
      : client_(client),
        options_(std::move(options)),
        fence_(std::move(fence)) {}

  // Checks that `appends` continue the head and fit; groups them into entries
  // (indexes of the first append of each).
  absl::StatusOr<std::vector<size_t>> Plan(
      const std::vector<v1::ReplicatedAppend>& appends) const;
  // Writes appends [begin, end) as one entry.
  absl::Status WriteEntry(const std::vector<v1::ReplicatedAppend>& appends,
                          size_t begin, size_t end);

  EtcdClient* client_;
  ReplicatedLogOptions options_;
  std::optional<Fence> fence_;
  v1::ReplicatedHead head_;
  int64_t head_revision_ = 0;
  bool deposed_ = false;
  // The entry whose transaction got no answer, until Recover() settles it.
  struct InDoubt {
    v1::ReplicatedHead head;  // The head it would have made.
    size_t appends = 0;
  };
  std::optional<InDoubt> in_doubt_;
};

}  // namespace ycr::replication
