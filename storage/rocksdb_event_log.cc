#include "storage/rocksdb_event_log.h"

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/listener.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>

#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <iostream>
#include <limits>
#include <map>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/ids.h"
#include "common/proto_bytes.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "storage/append_validation.h"
#include "storage/key_format.h"
#include "storage/personal_crypto.h"
#include "storage/record_codec.h"
#include "storage/rocksdb_access_log_store.h"
#include "storage/rocksdb_internal.h"
#include "storage/rocksdb_projection_store.h"
#include "storage/stream_version_cache.h"
#include "storage/subject_keys.h"

namespace ycr::storage {
namespace {

using internal::FromRocks;
using internal::View;

absl::Status VersionConflict(absl::string_view what, absl::string_view stream,
                             uint64_t current,
                             const ExpectedVersion& expected) {
  absl::Status status = absl::AbortedError(
      absl::StrCat(what, "stream '", stream, "' is at version ", current,
                   ", expected ", expected.ToString()));
  status.SetPayload(kConflictStreamPayload, absl::Cord(stream));
  status.SetPayload(kConflictVersionPayload, absl::Cord(absl::StrCat(current)));
  return status;
}

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

// RocksDB's info log, sent to our structured log instead of a LOG file in
// the data directory: a full disk must not be able to fail (or abort) the
// process through it.
class RocksInfoLog : public rocksdb::Logger {
 public:
  explicit RocksInfoLog(ycr::Logger* log)
      : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL), log_(log) {}

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap);
  }
  void Logv(const rocksdb::InfoLogLevel level, const char* format,
            va_list ap) override {
    if (level < GetInfoLogLevel()) return;
    const LogLevel ours =
        level >= rocksdb::InfoLogLevel::ERROR_LEVEL  ? LogLevel::kError
        : level >= rocksdb::InfoLogLevel::WARN_LEVEL ? LogLevel::kWarning
                                                     : LogLevel::kInfo;
    if (!log_->Enabled(ours)) return;
    char buffer[1024];
    std::vsnprintf(buffer, sizeof(buffer), format, ap);
    log_->Log(ours, "rocksdb.log", {{"message", buffer}});
  }

 private:
  ycr::Logger* const log_;
};

// Turns RocksDB's own recovery from background errors off: the writer
// resumes the store itself (TryResume), so that RocksDB's state and the
// writer's in-memory head, chain tail and versions are reset together, on
// one thread, and a resume never races an append. (RocksDB would otherwise
// poll free space every few seconds and answer Resume() with Busy while it
// does.)
//
// It also tells the writer of every background error, whoever's write
// failed (a projection's commit, a flush): writes stop, and the writer's
// timer resumes the store, which the projections' retries need too.
class ManualRecovery : public rocksdb::EventListener {
 public:
  explicit ManualRecovery(std::function<void(const rocksdb::Status&)> on_error)
      : on_error_(std::move(on_error)) {}

  void OnBackgroundError(rocksdb::BackgroundErrorReason /*reason*/,
                         rocksdb::Status* bg_error) override {
    on_error_(*bg_error);
  }
  void OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason /*reason*/,
                            rocksdb::Status /*bg_error*/,
                            bool* auto_recovery) override {
    *auto_recovery = false;
  }

 private:
  const std::function<void(const rocksdb::Status&)> on_error_;
};

// Warnings and errors on standard error, when the options name no logger.
Logger& DefaultLogger() {
  static Logger* const logger =
      new Logger(&std::cerr, LogFormat::kText, LogLevel::kWarning);
  return *logger;
}

// What every refused append is told about itself.
constexpr char kRetryAdvice[] =
    "the outcome of an unacknowledged append is unknown: retry it with the "
    "same event ids (a retry is idempotent)";

// A failed write, as appends see it while writes are stopped.
absl::Status WriteError(const rocksdb::Status& s, absl::string_view path) {
  if (s.IsNoSpace()) {
    return absl::ResourceExhaustedError(
        absl::StrCat("writes are stopped: the store's filesystem is full (",
                     s.ToString(), "); free space under ", path,
                     " and writes resume by themselves; ", kRetryAdvice));
  }
  return absl::UnavailableError(absl::StrCat(
      "writes are stopped: the store could not write (", s.ToString(),
      "); check the disk under ", path,
      "; writes resume by themselves once the store can write again; ",
      kRetryAdvice));
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

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
};

}  // namespace

namespace internal {

absl::Status FromRocks(const rocksdb::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  std::string message = absl::StrCat(what, ": ", s.ToString());
  if (s.IsNoSpace()) return absl::ResourceExhaustedError(message);
  // Callers handle NotFound where absence is normal; anywhere else a record
  // that must exist is missing.
  if (s.IsCorruption() || s.IsNotFound()) return absl::DataLossError(message);
  return absl::UnavailableError(message);
}

}  // namespace internal

class RocksDbEventLog::Impl {
 public:
  explicit Impl(RocksDbEventLogOptions options)
      : options_(std::move(options)),
        clock_(options_.clock != nullptr ? options_.clock : &SystemClock()),
        logger_(options_.logger != nullptr ? options_.logger
                                           : &DefaultLogger()),
        metrics_(options_.metrics),
        versions_(options_.stream_cache_entries) {}

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
  Head GetHead();
  uint64_t WatchHead(uint64_t position, WatchCallback ready);
  bool CancelWatch(uint64_t id);
  absl::Status VerifyChain(uint64_t from, uint64_t to);
  absl::Status WriteState();
  absl::StatusOr<uint64_t> Checkpoint(const std::string& dir);
  void Close();

