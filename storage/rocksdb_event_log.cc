// RocksDbEventLog, part 1 of 4 (see rocksdb_event_log_impl.h): opening the
// store (column families, format version, the head and the tail of the chain
// and the tree verified), verifying them, probing the filesystem before a
// resume, checkpoints, closing; and RocksDbEventLog's forwarding to its Impl.

#include "storage/rocksdb_event_log.h"

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/listener.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>

#include <cstdarg>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "storage/key_format.h"
#include "storage/personal_crypto.h"
#include "storage/record_codec.h"
#include "storage/rocksdb_access_log_store.h"
#include "storage/rocksdb_event_log_impl.h"
#include "storage/rocksdb_internal.h"
#include "storage/rocksdb_projection_store.h"
#include "storage/subject_keys.h"

namespace ycr::storage {
namespace {

using internal::FromRocks;
using internal::View;

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

}  // namespace

RocksDbEventLog::Impl::Impl(RocksDbEventLogOptions options)
    : options_(std::move(options)),
      clock_(options_.clock != nullptr ? options_.clock : &SystemClock()),
      logger_(options_.logger != nullptr ? options_.logger : &DefaultLogger()),
      metrics_(options_.metrics),
      versions_(options_.stream_cache_entries) {}

absl::Status RocksDbEventLog::Impl::Open() {
  if (options_.replication != nullptr &&
      options_.cluster_kek.size() != kClusterKekBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("cluster_kek: a replicated log needs a key of ",
                     kClusterKekBytes, " bytes"));
  }
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
    if (bloom) {
      table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
      // Point reads of keys not in the memtable (a new event id, a record
      // never written) skip its skip list: a bloom filter of whole keys,
      // 2% of the memtable's size, in memory only.
      cf.memtable_prefix_bloom_size_ratio = 0.02;
      cf.memtable_whole_key_filtering = true;
    }
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
      {kTreeColumnFamily, cf_options(false)},
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
    if (handle->GetName() == kTreeColumnFamily) tree_cf_ = handle;
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
  {
    // The tail's chain and tree are checked, and the tree's frontier kept
    // for the writer (read from the store when nothing is checked).
    uint64_t from = head.position + 1;
    if (head.position > 0 && options_.verify_tail_records > 0) {
      from = head.position > options_.verify_tail_records
                 ? head.position - options_.verify_tail_records + 1
                 : 1;
    }
    absl::ReaderMutexLock lock(&db_mu_);
    RETURN_IF_ERROR(VerifyChainLocked(from, head.position, &tree_));
  }
  next_position_ = head.position + 1;
  last_hash_ = head.hash;
  absl::MutexLock lock(&head_mu_);
  head_ = std::move(head);
  return absl::OkStatus();
}

absl::Status RocksDbEventLog::Impl::VerifyChain(uint64_t from, uint64_t to) {
  if (to == 0) to = GetHead().position;
  absl::ReaderMutexLock lock(&db_mu_);
  if (db_closed_) return absl::UnavailableError("the event log is closed");
  return VerifyChainLocked(from, to);
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

absl::Status RocksDbEventLog::Impl::CompactStore(std::atomic<bool>* canceled) {
  absl::ReaderMutexLock lock(&db_mu_);
  if (db_closed_) return absl::UnavailableError("the event log is closed");
  rocksdb::CompactRangeOptions options;
  options.bottommost_level_compaction =
      rocksdb::BottommostLevelCompaction::kForceOptimized;
  options.canceled = canceled;
  for (rocksdb::ColumnFamilyHandle* cf : handles_) {
    rocksdb::Status s = db_->CompactRange(options, cf, nullptr, nullptr);
    if (canceled != nullptr && canceled->load()) return absl::OkStatus();
    RETURN_IF_ERROR(
        FromRocks(s, absl::StrCat("cannot compact ", cf->GetName())));
  }
  return absl::OkStatus();
}

uint64_t RocksDbEventLog::Impl::RunningCompactions() {
  absl::ReaderMutexLock lock(&db_mu_);
  uint64_t running = 0;
  if (db_closed_ ||
      !db_->GetIntProperty(rocksdb::DB::Properties::kNumRunningCompactions,
                           &running)) {
    return 0;
  }
  return running;
}

absl::Status RocksDbEventLog::Impl::VerifyChainLocked(uint64_t from,
                                                      uint64_t to,
                                                      LogTree* tree_at_to) {
  from = std::max<uint64_t>(from, 1);
  if (to < from) {
    if (tree_at_to != nullptr) {
      ASSIGN_OR_RETURN(*tree_at_to, LoadTreeLocked(to));
    }
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(LogTree start, LoadTreeLocked(from - 1));
  internal::TreeChecker tree(db_.get(), tree_cf_, std::move(start));
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
    RETURN_IF_ERROR(tree.Check(expected, View(it->value()).substr(kHashBytes)));
    prev_hash = std::move(hash);
    ++expected;
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "cannot read the log"));
  if (expected <= to) {
    return absl::DataLossError(
        absl::StrCat("log ends at position ", expected - 1, ", before ", to));
  }
  if (tree_at_to != nullptr) *tree_at_to = tree.tree();
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

absl::Status RocksDbEventLog::ApplyReplicated(const v1::ReplicatedEntry& entry,
                                              absl::string_view checkpoint) {
  return impl_->ApplyReplicated(entry, checkpoint);
}

absl::StatusOr<std::optional<std::string>>
RocksDbEventLog::ReplicationCheckpoint() {
  return impl_->ReplicationCheckpoint();
}

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

absl::Status RocksDbEventLog::ForEachStored(
    uint64_t from_position, uint64_t limit,
    absl::FunctionRef<absl::Status(uint64_t, absl::string_view)> visit,
    uint64_t* next_position) {
  return impl_->ForEachStored(from_position, limit, visit, next_position);
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

absl::StatusOr<std::vector<tlog::Hash>> RocksDbEventLog::ReadTreeHashes(
    absl::Span<const int64_t> indexes) {
  return impl_->ReadTreeHashes(indexes);
}

absl::StatusOr<std::string> RocksDbEventLog::ReadLeaf(uint64_t position) {
  return impl_->ReadLeaf(position);
}

absl::Status RocksDbEventLog::WriteState() { return impl_->WriteState(); }

absl::StatusOr<uint64_t> RocksDbEventLog::Checkpoint(const std::string& dir) {
  return impl_->Checkpoint(dir);
}

absl::Status RocksDbEventLog::CompactStore(std::atomic<bool>* canceled) {
  return impl_->CompactStore(canceled);
}

uint64_t RocksDbEventLog::RunningCompactions() {
  return impl_->RunningCompactions();
}

void RocksDbEventLog::Close() { impl_->Close(); }

}  // namespace ycr::storage
