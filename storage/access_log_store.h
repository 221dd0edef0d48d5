#pragma once

// Where the access log (who read which subject's personal data) is kept:
// every entry is indexed by subject and by reader, each in time order. No
// RocksDB types here; RocksDbEventLog::NewAccessLogStore() gives the
// implementation inside the event log's store.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "ycr/v1/access_log_service.pb.h"

namespace ycr::storage {

// Where a listing resumes: the first entry at or after (at, sequence).
struct AccessCursor {
  uint64_t at_micros = 0;
  uint64_t sequence = 0;
};

// [from, to) on the entry's `at`.
struct AccessTimeRange {
  absl::Time from = absl::InfinitePast();
  absl::Time to = absl::InfiniteFuture();
};

struct AccessPage {
  std::vector<v1::AccessLogEntry> entries;
  // Where the next page starts; nullopt on the last page.
  std::optional<AccessCursor> next;
};

class AccessLogStore {
 public:
  virtual ~AccessLogStore() = default;

  // Gives each entry the next sequence numbers and writes them all, in both
  // indexes, as ONE write with a synced WAL: on OK they are durable. Each
  // entry needs `at`, `subject_id`, `organisation` and `user`. Thread-safe;
  // UNAVAILABLE after the store closed. On an error, `*entries` holds the
  // entries NOT written (all of them for a store that writes all or none;
  // a replicated store may have written a first part).
  virtual absl::Status Write(std::vector<v1::AccessLogEntry>* entries) = 0;

  // A cluster node's (replication/replicated_access_log.h): writes `entries`
  // as Write does and, in the same synced write, sets the store's mark (the
  // etcd revision of the last access batch applied) to `mark`.
  // UNIMPLEMENTED where the store keeps no mark.
  virtual absl::Status WriteReplicated(std::vector<v1::AccessLogEntry>* entries,
                                       int64_t mark) {
    (void)entries;
    (void)mark;
    return absl::UnimplementedError("this access log store keeps no mark");
  }
  // The mark WriteReplicated last wrote; 0 when none. UNIMPLEMENTED where
  // the store keeps no mark (as WriteReplicated).
  virtual absl::StatusOr<int64_t> ReplicatedMark() {
    return absl::UnimplementedError("this access log store keeps no mark");
  }

  // At most `limit` (>= 1) entries of `subject_id` within `range`, from
  // `start` (or the range's start), oldest first. Thread-safe.
  virtual absl::StatusOr<AccessPage> ListBySubject(
      absl::string_view subject_id, const AccessTimeRange& range,
      const std::optional<AccessCursor>& start, size_t limit) = 0;

  // As ListBySubject, for one reader (organisation and user).
  virtual absl::StatusOr<AccessPage> ListByReader(
      absl::string_view organisation, absl::string_view user,
      const AccessTimeRange& range, const std::optional<AccessCursor>& start,
      size_t limit) = 0;
};

}  // namespace ycr::storage