 private:
  absl::Status OpenDb();
  absl::Status CheckFormatVersion();
  absl::Status RecoverHead();
  // The last record of the log as stored: its position and hash.
  absl::StatusOr<Head> ReadStoredHead();
  absl::Status VerifyChainLocked(uint64_t from, uint64_t to)
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
  absl::StatusOr<AppendResult> Decide(AppendRequest& request, absl::Time now,
                                      BatchState* state,
                                      rocksdb::WriteBatch* batch);
  absl::StatusOr<uint64_t> CurrentVersion(const std::string& stream,
                                          const BatchState& state);
  absl::StatusOr<uint64_t> LastStreamVersion(absl::string_view stream);
  // The idempotency digest of event `i`: ContentDigest, with the personal
  // part folded in under the subject's key (KeyedDigest), never as a plain
  // hash of the text.
  absl::StatusOr<std::string> Digest(const AppendRequest& request, size_t i,
                                     BatchState* state,
                                     rocksdb::WriteBatch* batch);
  // Removes the bytes of erased keys and removed records from the files.
  void Scrub(const BatchState& state);
  void PublishHead(uint64_t position, const std::string& hash);

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
  // Not OK while writes are stopped: what appends get.
  absl::Status write_error_;

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

absl::Status RocksDbEventLog::Impl::Open() {
  RETURN_IF_ERROR(OpenDb());
  RETURN_IF_ERROR(CheckFormatVersion());
  RETURN_IF_ERROR(RecoverHead());
  RETURN_IF_ERROR(subject_keys_->ScrubOnOpen(handles_));
  writer_ = std::thread([this] { WriterLoop(); });
  return absl::OkStatus();
}

absl::Status RocksDbEventLog::Impl::OpenDb() {
  std::error_code ec;
  std::filesystem::create_directories(options_.path, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat(
        "cannot create data directory ", options_.path, ": ", ec.message()));
  }
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.IncreaseParallelism(2);
  info_log_ = std::make_shared<RocksInfoLog>(logger_);
  db_options.info_log = info_log_;
  // Called on RocksDB's threads, maybe under its lock: only hands the
  // error to the writer.
  db_options.listeners.push_back(
      std::make_shared<ManualRecovery>([this](const rocksdb::Status& error) {
        absl::MutexLock lock(&queue_mu_);
        background_error_ = error;
        queue_cv_.Signal();
      }));
  if (options_.file_system != nullptr) {
    env_ = rocksdb::NewCompositeEnv(options_.file_system);
    db_options.env = env_.get();
  }

  std::shared_ptr<rocksdb::Cache> cache =
      rocksdb::NewLRUCache(options_.block_cache_bytes);
  auto cf_options = [&](bool bloom) {
    rocksdb::ColumnFamilyOptions cf;
    rocksdb::BlockBasedTableOptions table;
    table.block_cache = cache;
    if (bloom) table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
    return cf;
  };
  std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, cf_options(false)},
      {kLogColumnFamily, cf_options(false)},
      {kStreamsColumnFamily, cf_options(true)},
      {kEventIdsColumnFamily, cf_options(true)},
      {kProjectionsColumnFamily, cf_options(true)},
      {kCheckpointsColumnFamily, cf_options(false)},
      {kRecordsColumnFamily, cf_options(true)},
      {kAccessBySubjectColumnFamily, cf_options(false)},
      {kAccessByReaderColumnFamily, cf_options(false)},
      {kSubjectKeysColumnFamily, cf_options(true)},
  };
  rocksdb::DB* db = nullptr;
  rocksdb::Status s =
      rocksdb::DB::Open(db_options, options_.path, families, &handles_, &db);
  RETURN_IF_ERROR(
      FromRocks(s, absl::StrCat("cannot open store at ", options_.path)));
  db_.reset(db);
  default_cf_ = handles_[0];
  log_cf_ = handles_[1];
  streams_cf_ = handles_[2];
  ids_cf_ = handles_[3];
  records_cf_ = handles_[6];
  // By name: other column families may be added before it.
  for (rocksdb::ColumnFamilyHandle* handle : handles_) {
    if (handle->GetName() == kSubjectKeysColumnFamily) keys_cf_ = handle;
  }
  subject_keys_ = std::make_unique<internal::SubjectKeys>(db, keys_cf_);
  return absl::OkStatus();
}

absl::Status RocksDbEventLog::Impl::CheckFormatVersion() {
  std::string value;
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), default_cf_, FormatVersionKey(), &value);
  if (s.IsNotFound()) {
    std::unique_ptr<rocksdb::Iterator> it(
        db_->NewIterator(rocksdb::ReadOptions(), log_cf_));
    it->SeekToFirst();
    if (it->Valid()) {
      return absl::FailedPreconditionError(
          absl::StrCat("store at ", options_.path,
                       " has events but no format version: not a ycr store"));
    }
    rocksdb::WriteOptions wo;
    wo.sync = true;
    return FromRocks(db_->Put(wo, default_cf_, FormatVersionKey(),
                              EncodeFormatVersion(kStoreFormatVersion)),
                     "cannot write format version");
  }
  RETURN_IF_ERROR(FromRocks(s, "cannot read format version"));
  std::optional<uint32_t> version = DecodeFormatVersion(value);
  if (version.has_value() && *version >= 1 && *version < kStoreFormatVersion) {
    // An earlier format (key_format.h says what each changed). There is no
    // migration: no such store is in service.
    return absl::FailedPreconditionError(absl::StrCat(
        "store at ", options_.path, " has format version ", *version,
        ", from an earlier release (", FormatChange(*version + 1),
        "); this build reads format version ", kStoreFormatVersion,
        " and does not migrate it: move the directory aside and start with an "
        "empty data directory (run the previous release to read or export "
        "the old store)"));
  }
  if (!version.has_value() || *version != kStoreFormatVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "store at ", options_.path, " has format version ",
        version.has_value() ? absl::StrCat(*version) : "(malformed)",
        "; this build reads format version ", kStoreFormatVersion));
  }
  return absl::OkStatus();
}

absl::StatusOr<Head> RocksDbEventLog::Impl::ReadStoredHead() {
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), log_cf_));
  it->SeekToLast();
  RETURN_IF_ERROR(FromRocks(it->status(), "cannot read the log"));
  Head head{0, GenesisHash()};
  if (it->Valid()) {
    std::optional<uint64_t> position = DecodeLogKey(View(it->key()));
    if (!position.has_value() || it->value().size() < kHashBytes) {
      return absl::DataLossError("the last log record is malformed");
    }
    head.position = *position;
    head.hash = std::string(it->value().data(), kHashBytes);
  }
  return head;
}

absl::Status RocksDbEventLog::Impl::RecoverHead() {
  ASSIGN_OR_RETURN(Head head, ReadStoredHead());
  if (head.position > 0 && options_.verify_tail_records > 0) {
    uint64_t from = head.position > options_.verify_tail_records
                        ? head.position - options_.verify_tail_records + 1
                        : 1;
    absl::ReaderMutexLock lock(&db_mu_);
    RETURN_IF_ERROR(VerifyChainLocked(from, head.position));
  }
  next_position_ = head.position + 1;
  last_hash_ = head.hash;
  absl::MutexLock lock(&head_mu_);
  head_ = std::move(head);
  return absl::OkStatus();
}

