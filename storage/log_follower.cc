#include "storage/log_follower.h"

#include <memory>

#include "absl/synchronization/notification.h"
#include "common/status_macros.h"

namespace ycr::storage {

absl::StatusOr<std::vector<v1::RecordedEvent>> LogFollower::Next(
    absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    ASSIGN_OR_RETURN(LogSlice slice,
                     log_->ReadAll(next_position_, batch_size_, filter_));
    next_position_ = slice.next_position;
    if (!slice.events.empty()) return std::move(slice.events);
    if (!slice.reached_end) continue;  // A filtered scan stopped early.
    // Caught up: wait for the head to reach next_position_.
    auto ready = std::make_shared<absl::Notification>();
    uint64_t id = log_->WatchHead(next_position_, [ready] { ready->Notify(); });
    if (!ready->WaitForNotificationWithDeadline(deadline)) {
      if (log_->CancelWatch(id)) return std::vector<v1::RecordedEvent>();
      ready->WaitForNotification();  // It is firing right now.
    }
    if (log_->GetHead().position < next_position_) {
      // Fired without progress: the log closed.
      return absl::UnavailableError("the event log is closed");
    }
  }
}

}  // namespace ycr::storage
