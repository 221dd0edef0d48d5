#pragma once

// RocksDbEventLog::Impl, shared by the files that implement it; internal to
// storage. The implementation is split along its seams:
//   rocksdb_event_log.cc         opening, verifying, checkpointing, closing,
//                                probing the filesystem (ProbeWritable);
//                                RocksDbEventLog's forwarding to Impl
//   rocksdb_event_log_writer.cc  the writer thread and group commit: the
//                                queue, deciding appends, the stream versions
//                                they are checked against, stopped writes
//   rocksdb_event_log_reads.cc   reads (streams, the log, ids, records) and
//                                the head watches subscriptions wait on
//   rocksdb_event_log_tree.cc    the Merkle tree's reads (stored hashes,
//                                leaves), loading its frontier, checking it

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "storage/event_log.h"
#include "storage/key_format.h"
#include "storage/log_tree.h"
#include "storage/rocksdb_event_log.h"
#include "storage/rocksdb_internal.h"
#include "storage/stream_version_cache.h"
#include "storage/subject_keys.h"
#include "ycr/v1/replication.pb.h"

namespace ycr::storage {
namespace internal {

// An iterator over one stream's entries in the stream index, bounded so
// that it never strays into another stream's keys.
class StreamIndexIterator {
 public:
  StreamIndexIterator(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
                      absl::string_view stream)
      : lower_(StreamKey(stream, 0)),
        upper_(StreamKeyEnd(stream)),
        lower_slice_(lower_),
        upper_slice_(upper_) {
    rocksdb::ReadOptions options;
    options.iterate_lower_bound = &lower_slice_;
    options.iterate_upper_bound = &upper_slice_;
    it_.reset(db->NewIterator(options, cf));
  }
  rocksdb::Iterator* get() { return it_.get(); }

 private:
  const std::string lower_;
  const std::string upper_;
  const rocksdb::Slice lower_slice_;
  const rocksdb::Slice upper_slice_;
  std::unique_ptr<rocksdb::Iterator> it_;
};

struct Pending {
  AppendRequest request;
  AppendCallback done;
  // Serialised size of the events, for the queue's byte limits.
  size_t bytes;
  std::chrono::steady_clock::time_point queued_at;
};

// The writer's metrics; every pointer is null when none are kept.
struct WriterMetrics {
  explicit WriterMetrics(MetricRegistry* registry) {
    if (registry == nullptr) return;
    constexpr char kAppendsHelp[] =
        "Append requests the writer answered, by outcome (error: refused by "
        "a version check or idempotency, or the write failed).";
    appends_ok = registry->GetCounter("ycr_log_appends_total", kAppendsHelp,
                                      {{"outcome", "ok"}});
    appends_error = registry->GetCounter("ycr_log_appends_total", kAppendsHelp,
                                         {{"outcome", "error"}});
    events = registry->GetCounter("ycr_log_events_appended_total",
                                  "Events written to the log.");
    latency = registry->GetHistogram(
        "ycr_log_append_seconds",
        "Time from an append being queued to its answer (queueing, group "
        "commit and the synced write).",
        ExponentialBuckets(0.0001, 2, 16));
    batch_appends = registry->GetHistogram("ycr_log_commit_batch_appends",
                                           "Append requests per group commit.",
                                           ExponentialBuckets(1, 2, 11));
    sync_write = registry->GetHistogram(
        "ycr_log_sync_write_seconds",
        "Duration of one group commit's write: the WriteBatch and the WAL "
        "fsync (when --sync is on).",
        ExponentialBuckets(0.00005, 2, 16));
  }
  Counter* appends_ok = nullptr;
  Counter* appends_error = nullptr;
  Counter* events = nullptr;
  Histogram* latency = nullptr;
  Histogram* batch_appends = nullptr;
  Histogram* sync_write = nullptr;
};

// What one group commit has decided so far, before it is durable.
struct BatchState {
  uint64_t next_position = 1;
  std::string last_hash;
  absl::flat_hash_map<std::string, uint64_t> versions;
  absl::flat_hash_map<std::string, EventIdEntry> event_ids;
  // Plain records written (a value) or removed (nullopt) by this commit.
  absl::flat_hash_map<std::string, std::optional<std::string>> records;
  // Subject keys created or destroyed by this commit.
  internal::SubjectKeys::Pending keys;
  // Subjects erased and records removed: scrubbed once durable.
  std::vector<std::string> erased;
  std::vector<std::string> removed_records;
  // The log's tree with this commit's records appended (a copy of the
  // writer's, kept only once the commit is durable), and scratch space.
  LogTree tree;
  std::vector<tlog::Hash> stored;
};

// Recomputes the log's tree record by record from a tree loaded from the
// store and compares every hash the store holds for those records, in
// index order, with one iterator over the tree's column family.
class TreeChecker {
 public:
  TreeChecker(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* tree_cf,
              LogTree tree);
  // Appends the record at `position` (the next one) with its leaf bytes.
  // DATA_LOSS naming the position and the stored hash's index when a hash
  // is missing or differs.
  absl::Status Check(uint64_t position, absl::string_view leaf);
  const LogTree& tree() const { return tree_; }