void RocksDbEventLog::Impl::AppendAsync(AppendRequest request,
                                        AppendCallback done) {
  if (absl::Status s = ValidateAppend(&request, options_.limits); !s.ok()) {
    std::move(done)(s);
    return;
  }
  size_t bytes = 0;
  for (const v1::ProposedEvent& e : request.events) bytes += e.ByteSizeLong();
  for (const RecordWrite& r : request.records) bytes += r.value.size();
  absl::Status refused;
  {
    absl::MutexLock lock(&queue_mu_);
    if (stopping_) {
      refused = absl::UnavailableError("the event log is closed");
    } else if (!queue_.empty() &&
               queued_bytes_ + bytes > options_.limits.max_queued_bytes) {
      refused = absl::ResourceExhaustedError(absl::StrCat(
          "the log's writer is behind (", queued_bytes_,
          " bytes of appends queued); retry shortly with the same event ids"));
    } else {
      queued_bytes_ += bytes;
      queue_.push_back(Pending{std::move(request), std::move(done), bytes,
                               std::chrono::steady_clock::now()});
      queue_cv_.Signal();
      return;
    }
  }
  std::move(done)(refused);
}

void RocksDbEventLog::Impl::WriterLoop() {
  std::vector<Pending> batch;
  for (;;) {
    bool try_resume = false;
    std::optional<rocksdb::Status> background_error;
    {
      absl::MutexLock lock(&queue_mu_);
      if (write_error_.ok()) {
        while (queue_.empty() && !stopping_ && !background_error_) {
          queue_cv_.Wait(&queue_mu_);
        }
        background_error.swap(background_error_);
      } else if (queue_.empty() && !stopping_) {
        // Writes are stopped: wake to try resuming even without appends.
        queue_cv_.WaitWithTimeout(&queue_mu_, options_.resume_interval);
        try_resume = queue_.empty() && !stopping_;
      }
      if (queue_.empty() && !try_resume && !background_error.has_value()) {
        return;  // Stopping, and every append is answered.
      }
      // Everything queued, up to max_batch_bytes (at least one append).
      // After a background error, appends wait for the next round.
      size_t taken = 0;
      while (!background_error.has_value() && !queue_.empty() &&
             (batch.empty() || taken + queue_.front().bytes <=
                                   options_.limits.max_batch_bytes)) {
        taken += queue_.front().bytes;
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      queued_bytes_ -= taken;
    }
    if (background_error.has_value()) {
      StopWrites(*background_error);
      continue;
    }
    if (try_resume) {
      TryResume().IgnoreError();  // Logged; appends see it when they come.
      continue;
    }
    CommitBatch(batch);
    batch.clear();
  }
}

void RocksDbEventLog::Impl::StopWrites(const rocksdb::Status& error) {
  const bool was_stopped = !write_error_.ok();
  write_error_ = WriteError(error, options_.path);
  if (was_stopped) return;
  logger_->Log(LogLevel::kError, "log.writes_stopped",
               {{"error", std::string(write_error_.message())},
                {"head", absl::StrCat(next_position_ - 1)}});
  SetWriteState(write_error_);
}

bool RocksDbEventLog::Impl::SetWriteState(const absl::Status& state) {
  {
    absl::MutexLock lock(&head_mu_);
    if (write_state_ == state) return false;
    write_state_ = state;
  }
  if (options_.on_write_state) options_.on_write_state(state);
  return true;
}

absl::Status RocksDbEventLog::Impl::TryResume() {
  if (write_error_.ok()) return absl::OkStatus();
  if (rocksdb::Status probe = ProbeWritable(); !probe.ok()) {
    StopWrites(probe);
    return write_error_;
  }
  {
    // Errors reported from here on are new: they stop writes again.
    absl::MutexLock lock(&queue_mu_);
    background_error_.reset();
  }
  // Clears RocksDB's background error (a failed WAL write or sync makes the
  // store read-only). Resume() flushes every memtable to new files, so the
  // WAL that failed is no longer needed and is never replayed over what is
  // written after this (the reopen in write_fault_test checks it).
  rocksdb::Status s = db_->Resume();
  if (!s.ok()) {
    if (s.severity() >= rocksdb::Status::Severity::kFatalError) {
      // RocksDB 7.8 will not resume after a failed WAL write that is not
      // for lack of space: only reopening the store (a restart) clears it.
      write_error_ = absl::UnavailableError(absl::StrCat(
          "writes are stopped: the store failed a write it cannot resume "
          "from (",
          s.ToString(), "); check the disk under ", options_.path,
          " and restart ycr-server; reads go on meanwhile; ", kRetryAdvice));
      if (SetWriteState(write_error_)) {
        logger_->Log(LogLevel::kError, "log.resume_impossible",
                     {{"error", std::string(write_error_.message())}});
      }
      return write_error_;
    }
    StopWrites(s);
    return write_error_;
  }
  // The failed batch may or may not be stored: take the head, the chain and
  // the versions from the store, not from memory.
  absl::StatusOr<Head> head = ReadStoredHead();
  absl::Status verified = head.status();
  if (verified.ok() && head->position + 1 < next_position_) {
    verified = absl::DataLossError(absl::StrCat(
        "the log ends at position ", head->position, " but position ",
        next_position_ - 1, " was acknowledged"));
  }
  if (verified.ok()) {
    absl::ReaderMutexLock lock(&db_mu_);
    // From the last record known to be stored: it links what followed.
    verified = VerifyChainLocked(next_position_ > 1 ? next_position_ - 1 : 1,
                                 head->position);
  }
  if (!verified.ok()) {
    // Not expected after a failed write; stay stopped rather than write
    // past a chain that does not verify.
    write_error_ = absl::UnavailableError(absl::StrCat(
        "writes are stopped: after a failed write the stored log does not "
        "verify: ",
        verified.message(), "; run ycr-server verify on ", options_.path));
    logger_->Log(LogLevel::kError, "log.resume_failed",
                 {{"error", std::string(write_error_.message())}});
    SetWriteState(write_error_);
    return write_error_;
  }
  versions_.Clear();
  const uint64_t before = next_position_ - 1;
  next_position_ = head->position + 1;
  last_hash_ = head->hash;
  write_error_ = absl::OkStatus();
  logger_->Log(LogLevel::kWarning, "log.writes_resumed",
               {{"head", absl::StrCat(head->position)},
                {"head_before", absl::StrCat(before)}});
  if (head->position != before) PublishHead(head->position, head->hash);
  SetWriteState(absl::OkStatus());
  return absl::OkStatus();
}

rocksdb::Status RocksDbEventLog::Impl::ProbeWritable() {
  rocksdb::FileSystem* fs = options_.file_system != nullptr
                                ? options_.file_system.get()
                                : rocksdb::FileSystem::Default().get();
  uint64_t free_bytes = 0;
  rocksdb::IOStatus s = fs->GetFreeSpace(options_.path, rocksdb::IOOptions(),
                                         &free_bytes, nullptr);
  if (s.ok() && free_bytes < options_.resume_min_free_bytes) {
    return rocksdb::Status::NoSpace(
        absl::StrCat("only ", free_bytes, " bytes free, ",
                     options_.resume_min_free_bytes, " needed to resume"));
  }
  const std::string probe = options_.path + "/ycr-write-probe";
  std::unique_ptr<rocksdb::FSWritableFile> file;
  s = fs->NewWritableFile(probe, rocksdb::FileOptions(), &file, nullptr);
  if (s.ok()) {
    const std::string block(4096, '\0');
    s = file->Append(block, rocksdb::IOOptions(), nullptr);
    if (s.ok()) s = file->Sync(rocksdb::IOOptions(), nullptr);
    rocksdb::IOStatus closed = file->Close(rocksdb::IOOptions(), nullptr);
    if (s.ok()) s = closed;
  }
  fs->DeleteFile(probe, rocksdb::IOOptions(), nullptr).PermitUncheckedError();
  return s;
}

void RocksDbEventLog::Impl::CommitBatch(std::vector<Pending>& batch) {
  if (!write_error_.ok() && !TryResume().ok()) {
    for (Pending& pending : batch) {
      if (metrics_.appends_error != nullptr) {
        metrics_.appends_error->Increment();
        metrics_.latency->Observe(SecondsSince(pending.queued_at));
      }
      std::move(pending.done)(write_error_);
    }
    return;
  }
  BatchState state;
  state.next_position = next_position_;
  state.last_hash = last_hash_;
  rocksdb::WriteBatch write_batch;
  const absl::Time now = clock_->Now();
  std::vector<absl::StatusOr<AppendResult>> results;
  results.reserve(batch.size());
  for (Pending& pending : batch) {
    results.push_back(Decide(pending.request, now, &state, &write_batch));
  }
  if (state.next_position != next_position_) {
    rocksdb::WriteOptions write_options;
    write_options.sync = options_.sync;
    const auto write_start = std::chrono::steady_clock::now();
    const rocksdb::Status written = db_->Write(write_options, &write_batch);
    if (metrics_.sync_write != nullptr) {
      metrics_.sync_write->Observe(SecondsSince(write_start));
    }
    if (!written.ok()) {
      // The decisions above assumed this batch would land; none of them
      // hold, and memory may no longer match the store: stop writing until
      // TryResume() has re-read it.
      StopWrites(written);
      for (auto& result : results) result = write_error_;
    } else {
      for (auto& [stream, version] : state.versions) {
        versions_.Put(stream, version);
      }
      if (metrics_.events != nullptr) {
        metrics_.events->Increment(state.next_position - next_position_);
      }
      next_position_ = state.next_position;
      last_hash_ = state.last_hash;
      PublishHead(next_position_ - 1, last_hash_);
      Scrub(state);
    }
  }
  if (metrics_.latency != nullptr) {
    metrics_.batch_appends->Observe(static_cast<double>(batch.size()));
    for (size_t i = 0; i < batch.size(); ++i) {
      (results[i].ok() ? metrics_.appends_ok : metrics_.appends_error)
          ->Increment();
      metrics_.latency->Observe(SecondsSince(batch[i].queued_at));
    }
  }
  for (size_t i = 0; i < batch.size(); ++i) {
    std::move(batch[i].done)(std::move(results[i]));
  }
}

absl::StatusOr<AppendResult> RocksDbEventLog::Impl::Decide(
    AppendRequest& request, absl::Time now, BatchState* state,
    rocksdb::WriteBatch* batch) {
  const size_t n = request.events.size();

  // Idempotency: an append is either wholly new or a retry of events already
  // appended, with the same content and in their original order (a subset of
  // an earlier append, in order, is a retry too: every event it asks for is in
  // the log exactly as asked).
  std::vector<std::string> keys(n);
  std::vector<std::string> digests(n);
  std::vector<std::optional<EventIdEntry>> found(n);
  size_t found_count = 0;
  for (size_t i = 0; i < n; ++i) {
    keys[i] = EventIdKey(request.events[i].event_id());
    ASSIGN_OR_RETURN(digests[i], Digest(request, i, state, batch));
    if (auto it = state->event_ids.find(keys[i]);
        it != state->event_ids.end()) {
      found[i] = it->second;
    } else {
      std::string value;
      rocksdb::Status s =
          db_->Get(rocksdb::ReadOptions(), ids_cf_, keys[i], &value);
      if (s.ok()) {
        found[i] = DecodeEventIdEntry(value);
        if (!found[i].has_value()) {
          return absl::DataLossError("stored event id entry is malformed");
        }
      } else if (!s.IsNotFound()) {
        return FromRocks(s, "cannot read event ids");
      }
    }
    if (found[i].has_value()) ++found_count;
  }
  if (found_count > 0) {
    for (size_t i = 0; i < n; ++i) {
      const std::string& id = request.events[i].event_id();
      if (!found[i].has_value()) {
        return absl::AlreadyExistsError(absl::StrCat(
            "events[", i, "].event_id ", id,
            " is new but other events of this append were appended before; "
            "a retry must resend events already appended, in their original "
            "order, and nothing new"));
      }
      if (found[i]->digest != digests[i]) {
        return absl::AlreadyExistsError(
            absl::StrCat("events[", i, "].event_id ", id,
                         " was already appended at position ",
                         found[i]->position, " with different content"));
      }
      if (found[i]->position != found[0]->position + i) {
        return absl::AlreadyExistsError(absl::StrCat(
            "events[", i, "].event_id ", id,
            " was appended before, but not in this order; a retry must "
            "resend events in their original order"));
      }
    }
    return AppendResult{found[0]->position, found[n - 1]->position,
                        found[n - 1]->stream_version, true};
  }

  // Version checks, on this stream and the conditions' streams.
  ASSIGN_OR_RETURN(uint64_t current, CurrentVersion(request.stream, *state));
  if (!request.expected.Allows(current)) {
    return VersionConflict("", request.stream, current, request.expected);
  }
  for (size_t i = 0; i < request.conditions.size(); ++i) {
    const StreamCondition& c = request.conditions[i];
    ASSIGN_OR_RETURN(uint64_t version, CurrentVersion(c.stream, *state));
    if (!c.expected.Allows(version)) {
      return VersionConflict(absl::StrCat("conditions[", i, "]: "), c.stream,
                             version, c.expected);
    }
  }
  for (size_t i = 0; i < request.record_conditions.size(); ++i) {
    const RecordCondition& c = request.record_conditions[i];
    std::optional<std::string> value;
    if (auto it = state->records.find(c.key); it != state->records.end()) {
      value = it->second;
    } else {
      std::string stored;
      rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), records_cf_,
                                   RecordKey(c.key), &stored);
      if (s.ok()) {
        value = std::move(stored);
      } else if (!s.IsNotFound()) {
        return FromRocks(s, "cannot read a record");
      }
    }
    if (value != c.value) {
      absl::Status status = absl::AbortedError(absl::StrCat(
          "record_conditions[", i, "]: record '", c.key, "' ",
          value.has_value() ? "has another value" : "does not exist",
          " than the append was decided on"));
      status.SetPayload(kConflictStreamPayload,
                        absl::Cord(absl::StrCat("record:", c.key)));
      return status;
    }
  }

  // Event types first: nothing below may fail once the batch is touched.
  std::vector<std::string> types(n);
  for (size_t i = 0; i < n; ++i) {
    ASSIGN_OR_RETURN(types[i],
                     EventTypeOf(request.events[i].payload(),
                                 absl::StrCat("events[", i, "].payload")));
  }

  // Personal parts and sealed records are sealed before anything of this
  // append is in the batch but the subject keys they need (a key written
  // for an append that then fails is simply the subject's key from then on).
  for (size_t i = 0; i < n; ++i) {
    v1::ProposedEvent& e = request.events[i];
    if (!e.payload().has_personal()) continue;
    ASSIGN_OR_RETURN(std::string key,
                     subject_keys_->KeyForWrite(
                         internal::KeyName(e.payload().personal().subject_id(),
                                           internal::SealingOwner(
                                               e.payload(), request.actor)),
                         &state->keys, batch));
    RETURN_IF_ERROR(internal::SubjectKeys::SealEvent(key, e.event_id(),
                                                     e.mutable_payload()));
  }
  for (RecordWrite& r : request.records) {
    if (r.seal_subject.empty()) continue;
    ASSIGN_OR_RETURN(std::string key, subject_keys_->KeyForWrite(
                                          r.seal_subject, &state->keys, batch));
    ASSIGN_OR_RETURN(Sealed sealed,
                     Seal(key, RecordAad(r.seal_subject, r.key), r.value));
    v1::EncryptedPersonal stored;
    stored.set_subject_id(r.seal_subject);
    stored.set_key_version(kDataKeyVersion);
    stored.set_nonce(std::move(sealed.nonce));
    stored.set_ciphertext(std::move(sealed.ciphertext));
    r.value = stored.SerializeAsString();
  }
  // The keys the erasures destroy (the batch holds only new keys so far).
  std::vector<std::vector<std::string>> erased_keys;
  for (const std::string& subject : request.erase_subjects) {
    ASSIGN_OR_RETURN(erased_keys.emplace_back(),
                     subject_keys_->KeysToErase(
                         subject, request.erase_retaining, state->keys));
  }

  // The records, chained.
  const google::protobuf::Timestamp recorded_at = ToProtoTime(now);
  AppendResult result{state->next_position, 0, 0, false};
  for (size_t i = 0; i < n; ++i) {
    v1::ProposedEvent& e = request.events[i];
    v1::RecordedEvent record;
    record.set_position(state->next_position);
    record.set_stream(request.stream);
    record.set_stream_version(current + i + 1);
    record.set_event_id(e.event_id());
    record.set_event_type(std::move(types[i]));
    *record.mutable_payload() = std::move(*e.mutable_payload());
    *record.mutable_recorded_at() = recorded_at;
    if (e.has_occurred_at()) *record.mutable_occurred_at() = e.occurred_at();
    *record.mutable_actor() = request.actor;
    record.set_correlation_id(e.correlation_id());
    record.set_causation_id(e.causation_id());
    record.set_prev_hash(state->last_hash);
    std::string value = EncodeRecord(&record);

    EventIdEntry entry{record.position(), record.stream_version(),
                       std::move(digests[i])};
    batch->Put(log_cf_, LogKey(record.position()), value);
    batch->Put(streams_cf_, StreamKey(request.stream, record.stream_version()),
               EncodePosition(record.position()));
    batch->Put(ids_cf_, keys[i], EncodeEventIdEntry(entry));
    state->event_ids.emplace(std::move(keys[i]), std::move(entry));
    state->last_hash = record.hash();
    ++state->next_position;
  }
  for (RecordWrite& r : request.records) {
    if (r.remove) {
      batch->Delete(records_cf_, RecordKey(r.key));
      batch->Delete(records_cf_, SealedRecordKey(r.key));
      state->records[r.key] = std::nullopt;
      state->removed_records.push_back(std::move(r.key));
    } else if (!r.seal_subject.empty()) {
      batch->Put(records_cf_, SealedRecordKey(r.key), r.value);
    } else {
      batch->Put(records_cf_, RecordKey(r.key), r.value);
      state->records[r.key] = r.value;
    }
  }
  for (size_t i = 0; i < request.erase_subjects.size(); ++i) {
    const std::string& subject = request.erase_subjects[i];
    subject_keys_->Erase(subject, erased_keys[i], result.first_position,
                         &state->keys, batch);
    state->erased.push_back(subject);
  }
  result.last_position = state->next_position - 1;
  result.stream_version = current + n;
  state->versions[request.stream] = result.stream_version;
  return result;
}

