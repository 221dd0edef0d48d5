// RocksDbEventLog, part 3 of 4 (see rocksdb_event_log_impl.h): reads (a
// stream, the whole log, event ids, records, personal parts revealed) and the
// head watches that subscriptions wait on.

#include <rocksdb/db.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "common/ids.h"
#include "common/status_macros.h"
#include "storage/append_validation.h"
#include "storage/key_format.h"
#include "storage/personal_crypto.h"
#include "storage/record_codec.h"
#include "storage/rocksdb_event_log.h"
#include "storage/rocksdb_event_log_impl.h"
#include "storage/rocksdb_internal.h"
#include "storage/subject_keys.h"

namespace ycr::storage {
namespace {

using internal::FromRocks;
using internal::View;

}  // namespace

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
  v1::RecordedEvent record;
  return ForEachStored(
      from, limit,
      [&](uint64_t position, absl::string_view stored) -> absl::Status {
        RETURN_IF_ERROR(DecodeRecord(stored, &record));
        if (record.position() != position) {
          return absl::DataLossError(
              absl::StrCat("log record at position ", position, " is missing"));
        }
        return visit(record);
      },
      next_position);
}

absl::Status RocksDbEventLog::Impl::ForEachStored(
    uint64_t from, uint64_t limit,
    absl::FunctionRef<absl::Status(uint64_t, absl::string_view)> visit,
    uint64_t* next_position) {
  // Raw records are copied out under the lock (`visit` may read the store,
  // which takes the lock again), a chunk at a time, read ahead.
  constexpr size_t kChunkBytes = 4 << 20;
  from = std::max<uint64_t>(from, 1);
  *next_position = from;
  uint64_t visited = 0;
  std::string chunk;
  std::vector<size_t> ends;
  // A long scan: read ahead, and leave the block cache to point reads.
  rocksdb::ReadOptions options;
  options.readahead_size = 2 << 20;
  options.fill_cache = false;
  for (;;) {
    chunk.clear();
    ends.clear();
    bool at_end = false;
    {
      absl::ReaderMutexLock lock(&db_mu_);
      if (db_closed_) return absl::UnavailableError("the event log is closed");
      std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options, log_cf_));
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
      RETURN_IF_ERROR(
          visit(*next_position,
                absl::string_view(chunk.data() + begin, end - begin)));
      begin = end;
      ++visited;
      ++*next_position;
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

}  // namespace ycr::storage
