#include "storage/event_log.h"

#include <algorithm>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"

namespace ycr::storage {

bool ExpectedVersion::Allows(uint64_t current_version) const {
  switch (kind) {
    case Kind::kAny:
      return true;
    case Kind::kNoStream:
      return current_version == 0;
    case Kind::kExists:
      return current_version > 0;
    case Kind::kExact:
      return current_version == version;
  }
  return false;
}

std::string ExpectedVersion::ToString() const {
  switch (kind) {
    case Kind::kAny:
      return "any";
    case Kind::kNoStream:
      return "no stream";
    case Kind::kExists:
      return "exists";
    case Kind::kExact:
      return absl::StrCat("exact ", version);
  }
  return "unknown";
}

bool LogFilter::Matches(const v1::RecordedEvent& event) const {
  if (!absl::StartsWith(event.stream(), stream_prefix)) return false;
  if (event_types.empty()) return true;
  return std::find(event_types.begin(), event_types.end(),
                   event.event_type()) != event_types.end();
}

absl::StatusOr<AppendResult> EventLog::Append(AppendRequest request) {
  absl::Notification done;
  std::optional<absl::StatusOr<AppendResult>> out;
  AppendAsync(std::move(request), [&](absl::StatusOr<AppendResult> result) {
    out.emplace(std::move(result));
    done.Notify();
  });
  done.WaitForNotification();
  return *std::move(out);
}

}  // namespace ycr::storage