absl::StatusOr<std::string> RocksDbEventLog::Impl::Digest(
    const AppendRequest& request, size_t i, BatchState* state,
    rocksdb::WriteBatch* batch) {
  const v1::ProposedEvent& e = request.events[i];
  if (!e.payload().has_personal()) {
    return ContentDigest(request.stream, e, request.actor);
  }
  const v1::PersonalData& personal = e.payload().personal();
  ASSIGN_OR_RETURN(
      std::string key,
      subject_keys_->KeyForWrite(
          internal::KeyName(personal.subject_id(),
                            internal::SealingOwner(e.payload(), request.actor)),
          &state->keys, batch));
  v1::ProposedEvent without = e;
  without.mutable_payload()->clear_personal();
  return Sha256(ContentDigest(request.stream, without, request.actor),
                KeyedDigest(key, DeterministicBytes(personal)));
}

void RocksDbEventLog::Impl::Scrub(const BatchState& state) {
  // The append is durable whatever happens here: a failure leaves the
  // deleted bytes in the files until RocksDB compacts them on its own.
  for (const std::string& subject : state.erased) {
    subject_keys_->Scrub(handles_, subject).IgnoreError();
  }
  for (const std::string& key : state.removed_records) {
    internal::CompactKey(db_.get(), records_cf_, RecordKey(key)).IgnoreError();
    internal::CompactKey(db_.get(), records_cf_, SealedRecordKey(key))
        .IgnoreError();
  }
}

