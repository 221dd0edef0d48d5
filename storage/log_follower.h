#pragma once

// LogFollower: reads the log from a position on, catching up from storage and
// then following live appends, with no gap and no duplicate at the switch
// (it only ever reads durable records by position, and waits on the head).

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "storage/event_log.h"

namespace ycr::storage {

class LogFollower {
 public:
  // `log` must outlive the follower. Not thread-safe: one consumer.
  LogFollower(EventLog* log, uint64_t from_position, LogFilter filter,
              uint32_t batch_size = 256)
      : log_(log),
        next_position_(from_position == 0 ? 1 : from_position),
        filter_(std::move(filter)),
        batch_size_(batch_size) {}

  // The next matching events in log order. Waits up to `timeout` for new
  // ones when caught up, then returns an empty batch. UNAVAILABLE once the
  // log is closed and everything has been read.
  absl::StatusOr<std::vector<v1::RecordedEvent>> Next(absl::Duration timeout);

  // The first position not yet examined.
  uint64_t next_position() const { return next_position_; }

 private:
  EventLog* log_;
  uint64_t next_position_;
  LogFilter filter_;
  uint32_t batch_size_;
};

}  // namespace ycr::storage
