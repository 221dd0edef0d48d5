#include "storage/rocksdb_access_log_store.h"

#include <rocksdb/write_batch.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "storage/key_format.h"

namespace ycr::storage {
namespace {

using internal::FromRocks;
using internal::View;

absl::Status Closed() { return absl::UnavailableError("the store is closed"); }

// Microseconds since the Unix epoch; earlier times are 0.
uint64_t Micros(absl::Time t) {
  if (t <= absl::UnixEpoch()) return 0;
  if (t == absl::InfiniteFuture()) return UINT64_MAX;
  return static_cast<uint64_t>(absl::ToUnixMicros(t));
}

class RocksDbAccessLogStore : public AccessLogStore {
 public:
  RocksDbAccessLogStore(internal::OpenDb db, uint64_t next_sequence)
      : db_(db), next_sequence_(next_sequence) {}

  absl::Status Write(std::vector<v1::AccessLogEntry>* entries) override {
    return WriteWith(entries, std::nullopt);
  }

  absl::Status WriteReplicated(std::vector<v1::AccessLogEntry>* entries,
                               int64_t mark) override {
    return WriteWith(entries, mark);
  }

  absl::StatusOr<int64_t> ReplicatedMark() override {
    absl::ReaderMutexLock lock(db_.mu);
    if (*db_.closed) return Closed();
    std::string value;
    rocksdb::Status s = db_.db->Get(rocksdb::ReadOptions(), db_.default_cf,
                                    AccessLogReplicatedKey(), &value);
    if (s.IsNotFound()) return 0;
    RETURN_IF_ERROR(FromRocks(s, "cannot read the access log's mark"));
    if (value.size() != 8) {
      return absl::DataLossError("a malformed access log mark");
    }
    return static_cast<int64_t>(GetBigEndian64(value.data()));
  }

  // Write, with the replication mark when `mark` is set.
  absl::Status WriteWith(std::vector<v1::AccessLogEntry>* entries,
                         std::optional<int64_t> mark) {
    absl::MutexLock write_lock(&write_mu_);
    absl::ReaderMutexLock lock(db_.mu);
    if (*db_.closed) return Closed();
    rocksdb::WriteBatch batch;
    uint64_t sequence = next_sequence_;
    std::string value;
    for (v1::AccessLogEntry& entry : *entries) {
      entry.set_sequence(sequence++);
      const uint64_t at = Micros(FromProtoTime(entry.at()));
      value.clear();
      if (!entry.SerializeToString(&value)) {
        return absl::InternalError("cannot serialise an access log entry");
      }
      RETURN_IF_ERROR(FromRocks(
          batch.Put(db_.access_by_subject,
                    AccessKey(AccessBySubjectPrefix(entry.subject_id()), at,
                              entry.sequence()),
                    value),
          "cannot batch an access log entry"));
      RETURN_IF_ERROR(
          FromRocks(batch.Put(db_.access_by_reader,
                              AccessKey(AccessByReaderPrefix(
                                            entry.organisation(), entry.user()),
                                        at, entry.sequence()),
                              value),
                    "cannot batch an access log entry"));
    }
    RETURN_IF_ERROR(FromRocks(
        batch.Put(db_.default_cf, AccessLogStateKey(),
                  EncodeAccessLogState(kAccessLogFormatVersion, sequence)),
        "cannot batch the access log state"));
    if (mark.has_value()) {
      std::string encoded;
      PutBigEndian64(&encoded, static_cast<uint64_t>(*mark));
      RETURN_IF_ERROR(FromRocks(
          batch.Put(db_.default_cf, AccessLogReplicatedKey(), encoded),
          "cannot batch the access log's mark"));
    }
    rocksdb::WriteOptions options;
    options.sync = true;
    RETURN_IF_ERROR(FromRocks(db_.db->Write(options, &batch),
                              "cannot write the access log"));
    next_sequence_ = sequence;
    return absl::OkStatus();
  }