absl::StatusOr<uint64_t> RocksDbEventLog::Impl::CurrentVersion(
    const std::string& stream, const BatchState& state) {
  if (auto it = state.versions.find(stream); it != state.versions.end()) {
    return it->second;
  }
  if (std::optional<uint64_t> cached = versions_.Get(stream)) return *cached;
  ASSIGN_OR_RETURN(uint64_t version, LastStreamVersion(stream));
  versions_.Put(stream, version);  // Committed state: safe to cache now.
  return version;
}

absl::StatusOr<uint64_t> RocksDbEventLog::Impl::LastStreamVersion(
    absl::string_view stream) {
  StreamIndexIterator index(db_.get(), streams_cf_, stream);
  rocksdb::Iterator* it = index.get();
  it->SeekToLast();
  RETURN_IF_ERROR(FromRocks(it->status(), "cannot read the stream index"));
  if (!it->Valid()) return 0;
  std::optional<StreamKeyParts> parts = DecodeStreamKey(View(it->key()));
  if (!parts.has_value() || parts->stream != stream) {
    return absl::DataLossError(
        absl::StrCat("stream index of '", stream, "' is malformed"));
  }
  return parts->version;
}

void RocksDbEventLog::Impl::PublishHead(uint64_t position,
                                        const std::string& hash) {
  std::vector<WatchCallback> ready;
  {
    absl::MutexLock lock(&head_mu_);
    head_.position = position;
    head_.hash = hash;
    auto end = watches_.upper_bound({position, UINT64_MAX});
    for (auto it = watches_.begin(); it != end; ++it) {
      watch_positions_.erase(it->first.second);
      ready.push_back(std::move(it->second));
    }
    watches_.erase(watches_.begin(), end);
  }
  for (WatchCallback& callback : ready) std::move(callback)();
}