 private:
  LogTree tree_;
  std::vector<tlog::Hash> stored_;
  std::unique_ptr<rocksdb::Iterator> it_;
};

}  // namespace internal

class RocksDbEventLog::Impl {
 public:
  explicit Impl(RocksDbEventLogOptions options);

  ~Impl() { Close(); }

  absl::Status Open();
  // The store's handles for the projection store (valid after Open()).
  internal::OpenDb Handles() {
    return {db_.get(),   handles_[4], handles_[5], &db_mu_,
            &db_closed_, handles_[0], handles_[7], handles_[8]};
  }
  void AppendAsync(AppendRequest request, AppendCallback done);
  absl::StatusOr<StreamSlice> ReadStream(absl::string_view stream,
                                         const ReadStreamOptions& options);
  absl::StatusOr<LogSlice> ReadAll(uint64_t from, uint32_t limit,
                                   const LogFilter& filter);
  absl::StatusOr<std::optional<std::string>> GetRecord(absl::string_view key);
  absl::Status RevealPersonal(v1::RecordedEvent* event);
  absl::StatusOr<std::optional<uint64_t>> LookupEventId(
      absl::string_view event_id);
  absl::Status ForEach(
      uint64_t from, uint64_t limit,
      absl::FunctionRef<absl::Status(const v1::RecordedEvent&)> visit,
      uint64_t* next_position);
  absl::Status ForEachStored(
      uint64_t from, uint64_t limit,
      absl::FunctionRef<absl::Status(uint64_t, absl::string_view)> visit,
      uint64_t* next_position);
  Head GetHead();
  uint64_t WatchHead(uint64_t position, WatchCallback ready);
  bool CancelWatch(uint64_t id);
  absl::Status VerifyChain(uint64_t from, uint64_t to);
  absl::StatusOr<std::vector<tlog::Hash>> ReadTreeHashes(
      absl::Span<const int64_t> indexes);
  absl::StatusOr<std::string> ReadLeaf(uint64_t position);
  absl::Status WriteState();
  absl::StatusOr<uint64_t> Checkpoint(const std::string& dir);
  absl::Status CompactStore(std::atomic<bool>* canceled);
  uint64_t RunningCompactions();
  void Close();
  // Replicated mode (rocksdb_event_log_apply.cc).
  absl::Status ApplyReplicated(const v1::ReplicatedEntry& entry,
                               absl::string_view checkpoint);
  absl::StatusOr<std::optional<std::string>> ReplicationCheckpoint();

 private:
  // The writer's and the readers' own types (rocksdb_event_log_impl.h).
  using BatchState = internal::BatchState;
  using Pending = internal::Pending;
  using StreamIndexIterator = internal::StreamIndexIterator;
  using WriterMetrics = internal::WriterMetrics;

  absl::Status OpenDb();
  absl::Status CheckFormatVersion();
  absl::Status RecoverHead();
  // The last record of the log as stored: its position and hash.
  absl::StatusOr<Head> ReadStoredHead();
  // Also checks the stored tree hashes of from..to against the records,
  // from the tree of from - 1 records as stored; sets *tree_at_to (when
  // not null) to the tree of `to` records.
  absl::Status VerifyChainLocked(uint64_t from, uint64_t to,
                                 LogTree* tree_at_to = nullptr)
      ABSL_SHARED_LOCKS_REQUIRED(db_mu_);
  // Stored tree hashes, without the head's bound (DATA_LOSS for a missing
  // one), and the tree of `size` records, its frontier read from the store.
  absl::StatusOr<std::vector<tlog::Hash>> ReadTreeHashesLocked(
      absl::Span<const int64_t> indexes) ABSL_SHARED_LOCKS_REQUIRED(db_mu_);
  absl::StatusOr<LogTree> LoadTreeLocked(uint64_t size)
      ABSL_SHARED_LOCKS_REQUIRED(db_mu_);
  uint32_t ClampLimit(uint32_t limit) const;