  absl::StatusOr<AccessPage> ListBySubject(
      absl::string_view subject_id, const AccessTimeRange& range,
      const std::optional<AccessCursor>& start, size_t limit) override {
    return List(db_.access_by_subject, AccessBySubjectPrefix(subject_id), range,
                start, limit);
  }

  absl::StatusOr<AccessPage> ListByReader(
      absl::string_view organisation, absl::string_view user,
      const AccessTimeRange& range, const std::optional<AccessCursor>& start,
      size_t limit) override {
    return List(db_.access_by_reader, AccessByReaderPrefix(organisation, user),
                range, start, limit);
  }

 private:
  // One range scan of `prefix`'s keys from the later of `start` and the
  // range's start, to the range's end.
  absl::StatusOr<AccessPage> List(rocksdb::ColumnFamilyHandle* cf,
                                  const std::string& prefix,
                                  const AccessTimeRange& range,
                                  const std::optional<AccessCursor>& start,
                                  size_t limit) {
    std::string lower = AccessKey(prefix, Micros(range.from), 0);
    if (start.has_value()) {
      lower =
          std::max(lower, AccessKey(prefix, start->at_micros, start->sequence));
    }
    const std::string upper = range.to == absl::InfiniteFuture()
                                  ? AccessPrefixEnd(prefix)
                                  : AccessKey(prefix, Micros(range.to), 0);
    AccessPage page;
    if (lower >= upper) return page;
    const rocksdb::Slice lower_slice(lower);
    const rocksdb::Slice upper_slice(upper);
    rocksdb::ReadOptions options;
    options.iterate_lower_bound = &lower_slice;
    options.iterate_upper_bound = &upper_slice;
    absl::ReaderMutexLock lock(db_.mu);
    if (*db_.closed) return Closed();
    std::unique_ptr<rocksdb::Iterator> it(db_.db->NewIterator(options, cf));
    for (it->Seek(lower_slice); it->Valid(); it->Next()) {
      if (page.entries.size() == limit) {
        std::optional<AccessKeySuffix> next =
            DecodeAccessKeySuffix(View(it->key()));
        if (!next.has_value()) {
          return absl::DataLossError("a malformed access log key");
        }
        page.next = AccessCursor{next->at_micros, next->sequence};
        break;
      }
      if (!page.entries.emplace_back().ParseFromArray(
              it->value().data(), static_cast<int>(it->value().size()))) {
        return absl::DataLossError("a malformed access log entry");
      }
    }
    RETURN_IF_ERROR(FromRocks(it->status(), "cannot read the access log"));
    return page;
  }

  const internal::OpenDb db_;
  absl::Mutex write_mu_;
  uint64_t next_sequence_ ABSL_GUARDED_BY(write_mu_);
};

}  // namespace

absl::StatusOr<std::unique_ptr<AccessLogStore>> OpenRocksDbAccessLogStore(
    internal::OpenDb db) {
  absl::ReaderMutexLock lock(db.mu);
  if (*db.closed) return Closed();
  std::string value;
  rocksdb::Status s = db.db->Get(rocksdb::ReadOptions(), db.default_cf,
                                 AccessLogStateKey(), &value);
  uint64_t next_sequence = 1;
  if (!s.IsNotFound()) {
    RETURN_IF_ERROR(FromRocks(s, "cannot read the access log state"));
    std::optional<AccessLogState> state = DecodeAccessLogState(value);
    if (!state.has_value()) {
      return absl::DataLossError("the access log state is malformed");
    }
    if (state->format_version != kAccessLogFormatVersion) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the access log has format version ", state->format_version,
          "; this build reads format version ", kAccessLogFormatVersion));
    }
    next_sequence = state->next_sequence;
  }
  return std::unique_ptr<AccessLogStore>(
      new RocksDbAccessLogStore(db, next_sequence));
}

}  // namespace ycr::storage