uint32_t RocksDbEventLog::Impl::ClampLimit(uint32_t limit) const {
  if (limit == 0 || limit > options_.limits.max_read_limit) {
    return options_.limits.max_read_limit;
  }
  return limit;
}

absl::StatusOr<StreamSlice> RocksDbEventLog::Impl::ReadStream(
    absl::string_view stream, const ReadStreamOptions& options) {
  RETURN_IF_ERROR(
      ValidateStreamId(stream, options_.limits.max_stream_id_bytes, "stream"));
  absl::ReaderMutexLock lock(&db_mu_);
  if (db_closed_) return absl::UnavailableError("the event log is closed");
  const uint32_t limit = ClampLimit(options.limit);

  StreamIndexIterator index(db_.get(), streams_cf_, stream);
  rocksdb::Iterator* it = index.get();
  it->SeekToLast();
  RETURN_IF_ERROR(FromRocks(it->status(), "cannot read the stream index"));
  if (!it->Valid()) {
    return absl::NotFoundError(
        absl::StrCat("stream '", stream, "' has no events"));
  }
  StreamSlice slice;
  std::optional<StreamKeyParts> last = DecodeStreamKey(View(it->key()));
  if (!last.has_value()) return absl::DataLossError("malformed stream index");
  slice.stream_version = last->version;

  if (options.backwards) {
    uint64_t from = options.from_version;
    if (from == 0 || from > slice.stream_version) from = slice.stream_version;
    it->SeekForPrev(StreamKey(stream, from));
  } else {
    it->Seek(StreamKey(stream, std::max<uint64_t>(options.from_version, 1)));
  }
  uint64_t last_version = 0;
  size_t bytes = 0;
  for (; it->Valid() && slice.events.size() < limit &&
         bytes < options_.limits.max_read_bytes;
       options.backwards ? it->Prev() : it->Next()) {
    std::optional<StreamKeyParts> parts = DecodeStreamKey(View(it->key()));
    std::optional<uint64_t> position = DecodePosition(View(it->value()));
    if (!parts.has_value() || !position.has_value()) {
      return absl::DataLossError("malformed stream index entry");
    }
    std::string value;
    RETURN_IF_ERROR(FromRocks(
        db_->Get(rocksdb::ReadOptions(), log_cf_, LogKey(*position), &value),
        absl::StrCat("cannot read log position ", *position)));
    bytes += value.size();
    RETURN_IF_ERROR(DecodeRecord(value, &slice.events.emplace_back()));
    last_version = parts->version;
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "cannot read the stream index"));
  if (!slice.events.empty()) {
    if (options.backwards) {
      slice.next_version = last_version > 1 ? last_version - 1 : 0;
    } else {
      slice.next_version =
          last_version < slice.stream_version ? last_version + 1 : 0;
    }
  }
  return slice;
}

absl::StatusOr<LogSlice> RocksDbEventLog::Impl::ReadAll(
    uint64_t from, uint32_t limit, const LogFilter& filter) {
  absl::ReaderMutexLock lock(&db_mu_);
  if (db_closed_) return absl::UnavailableError("the event log is closed");
  limit = ClampLimit(limit);
  from = std::max<uint64_t>(from, 1);
  LogSlice slice;
  slice.next_position = from;
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), log_cf_));
  uint32_t scanned = 0;
  size_t bytes = 0;
  v1::RecordedEvent record;
  for (it->Seek(LogKey(from)); it->Valid() && slice.events.size() < limit &&
                               scanned < options_.limits.max_read_scan &&
                               bytes < options_.limits.max_read_bytes;
       it->Next()) {
    RETURN_IF_ERROR(DecodeRecord(View(it->value()), &record));
    ++scanned;
    slice.next_position = record.position() + 1;
    if (filter.Matches(record)) {
      bytes += it->value().size();
      slice.events.push_back(std::move(record));
    }
    record.Clear();
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "cannot read the log"));
  slice.reached_end = !it->Valid();
  return slice;
}

