#pragma once

// Shared by the RocksDB-backed parts of storage (the event log, the
// projection store and the access-log store, which live in one RocksDB
// instance): the event log opens the store and hands the others its handles
// (OpenDb); none of them reaches back into the event log. Not part of any
// public interface.

#include <rocksdb/db.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace ycr::storage::internal {

// Debian's abseil has its own string_view, distinct from std::string_view.
inline absl::string_view View(const rocksdb::Slice& s) {
  return {s.data(), s.size()};
}
inline rocksdb::Slice Slice(absl::string_view s) {
  return {s.data(), s.size()};
}

// RocksDB status -> absl::Status, prefixed with `what`: NoSpace is
// RESOURCE_EXHAUSTED; Corruption and NotFound (callers handle NotFound where
// absence is normal) DATA_LOSS; anything else UNAVAILABLE.
absl::Status FromRocks(const rocksdb::Status& s, absl::string_view what);

// The open store, as the projection store sees it. `mu` is held shared
// while the handles are used; `closed` (guarded by `mu`) says they are gone.
struct OpenDb {
  rocksdb::DB* db = nullptr;
  rocksdb::ColumnFamilyHandle* projections = nullptr;
  rocksdb::ColumnFamilyHandle* checkpoints = nullptr;
  absl::Mutex* mu = nullptr;
  const bool* closed = nullptr;
  // For the access log store (RocksDbEventLog::NewAccessLogStore).
  rocksdb::ColumnFamilyHandle* default_cf = nullptr;
  rocksdb::ColumnFamilyHandle* access_by_subject = nullptr;
  rocksdb::ColumnFamilyHandle* access_by_reader = nullptr;
};

}  // namespace ycr::storage::internal
