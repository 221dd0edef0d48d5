#pragma once

// The floor under any projection build, measured by ycr-projection-bench in
// the same run as the build: the fastest loop over the log that still reads
// and parses every event. One thread; the store opened a second time, read
// only, with its own iterator (readahead, no block cache fill); each value
// parsed where the iterator holds it (no copy) into one reused
// RecordedEvent. Nothing is applied.

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace ycr::bench {

struct ReadFloor {
  uint64_t events = 0;
  uint64_t bytes = 0;  // Stored record bytes read.
  double seconds = 0;
  double cpu_seconds = 0;  // The reading thread's CPU time.
  double events_per_second() const {
    return seconds > 0 ? events / seconds : 0;
  }
};

// Reads and parses every event of the log stored at `path` (a
// RocksDbEventLog's directory, which may be open in this process).
// DATA_LOSS for a record that does not parse or a gap in positions.
absl::StatusOr<ReadFloor> MeasureReadFloor(const std::string& path);

}  // namespace ycr::bench