absl::Status RocksDbEventLog::Impl::ForEach(
    uint64_t from, uint64_t limit,
    absl::FunctionRef<absl::Status(const v1::RecordedEvent&)> visit,
    uint64_t* next_position) {
  // Raw records are copied out under the lock (`visit` may read the store,
  // which takes the lock again), a chunk at a time.
  constexpr size_t kChunkBytes = 4 << 20;
  from = std::max<uint64_t>(from, 1);
  *next_position = from;
  uint64_t visited = 0;
  std::string chunk;
  std::vector<size_t> ends;
  v1::RecordedEvent record;
  for (;;) {
    chunk.clear();
    ends.clear();
    bool at_end = false;
    {
      absl::ReaderMutexLock lock(&db_mu_);
      if (db_closed_) return absl::UnavailableError("the event log is closed");
      std::unique_ptr<rocksdb::Iterator> it(
          db_->NewIterator(rocksdb::ReadOptions(), log_cf_));
      for (it->Seek(LogKey(*next_position));
           it->Valid() && chunk.size() < kChunkBytes &&
           (limit == 0 || visited + ends.size() < limit);
           it->Next()) {
        chunk.append(it->value().data(), it->value().size());
        ends.push_back(chunk.size());
      }
      RETURN_IF_ERROR(FromRocks(it->status(), "cannot read the log"));
      at_end = !it->Valid();
    }
    size_t begin = 0;
    for (size_t end : ends) {
      RETURN_IF_ERROR(DecodeRecord(
          absl::string_view(chunk.data() + begin, end - begin), &record));
      begin = end;
      if (record.position() != *next_position) {
        return absl::DataLossError(absl::StrCat("log record at position ",
                                                *next_position, " is missing"));
      }
      RETURN_IF_ERROR(visit(record));
      ++visited;
      *next_position = record.position() + 1;
    }
    if (at_end || ends.empty() || (limit != 0 && visited >= limit)) break;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<uint64_t>> RocksDbEventLog::Impl::LookupEventId(
    absl::string_view event_id) {
  if (!IsUuid(event_id)) {
    return absl::InvalidArgumentError("event_id: must be a UUID");
  }
  absl::ReaderMutexLock lock(&db_mu_);
  if (db_closed_) return absl::UnavailableError("the event log is closed");
  std::string value;
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), ids_cf_, EventIdKey(event_id), &value);
  if (s.IsNotFound()) return std::optional<uint64_t>();
  RETURN_IF_ERROR(FromRocks(s, "cannot read event ids"));
  std::optional<EventIdEntry> entry = DecodeEventIdEntry(value);
  if (!entry.has_value()) {
    return absl::DataLossError("stored event id entry is malformed");
  }
  return std::optional<uint64_t>(entry->position);
}

absl::StatusOr<std::optional<std::string>> RocksDbEventLog::Impl::GetRecord(
    absl::string_view key) {
  absl::ReaderMutexLock lock(&db_mu_);
  if (db_closed_) return absl::UnavailableError("the event log is closed");
  std::string value;
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), records_cf_, RecordKey(key), &value);
  if (s.ok()) return std::optional<std::string>(std::move(value));
  if (!s.IsNotFound()) return FromRocks(s, "cannot read the record store");
  s = db_->Get(rocksdb::ReadOptions(), records_cf_, SealedRecordKey(key),
               &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  RETURN_IF_ERROR(FromRocks(s, "cannot read the record store"));
  v1::EncryptedPersonal sealed;
  if (!sealed.ParseFromString(value)) {
    return absl::DataLossError("a sealed record is malformed");
  }
  ASSIGN_OR_RETURN(internal::SubjectKey k,
                   subject_keys_->Read(sealed.subject_id()));
  if (k.state != internal::SubjectKey::State::kPresent) {
    return absl::DataLossError(
        absl::StrCat("the key of the sealed record of subject ",
                     sealed.subject_id(), " is gone"));
  }
  ASSIGN_OR_RETURN(std::string plain,
                   Unseal(k.key, RecordAad(sealed.subject_id(), key),
                          sealed.nonce(), sealed.ciphertext()));
  return std::optional<std::string>(std::move(plain));
}

absl::Status RocksDbEventLog::Impl::RevealPersonal(v1::RecordedEvent* event) {
  absl::ReaderMutexLock lock(&db_mu_);
  if (db_closed_) return absl::UnavailableError("the event log is closed");
  return subject_keys_->Reveal(event);
}

Head RocksDbEventLog::Impl::GetHead() {
  absl::MutexLock lock(&head_mu_);
  return head_;
}

uint64_t RocksDbEventLog::Impl::WatchHead(uint64_t position,
                                          WatchCallback ready) {
  {
    absl::MutexLock lock(&head_mu_);
    if (!watches_closed_ && head_.position < position) {
      uint64_t id = next_watch_id_++;
      watches_.emplace(std::make_pair(position, id), std::move(ready));
      watch_positions_[id] = position;
      return id;
    }
  }
  std::move(ready)();
  return 0;
}

bool RocksDbEventLog::Impl::CancelWatch(uint64_t id) {
  absl::MutexLock lock(&head_mu_);
  auto it = watch_positions_.find(id);
  if (it == watch_positions_.end()) return false;
  watches_.erase({it->second, id});
  watch_positions_.erase(it);
  return true;
}

absl::Status RocksDbEventLog::Impl::VerifyChain(uint64_t from, uint64_t to) {
  if (to == 0) to = GetHead().position;
  absl::ReaderMutexLock lock(&db_mu_);
  if (db_closed_) return absl::UnavailableError("the event log is closed");
  return VerifyChainLocked(from, to);
}

absl::Status RocksDbEventLog::Impl::WriteState() {
  absl::MutexLock lock(&head_mu_);
  return write_state_;
}

