#pragma once

// The RocksDB implementation of EventLog.
//
// Writes go through one writer thread (group commit): AppendAsync queues; the
// writer takes everything queued, checks idempotency and versions against an
// in-memory stream-version cache, assigns positions, chains hashes, writes
// ONE WriteBatch with a synced WAL, then completes every caller.
//
// A failed write (disk full, I/O error) stops writes: every append of the
// failed batch, and every append after it, gets RESOURCE_EXHAUSTED (no
// space) or UNAVAILABLE (other errors), while reads go on. Before writing
// again the writer resumes RocksDB (DB::Resume) and re-reads the head, the
// chain tail and stream versions from the store, so that positions follow
// what is really stored. It tries on every batch of appends and, with none
// arriving, every `resume_interval`; see RocksDbEventLogOptions.

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "storage/access_log_store.h"
#include "storage/event_log.h"
#include "storage/projection_store.h"
#include "storage/replicated_commit.h"
#include "ycr/v1/replication.pb.h"

namespace rocksdb {
class FileSystem;
}  // namespace rocksdb

namespace ycr::storage {

struct RocksDbEventLogOptions {
  // Directory of the store; created if missing.
  std::string path;
  LogLimits limits;
  // Source of recorded_at. Not owned; must outlive the log.
  // Default: SystemClock().
  Clock* clock = nullptr;
  // Sync the WAL on every group commit. Only tests and benchmarks turn it
  // off. Default: true.
  bool sync = true;
  // Stream versions kept in memory (misses read the stream index).
  // Default: 100000.
  size_t stream_cache_entries = 100000;
  // Records at the end of the log whose hash chain is checked on open.
  // Default: 1000.
  uint64_t verify_tail_records = 1000;
  // RocksDB block cache. Default: 64 MiB.
  size_t block_cache_bytes = 64 << 20;
  // Where the writer records appends, their latency, group-commit sizes and
  // synced-write time (ycr_log_*). Not owned; must outlive the log.
  // Default: none.
  MetricRegistry* metrics = nullptr;
  // Where RocksDB's own messages (warnings and errors; it keeps no LOG file
  // in the data directory, so a full disk cannot fail through it) and the
  // writer's stop/resume lines go. Not owned; must outlive the log.
  // Default: warnings and errors as text on standard error.
  Logger* logger = nullptr;
  // While writes are stopped and no append arrives, how often the writer
  // tries to resume. Appends also try, each batch, so a client retrying
  // after space returns succeeds at once; the timer brings health back
  // (and projections' commits) when no client is writing. Default: 5 s.
  absl::Duration resume_interval = absl::Seconds(5);
  // Free bytes the store's filesystem must have before the writer resumes
  // (RocksDB first flushes its memtables to new files). Default: 64 MiB.
  uint64_t resume_min_free_bytes = 64 << 20;
  // Called on the writer thread when writes stop (with the error) and when
  // they resume (OK), e.g. to set the health service. Must not call into
  // the log's writes. Default: none.
  std::function<void(const absl::Status&)> on_write_state;
  // Replicated mode (issue 17; storage/replicated_commit.h): the writer
  // decides appends and hands them to `replication` instead of writing
  // them; records reach the store only through ApplyReplicated. Not owned;
  // must outlive the log. Default: none (a single node).
  ReplicatedCommit* replication = nullptr;
  // Replicated mode: the cluster key-encryption key (kClusterKekBytes) that
  // wraps subject keys in replicated entries.
  std::string cluster_kek;
  // Tests only: the filesystem RocksDB writes through (to inject faults).
  // Default: the operating system's.
  std::shared_ptr<rocksdb::FileSystem> file_system;
};

class RocksDbEventLog : public EventLog {
 public:
  // Opens or creates the store at options.path, recovers the head and checks
  // the tail of the hash chain and of the Merkle tree. FAILED_PRECONDITION for
  // a store of an unknown format version; DATA_LOSS when the chain does not
  // verify.
  static absl::StatusOr<std::unique_ptr<RocksDbEventLog>> Open(
      RocksDbEventLogOptions options);

  ~RocksDbEventLog() override;

