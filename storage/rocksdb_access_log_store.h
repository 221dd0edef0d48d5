#pragma once

// AccessLogStore in the event log's RocksDB instance (see key_format.h for
// its keys). Internal to storage: created by
// RocksDbEventLog::NewAccessLogStore().

#include <memory>

#include "absl/status/statusor.h"
#include "storage/access_log_store.h"
#include "storage/rocksdb_internal.h"

namespace ycr::storage {

// Checks the access log's format version (writing it into a new store) and
// reads the next sequence number. FAILED_PRECONDITION for an unknown
// version; DATA_LOSS for a malformed state record.
absl::StatusOr<std::unique_ptr<AccessLogStore>> OpenRocksDbAccessLogStore(
    internal::OpenDb db);

}  // namespace ycr::storage