absl::StatusOr<uint64_t> RocksDbEventLog::Impl::Checkpoint(
    const std::string& dir) {
  std::error_code ec;
  if (std::filesystem::exists(dir, ec)) {
    return absl::AlreadyExistsError(
        absl::StrCat("backup directory ", dir, " already exists"));
  }
  const uint64_t head = GetHead().position;
  absl::ReaderMutexLock lock(&db_mu_);
  if (db_closed_) return absl::UnavailableError("the event log is closed");
  rocksdb::Checkpoint* raw = nullptr;
  RETURN_IF_ERROR(FromRocks(rocksdb::Checkpoint::Create(db_.get(), &raw),
                            "cannot start a checkpoint"));
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  // log_size_for_flush 0: memtables are flushed first, and the live WAL is
  // copied too, so the copy is whole and consistent across column families.
  RETURN_IF_ERROR(
      FromRocks(checkpoint->CreateCheckpoint(dir, /*log_size_for_flush=*/0),
                absl::StrCat("cannot write a checkpoint to ", dir)));
  return head;
}

absl::Status RocksDbEventLog::Impl::VerifyChainLocked(uint64_t from,
                                                      uint64_t to) {
  from = std::max<uint64_t>(from, 1);
  if (to < from) return absl::OkStatus();
  std::string prev_hash = GenesisHash();
  if (from > 1) {
    std::string value;
    RETURN_IF_ERROR(FromRocks(
        db_->Get(rocksdb::ReadOptions(), log_cf_, LogKey(from - 1), &value),
        absl::StrCat("cannot read log position ", from - 1)));
    if (value.size() < kHashBytes) {
      return absl::DataLossError(
          absl::StrCat("log record at position ", from - 1, " is malformed"));
    }
    prev_hash = value.substr(0, kHashBytes);
  }
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), log_cf_));
  uint64_t expected = from;
  for (it->Seek(LogKey(from)); it->Valid() && expected <= to; it->Next()) {
    std::optional<uint64_t> position = DecodeLogKey(View(it->key()));
    if (!position.has_value() || *position != expected) {
      return absl::DataLossError(
          absl::StrCat("log has a gap: position ", expected, " is missing"));
    }
    std::string hash;
    RETURN_IF_ERROR(
        VerifyRecordValue(View(it->value()), prev_hash, expected, &hash));
    prev_hash = std::move(hash);
    ++expected;
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "cannot read the log"));
  if (expected <= to) {
    return absl::DataLossError(
        absl::StrCat("log ends at position ", expected - 1, ", before ", to));
  }
  return absl::OkStatus();
}

void RocksDbEventLog::Impl::Close() {
  {
    absl::MutexLock lock(&queue_mu_);
    if (stopping_) return;
    stopping_ = true;
    queue_cv_.SignalAll();
  }
  if (writer_.joinable()) writer_.join();
  std::vector<WatchCallback> watches;
  {
    absl::MutexLock lock(&head_mu_);
    watches_closed_ = true;
    for (auto& [key, callback] : watches_)
      watches.push_back(std::move(callback));
    watches_.clear();
    watch_positions_.clear();
  }
  for (WatchCallback& callback : watches) std::move(callback)();
  absl::WriterMutexLock lock(&db_mu_);
  db_closed_ = true;
  if (db_ == nullptr) return;
  for (rocksdb::ColumnFamilyHandle* handle : handles_) {
    db_->DestroyColumnFamilyHandle(handle).PermitUncheckedError();
  }
  handles_.clear();
  db_->Close().PermitUncheckedError();
  db_.reset();
}

// --- RocksDbEventLog: forwards to Impl. ---

absl::StatusOr<std::unique_ptr<RocksDbEventLog>> RocksDbEventLog::Open(
    RocksDbEventLogOptions options) {
  auto impl = std::make_unique<Impl>(std::move(options));
  RETURN_IF_ERROR(impl->Open());
  return std::unique_ptr<RocksDbEventLog>(new RocksDbEventLog(std::move(impl)));
}

RocksDbEventLog::RocksDbEventLog(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}

RocksDbEventLog::~RocksDbEventLog() = default;

void RocksDbEventLog::AppendAsync(AppendRequest request, AppendCallback done) {
  impl_->AppendAsync(std::move(request), std::move(done));
}

absl::StatusOr<StreamSlice> RocksDbEventLog::ReadStream(
    absl::string_view stream, const ReadStreamOptions& options) {
  return impl_->ReadStream(stream, options);
}

absl::StatusOr<LogSlice> RocksDbEventLog::ReadAll(uint64_t from_position,
                                                  uint32_t limit,
                                                  const LogFilter& filter) {
  return impl_->ReadAll(from_position, limit, filter);
}

absl::Status RocksDbEventLog::ForEach(
    uint64_t from_position, uint64_t limit,
    absl::FunctionRef<absl::Status(const v1::RecordedEvent&)> visit,
    uint64_t* next_position) {
  return impl_->ForEach(from_position, limit, visit, next_position);
}

absl::StatusOr<std::optional<uint64_t>> RocksDbEventLog::LookupEventId(
    absl::string_view event_id) {
  return impl_->LookupEventId(event_id);
}

absl::StatusOr<std::optional<std::string>> RocksDbEventLog::GetRecord(
    absl::string_view key) {
  return impl_->GetRecord(key);
}

absl::Status RocksDbEventLog::RevealPersonal(v1::RecordedEvent* event) {
  return impl_->RevealPersonal(event);
}

Head RocksDbEventLog::GetHead() { return impl_->GetHead(); }

std::unique_ptr<ProjectionStore> RocksDbEventLog::NewProjectionStore() {
  return std::make_unique<RocksDbProjectionStore>(impl_->Handles());
}

absl::StatusOr<std::unique_ptr<AccessLogStore>>
RocksDbEventLog::NewAccessLogStore() {
  return OpenRocksDbAccessLogStore(impl_->Handles());
}

uint64_t RocksDbEventLog::WatchHead(uint64_t position, WatchCallback ready) {
  return impl_->WatchHead(position, std::move(ready));
}

bool RocksDbEventLog::CancelWatch(uint64_t id) {
  return impl_->CancelWatch(id);
}

absl::Status RocksDbEventLog::VerifyChain(uint64_t from, uint64_t to) {
  return impl_->VerifyChain(from, to);
}

absl::Status RocksDbEventLog::WriteState() { return impl_->WriteState(); }

absl::StatusOr<uint64_t> RocksDbEventLog::Checkpoint(const std::string& dir) {
  return impl_->Checkpoint(dir);
}

void RocksDbEventLog::Close() { impl_->Close(); }

}  // namespace ycr::storage