  void AppendAsync(AppendRequest request, AppendCallback done) override;
  absl::StatusOr<StreamSlice> ReadStream(
      absl::string_view stream, const ReadStreamOptions& options) override;
  absl::StatusOr<LogSlice> ReadAll(uint64_t from_position, uint32_t limit,
                                   const LogFilter& filter) override;
  // Reads raw records in chunks of a few MiB with one iterator each and
  // decodes them into one reused event, outside the store's lock.
  absl::Status ForEach(
      uint64_t from_position, uint64_t limit,
      absl::FunctionRef<absl::Status(const v1::RecordedEvent&)> visit,
      uint64_t* next_position) override;
  // As ForEach, but `visit` gets each event as stored, with its position:
  // the record as storage::DecodeRecord parses it, valid during the call
  // only. For readers that decode into memory of their own (an arena).
  absl::Status ForEachStored(uint64_t from_position, uint64_t limit,
                             absl::FunctionRef<absl::Status(
                                 uint64_t position, absl::string_view stored)>
                                 visit,
                             uint64_t* next_position);
  absl::StatusOr<std::optional<uint64_t>> LookupEventId(
      absl::string_view event_id) override;
  absl::StatusOr<std::optional<std::string>> GetRecord(
      absl::string_view key) override;
  absl::Status RevealPersonal(v1::RecordedEvent* event) override;
  Head GetHead() override;

  // The projection store in the same RocksDB instance (column families
  // "projections" and "checkpoints"). It must not outlive this log; after
  // Close() its calls return UNAVAILABLE.
  std::unique_ptr<ProjectionStore> NewProjectionStore();
  // The access log in the same RocksDB instance (column families
  // "access_by_subject" and "access_by_reader"), so that backups hold it.
  // The same lifetime rule as NewProjectionStore(). FAILED_PRECONDITION when
  // the store's access log has an unknown format version.
  absl::StatusOr<std::unique_ptr<AccessLogStore>> NewAccessLogStore();
  uint64_t WatchHead(uint64_t position, WatchCallback ready) override;
  bool CancelWatch(uint64_t id) override;
  // Also checks the stored Merkle tree hashes of those records against
  // them (recomputed from the tree as stored before `from`): DATA_LOSS
  // names the first position and stored hash index that differ.
  absl::Status VerifyChain(uint64_t from, uint64_t to) override;
  // Point reads (one MultiGet); at most 65,536 indexes per call
  // (INVALID_ARGUMENT naming `indexes` beyond).
  absl::StatusOr<std::vector<tlog::Hash>> ReadTreeHashes(
      absl::Span<const int64_t> indexes) override;
  absl::StatusOr<std::string> ReadLeaf(uint64_t position) override;

  // OK while appends are accepted; while writes are stopped by a failed
  // write, the error appends get (RESOURCE_EXHAUSTED or UNAVAILABLE).
  absl::Status WriteState();

  // Writes a consistent copy of the whole store (log, indexes, records,
  // projections and their checkpoints) into `dir`, which must not exist,
  // while appends and reads go on. Files are hard-linked where the
  // filesystem allows, so `dir` should be on the same filesystem as the
  // store and then moved off the machine. Returns the head just before the
  // copy began: the copy holds at least that much of the log.
  // ALREADY_EXISTS when `dir` exists; UNAVAILABLE after Close().
  absl::StatusOr<uint64_t> Checkpoint(const std::string& dir);

  // Compacts every column family of the store to its last level, while
  // appends and reads go on (maintenance, and the benchmarks' "while
  // compaction runs"). Close() waits for it. Setting `*canceled` (if not
  // null) stops it soon after, and it returns OK. UNAVAILABLE after Close().
  absl::Status CompactStore(std::atomic<bool>* canceled = nullptr);
  // How many compactions RocksDB is running right now (0 after Close()).
  uint64_t RunningCompactions();

  void Close() override;

  // Replicated mode only (FAILED_PRECONDITION otherwise): applies one entry
  // of the replicated log, verified by the caller, and stores `checkpoint`
  // with it, in ONE synced write: its records with their tree hashes,
  // stream index and event ids, its record writes and erasures, and its
  // subject keys (unwrapped with cluster_kek). Head watches and
  // subscriptions then see the records as if written here. An entry whose
  // records this node already holds is a no-op (DATA_LOSS if they differ);
  // one that does not start at head + 1 or chain to the head is DATA_LOSS
  // (the node must stop rather than diverge); FAILED_PRECONDITION when a
  // subject key does not unwrap under cluster_kek. Nothing is written on
  // error. One at a time (calls are serialised). Thread-safe.
  absl::Status ApplyReplicated(const v1::ReplicatedEntry& entry,
                               absl::string_view checkpoint);
  // The checkpoint stored by the last ApplyReplicated; nullopt when none.
  absl::StatusOr<std::optional<std::string>> ReplicationCheckpoint();

  class Impl;

 private:
  explicit RocksDbEventLog(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ycr::storage
