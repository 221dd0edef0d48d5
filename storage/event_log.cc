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

absl::Status EventLog::RevealPersonal(v1::RecordedEvent* event) {
  if (!event->payload().has_encrypted_personal()) return absl::OkStatus();
  return absl::UnimplementedError("this log cannot open sealed personal data");
}

absl::StatusOr<uint64_t> EventLog::AwaitCurrent(
    const AwaitCurrentOptions& options) {
  const uint64_t head = GetHead().position;
  if (options.min_position > head) {
    return MinPositionBeyondHead(options.min_position, head);
  }
  return head;
}

void CancelSignal::Cancel() {
  absl::MutexLock lock(&mu_);
  if (cancelled_.exchange(true)) return;
  for (auto& [id, wake] : wakes_) wake();
}

uint64_t CancelSignal::OnCancel(std::function<void()> wake) const {
  absl::MutexLock lock(&mu_);
  if (cancelled_.load()) wake();
  const uint64_t id = ++next_id_;
  wakes_.emplace(id, std::move(wake));
  return id;
}

void CancelSignal::Remove(uint64_t id) const {
  absl::MutexLock lock(&mu_);
  wakes_.erase(id);
}

absl::Status MinPositionBeyondHead(uint64_t min_position, uint64_t head) {
  return absl::OutOfRangeError(absl::StrCat(
      "min_position: ", min_position, " is beyond the log's head (position ",
      head,
      "), which every acknowledged append is at or below: pass a position an "
      "append returned"));
}

absl::Status WaitCancelled() {
  return absl::CancelledError("the call was cancelled");
}

absl::Status RevealAll(EventLog& log, std::vector<v1::RecordedEvent>& events) {
  for (v1::RecordedEvent& event : events) {
    if (absl::Status s = log.RevealPersonal(&event); !s.ok()) return s;
  }
  return absl::OkStatus();
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

absl::Status EventLog::ForEach(
    uint64_t from_position, uint64_t limit,
    absl::FunctionRef<absl::Status(const v1::RecordedEvent&)> visit,
    uint64_t* next_position) {
  uint64_t next = std::max<uint64_t>(from_position, 1);
  *next_position = next;
  uint64_t visited = 0;
  while (limit == 0 || visited < limit) {
    const uint64_t left = limit == 0 ? 0 : limit - visited;
    absl::StatusOr<LogSlice> slice = ReadAll(
        next, static_cast<uint32_t>(std::min<uint64_t>(left, 1000)), {});
    if (!slice.ok()) return slice.status();
    for (const v1::RecordedEvent& event : slice->events) {
      if (absl::Status s = visit(event); !s.ok()) return s;
      ++visited;
      *next_position = event.position() + 1;
    }
    next = slice->next_position;
    if (slice->events.empty() || slice->reached_end) break;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<tlog::Hash>> EventLog::ReadTreeHashes(
    absl::Span<const int64_t> /*indexes*/) {
  return absl::UnimplementedError("this log keeps no Merkle tree");
}

absl::StatusOr<std::string> EventLog::ReadLeaf(uint64_t /*position*/) {
  return absl::UnimplementedError("this log keeps no Merkle tree");
}

tlog::HashReader TreeHashReader(EventLog& log) {
  return [&log](absl::Span<const int64_t> indexes) {
    return log.ReadTreeHashes(indexes);
  };
}

}  // namespace ycr::storage