  void WriterLoop();
  // Writes stop after a failed write (`error`, from RocksDB).
  void StopWrites(const rocksdb::Status& error);
  // While writes are stopped: resumes RocksDB and re-reads the head, chain
  // tail and versions from the store. OK when writes may go on.
  absl::Status TryResume();
  // Whether the store's filesystem can take writes again: enough free space
  // and a small file written and synced. Resuming RocksDB on a disk that
  // still fails makes its error fatal (only a restart clears it), so the
  // writer probes first.
  rocksdb::Status ProbeWritable();
  // Publishes the writer's state (WriteState, on_write_state). False when
  // it was already that.
  bool SetWriteState(const absl::Status& state);
  void CommitBatch(std::vector<Pending>& batch);
  // Answers every append of `batch` with its result, counting them in the
  // writer's metrics.
  void Answer(std::vector<Pending>& batch,
              std::vector<absl::StatusOr<AppendResult>>& results);
  absl::StatusOr<AppendResult> Decide(AppendRequest& request, absl::Time now,
                                      BatchState* state,
                                      rocksdb::WriteBatch* batch);
  absl::StatusOr<uint64_t> CurrentVersion(const std::string& stream,
                                          const BatchState& state);
  absl::StatusOr<uint64_t> LastStreamVersion(absl::string_view stream);
  // The idempotency digest of event `i`: ContentDigest, with the personal
  // part folded in under the subject's key (KeyedDigest), never as a plain
  // hash of the text. The event is as it was on return (its personal part
  // is set aside while the rest is hashed).
  absl::StatusOr<std::string> Digest(AppendRequest& request, size_t i,
                                     BatchState* state,
                                     rocksdb::WriteBatch* batch);
  // Appends the record stored as `value` (hash[32] || leaf) to the
  // commit's tree and puts the hashes it stores into `batch`.
  void AppendToTree(absl::string_view value, BatchState* state,
                    rocksdb::WriteBatch* batch);
  // Removes the bytes of erased keys and removed records from the files.
  void Scrub(const BatchState& state);
  void PublishHead(uint64_t position, const std::string& hash);
  // Replicated mode: the writer decides a batch and hands it to
  // options_.replication instead of writing it.
  void CommitReplicated(std::vector<Pending>& batch);
  // Takes the writer's head, chain end, tree and versions from the store
  // when what was applied is not what the writer last decided (another
  // leader's entries, a commit that did not land).
  absl::Status ReloadWriterState();
  // One decided append's writes (its own WriteBatch) as a replicated append.
  absl::Status ExportAppend(const rocksdb::WriteBatch& batch,
                            const AppendRequest& request,
                            v1::ReplicatedAppend* out);
  // Puts one replicated append's writes into `batch`, checking its chain
  // from `state`.
  absl::Status ApplyAppend(const v1::ReplicatedAppend& append,
                           BatchState* state, rocksdb::WriteBatch* batch);

  const RocksDbEventLogOptions options_;
  Clock* const clock_;
  Logger* const logger_;
  const WriterMetrics metrics_;

  // Set by OpenDb() from options_.file_system; outlives db_.
  std::unique_ptr<rocksdb::Env> env_;
  std::shared_ptr<rocksdb::Logger> info_log_;
  // Set by Open(); the handles live until Close() under db_mu_.
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  rocksdb::ColumnFamilyHandle* default_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* log_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* streams_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* ids_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* records_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* keys_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* tree_cf_ = nullptr;
  std::unique_ptr<internal::SubjectKeys> subject_keys_;

  // Readers hold it shared; Close() takes it exclusively to close the store.
  absl::Mutex db_mu_;
  bool db_closed_ ABSL_GUARDED_BY(db_mu_) = false;

  absl::Mutex queue_mu_;
  absl::CondVar queue_cv_;
  std::deque<Pending> queue_ ABSL_GUARDED_BY(queue_mu_);
  size_t queued_bytes_ ABSL_GUARDED_BY(queue_mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(queue_mu_) = false;
  // A background error RocksDB reported, for the writer to stop writes on.
  std::optional<rocksdb::Status> background_error_ ABSL_GUARDED_BY(queue_mu_);
  std::thread writer_;

  // Owned by the writer thread (and by Open() before it starts).
  StreamVersionCache versions_;
  uint64_t next_position_ = 1;
  std::string last_hash_;
  // The tree of next_position_ - 1 records: its frontier, as stored.
  LogTree tree_;
  // Not OK while writes are stopped: what appends get.
  absl::Status write_error_;
  // Replicated mode: the writer's state must be re-read from the store.
  bool writer_reload_ = false;
  // Replicated mode: how long the last commit took, and how many appends
  // were waiting on the log when it was answered (those answered and those
  // queued): the writer lingers for that many (WriterLoop).
  absl::Duration last_commit_;
  size_t linger_for_ ABSL_GUARDED_BY(queue_mu_) = 0;
  // Replicated mode: one entry applied at a time; the tree as applied.
  absl::Mutex apply_mu_;
  std::optional<LogTree> apply_tree_ ABSL_GUARDED_BY(apply_mu_);

  absl::Mutex head_mu_;
  Head head_ ABSL_GUARDED_BY(head_mu_);
  bool watches_closed_ ABSL_GUARDED_BY(head_mu_) = false;
  // write_error_, for other threads.
  absl::Status write_state_ ABSL_GUARDED_BY(head_mu_);
  uint64_t next_watch_id_ ABSL_GUARDED_BY(head_mu_) = 1;
  // (position, id) -> callback; fired in position order.
  std::map<std::pair<uint64_t, uint64_t>, WatchCallback> watches_
      ABSL_GUARDED_BY(head_mu_);
  absl::flat_hash_map<uint64_t, uint64_t> watch_positions_
      ABSL_GUARDED_BY(head_mu_);
};

}  // namespace ycr::storage
