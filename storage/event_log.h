#pragma once

// EventLog: the append-only log every part of ycr stands on. This header is
// the whole contract; it names no storage engine, so a replicated backend can
// sit behind it later. RocksDbEventLog (rocksdb_event_log.h) implements it.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/tlog.h"
#include "ycr/v1/event.pb.h"

namespace ycr::storage {

// Payloads (absl::Status::GetPayload) of an ABORTED status from a failed
// version check: the stream's id and its current version, in decimal.
inline constexpr char kConflictStreamPayload[] = "ycr.v1/conflict-stream";
inline constexpr char kConflictVersionPayload[] = "ycr.v1/conflict-version";

// A call's cancellation (its client gone), for the waits it is in
// (EventLog::AwaitCurrent): Cancel() ends them at once rather than at their
// deadline. Thread-safe.
class CancelSignal {
 public:
  // Idempotent.
  void Cancel();
  bool cancelled() const { return cancelled_.load(); }
  // Calls `wake` on Cancel() (now, when already cancelled) until
  // Remove(id); once Remove returns, `wake` is not running and will not
  // run. `wake` must be quick and must not call into this signal; the
  // caller must hold no lock that `wake` takes.
  // (Const: a wait registers on a signal it may not cancel.)
  uint64_t OnCancel(std::function<void()> wake) const;
  void Remove(uint64_t id) const;

 private:
  std::atomic<bool> cancelled_{false};
  mutable absl::Mutex mu_;
  mutable uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
  mutable std::map<uint64_t, std::function<void()>> wakes_ ABSL_GUARDED_BY(mu_);
};

// What a read waits for in EventLog::AwaitCurrent.
struct AwaitCurrentOptions {
  // DEADLINE_EXCEEDED once it passes.
  absl::Time deadline = absl::InfiniteFuture();
  // A position the read must see (a query's min_position; 0: none): past
  // the current head, nothing has reached it, and the read is refused at
  // once (MinPositionBeyondHead).
  uint64_t min_position = 0;
  // CANCELLED once it is cancelled. Not owned; may be null.
  const CancelSignal* cancel = nullptr;
};

// OUT_OF_RANGE naming `min_position` and `head` (the current head: every
// append acknowledged anywhere is at or below it).
absl::Status MinPositionBeyondHead(uint64_t min_position, uint64_t head);

// CANCELLED: the call a wait was for was cancelled.
absl::Status WaitCancelled();

struct ExpectedVersion {
  enum class Kind { kAny, kNoStream, kExists, kExact };
  Kind kind = Kind::kAny;
  // For kExact: the version the stream must be at (0 = no stream).
  uint64_t version = 0;

  static ExpectedVersion Any() { return {Kind::kAny, 0}; }
  static ExpectedVersion NoStream() { return {Kind::kNoStream, 0}; }
  static ExpectedVersion Exists() { return {Kind::kExists, 0}; }
  static ExpectedVersion Exact(uint64_t v) { return {Kind::kExact, v}; }

  bool Allows(uint64_t current_version) const;
  // "any", "no stream", "exists" or "exact N".
  std::string ToString() const;
};

struct StreamCondition {
  std::string stream;
  ExpectedVersion expected;
};

// Sizes the log accepts. Defaults are the server's defaults.
struct LogLimits {
  // Serialised size of one event's payload. Default: 64 KiB.
  size_t max_payload_bytes = 64 * 1024;
  // Events in one append. Default: 500.
  size_t max_events_per_append = 500;
  // Bytes of a stream id. Default: 200.
  size_t max_stream_id_bytes = 200;
  // Conditions on other streams in one append. Default: 16.
  size_t max_conditions = 16;
  // Organisations whose keys an erasure keeps (erase_retaining): its own
  // limit, past any number of organisations that may act on one child, since
  // an erasure (or a review's DESTROY) refused at a small one would tell its
  // caller that that many organisations keep child-protection records about
  // the child. Default: 1024.
  size_t max_erase_retaining = 1024;
  // Bytes of a correlation or causation id. Default: 128.
  size_t max_id_bytes = 128;
  // Events returned by one read. Default: 1000.
  uint32_t max_read_limit = 1000;
  // Records one filtered ReadAll examines before it returns. Default: 20000.
  uint32_t max_read_scan = 20000;
  // Stored bytes of the events one read returns: a read stops once it has
  // this much (always returning at least one event) and pages on.
  // Default: 2 MiB (gRPC clients accept 4 MiB by default).
  size_t max_read_bytes = 2 << 20;
  // Bytes of events waiting for the writer. Past it, appends are refused with
  // RESOURCE_EXHAUSTED (retry later) rather than queued without bound. An
  // append arriving at an empty queue is always taken. Default: 64 MiB.
  size_t max_queued_bytes = 64 << 20;
  // Bytes one group commit takes from the queue (at least one append).
  // Default: 8 MiB.
  size_t max_batch_bytes = 8 << 20;
};

// A record of the record store: state kept beside the log rather than in
// it (a subject record, which must be erasable without touching the
// history). Written only together with an append, in the same atomic write,
// so a record never changes without the event that says so.
struct RecordWrite {
  RecordWrite() = default;
  RecordWrite(std::string key, std::string value, std::string seal_subject = "",
              bool remove = false)
      : key(std::move(key)),
        value(std::move(value)),
        seal_subject(std::move(seal_subject)),
        remove(remove) {}

  // 1..LogLimits::max_stream_id_bytes bytes.
  std::string key;
  // At most LogLimits::max_payload_bytes.
  std::string value;
  // When set, the value is stored sealed under this subject's data key
  // (created with the subject's first personal write); GetRecord opens it.
  // Refused (FAILED_PRECONDITION) for an erased subject.
  std::string seal_subject;
  // Deletes the record (plain or sealed) instead; `value` must be empty. The
  // deleted bytes are compacted out of the store's files after the write.
  bool remove = false;
};

// A condition on a plain record (RecordWrite without seal_subject): the
// append happens only if the record's value is `value` as the append is
// written (nullopt: there is no such record), counting the records of
// appends written before it. A decision that read a record conditions on
// what it read, as it does on the streams it read. A conflict is ABORTED
// with kConflictStreamPayload "record:<key>".
struct RecordCondition {
  std::string key;
  std::optional<std::string> value;
};

struct AppendRequest {
  std::string stream;
  ExpectedVersion expected;
  std::vector<StreamCondition> conditions;
  // At most LogLimits::max_conditions.
  std::vector<RecordCondition> record_conditions;
  std::vector<v1::ProposedEvent> events;
  // The authenticated caller; becomes every event's actor.
  v1::Actor actor;
  // Written if and only if the events are (at most max_conditions). An
  // idempotent retry writes nothing.
  std::vector<RecordWrite> records;
  // Crypto erasure: destroys these subjects' data keys in the same atomic
  // write as the events (which should say so: SubjectErased), and marks
  // them erased, so every personal part sealed under them reads as erased
  // and no new one can be written. After the write the keys' range is
  // compacted so the key bytes leave the store's table files.
  std::vector<std::string> erase_subjects;
  // Organisations whose child-protection keys for the erased subjects the
  // erasure keeps (they must retain those records; subject_keys.h), and
  // kKeptReviewsOwner while any is kept: every other key of the subjects is
  // destroyed. At most LogLimits::max_erase_retaining.
  std::vector<std::string> erase_retaining;
};

// The owner (in erase_retaining) of a subject's kept-reviews key, which
// seals the review date an erasure records for the records it kept
// (child_protection_kept): it must live while any organisation keeps its
// records, and go with the last. 0x01 keeps it apart from every
// organisation id (printable ASCII).
inline constexpr char kKeptReviewsOwner[] = "\x01kept-reviews";

struct AppendResult {
  // Positions of the events: first_position..last_position, contiguous.
  uint64_t first_position = 0;
  uint64_t last_position = 0;
  // Version of the stream after the last event of the append.
  uint64_t stream_version = 0;
  // True when every event had been appended before (an idempotent retry).
  bool replayed = false;
};

struct ReadStreamOptions {
  // Forwards: first version (0 = 1). Backwards: first version (0 = the last).
  uint64_t from_version = 0;
  bool backwards = false;
  // 0 = LogLimits::max_read_limit; larger values are clamped to it.
  uint32_t limit = 0;
};

struct StreamSlice {
  std::vector<v1::RecordedEvent> events;
  // The stream's current version.
  uint64_t stream_version = 0;
  // from_version for the next page; 0 when there is none.
  uint64_t next_version = 0;
};

struct LogFilter {
  // Only streams starting with this (empty: all).
  std::string stream_prefix;
  // Only these event types (empty: all).
  std::vector<std::string> event_types;

  bool Matches(const v1::RecordedEvent& event) const;
};

struct LogSlice {
  std::vector<v1::RecordedEvent> events;
  // Position after the last record examined (matching or not): from_position
  // for the next read.
  uint64_t next_position = 1;
  // True when the read examined every record that existed when it ran.
  bool reached_end = false;
};

struct Head {
  // 0 for an empty log.
  uint64_t position = 0;
  // Hash of the record at `position`; 32 zero bytes for an empty log.
  std::string hash;
};

using AppendCallback =
    absl::AnyInvocable<void(absl::StatusOr<AppendResult>) &&>;
using WatchCallback = absl::AnyInvocable<void() &&>;

class EventLog {
 public:
  virtual ~EventLog() = default;

  // Queues `request` and returns at once. Calls `done` exactly once: with the
  // result after the events are durable (or were durable already, for an
  // idempotent retry), or with an error, in which case nothing of the request
  // was written. `done` runs on the log's writer thread (or on the calling
  // thread for a request refused before queueing) and must not block.
  // Errors: INVALID_ARGUMENT (names the field), ABORTED (a version check
  // failed; names the stream and its current version), ALREADY_EXISTS (an
  // event id was used with other content), UNAVAILABLE (closed or the write
  // failed), RESOURCE_EXHAUSTED (the disk is full). After a failed write the
  // outcome is unknown: retry with the same event ids. Thread-safe.
  virtual void AppendAsync(AppendRequest request, AppendCallback done) = 0;

  // Blocking form of AppendAsync. Must not be called from a WatchCallback or
  // an AppendCallback.
  absl::StatusOr<AppendResult> Append(AppendRequest request);

  // Reads `stream` from a version. NOT_FOUND when it has no events.
  // Thread-safe.
  virtual absl::StatusOr<StreamSlice> ReadStream(
      absl::string_view stream, const ReadStreamOptions& options) = 0;

  // Reads the log forwards from `from_position` (0 = 1): at most `limit`
  // matching events (0 = the maximum), examining at most
  // LogLimits::max_read_scan records. Thread-safe.
  virtual absl::StatusOr<LogSlice> ReadAll(uint64_t from_position,
                                           uint32_t limit,
                                           const LogFilter& filter) = 0;

  // Calls `visit` with the events from `from_position` (0 = 1) in log
  // order, at most `limit` of them (0: to the end as the read finds it),
  // until `visit` returns an error, which is returned. Made for long
  // sequential reads (building projections): no page limits, and the
  // implementation may reuse the event passed to `visit` between calls.
  // `visit` may call the log's other read methods. *next_position is the
  // position after the last event visited (from_position if none).
  // Thread-safe. The default pages through ReadAll.
  virtual absl::Status ForEach(
      uint64_t from_position, uint64_t limit,
      absl::FunctionRef<absl::Status(const v1::RecordedEvent&)> visit,
      uint64_t* next_position);

  // The position of the event with this id (a UUID), or nullopt if no such
  // event was appended. INVALID_ARGUMENT for a malformed id. Thread-safe.
  virtual absl::StatusOr<std::optional<uint64_t>> LookupEventId(
      absl::string_view event_id) = 0;

  // The record stored under `key`, or nullopt. A sealed record is returned
  // opened. DATA_LOSS when a sealed record does not open. Thread-safe.
  virtual absl::StatusOr<std::optional<std::string>> GetRecord(
      absl::string_view key) = 0;

  // Gives `event` (as read from this log) its personal part back: sets
  // payload.personal from payload.encrypted_personal, opened with the
  // subject's key, or to a PersonalData with only subject_id and erased set
  // once the subject was erased. payload.encrypted_personal is kept, so the
  // stored form (and the hash) can still be checked by clearing `personal`.
  // No-op for an event without one. DATA_LOSS when the sealed part does not
  // open, or the key is missing although the subject was never erased.
  // Thread-safe. The default handles events without a sealed part only
  // (UNIMPLEMENTED otherwise).
  virtual absl::Status RevealPersonal(v1::RecordedEvent* event);

  // The log's Merkle tree (common/tlog.h, RFC 6962): leaf i (0-based) is
  // the record at position i + 1, its bytes exactly as ReadLeaf returns
  // them (the record as stored, personal parts sealed), so a subject's
  // erasure never changes a leaf and every proof still verifies after it.
  // The tree's size is the head's position; the stored hashes of a record
  // are written in the same atomic write as the record.
  //
  // Stored hashes by index (tlog::StoredHashIndex), in the order asked; each
  // index must be below tlog::StoredHashCount(GetHead().position) (NOT_FOUND
  // otherwise). Thread-safe. The default: UNIMPLEMENTED.
  virtual absl::StatusOr<std::vector<tlog::Hash>> ReadTreeHashes(
      absl::Span<const int64_t> indexes);
  // The leaf bytes of the record at `position` (1..head; NOT_FOUND past
  // the head): the deterministic serialisation of its v1::RecordedEvent as
  // stored (hash field empty, personal part sealed), which the hash chain
  // also covers. Thread-safe. The default: UNIMPLEMENTED.
  virtual absl::StatusOr<std::string> ReadLeaf(uint64_t position);

  // The last durable position and its hash. Thread-safe.
  virtual Head GetHead() = 0;

  // The position a read starting now must see: every append acknowledged
  // anywhere before this call is at or below it. Returns it once this log
  // holds it; DEADLINE_EXCEEDED at options.deadline, CANCELLED once
  // options.cancel is, UNAVAILABLE when it cannot be known, OUT_OF_RANGE
  // (MinPositionBeyondHead) at once when options.min_position is past it.
  // Reads of personal data wait here first, so that nothing erased (or
  // changed) before the read began is shown
  // (services/security/access_log.h). Thread-safe. The default (a log on
  // one node, which holds everything it acknowledged): the head, at once.
  virtual absl::StatusOr<uint64_t> AwaitCurrent(
      const AwaitCurrentOptions& options);

  // Calls `ready` once, when the head reaches `position` or the log closes.
  // If that is already so, calls it before returning and returns 0; otherwise
  // returns an id for CancelWatch. `ready` runs on the writer thread: it must
  // be quick and must not append. Thread-safe.
  virtual uint64_t WatchHead(uint64_t position, WatchCallback ready) = 0;

  // Drops a watch that has not fired. Returns false if it already fired (or
  // is firing). Thread-safe.
  virtual bool CancelWatch(uint64_t id) = 0;

  // Checks the hash chain and the gaplessness of positions from..to
  // (inclusive; to = 0 means the head). DATA_LOSS names the first bad
  // position. Thread-safe.
  virtual absl::Status VerifyChain(uint64_t from, uint64_t to) = 0;

  // Finishes queued appends, fires every watch, and closes the store. Later
  // calls return UNAVAILABLE. Idempotent. Thread-safe.
  virtual void Close() = 0;
};

// A tlog::HashReader over `log`'s stored tree hashes (ReadTreeHashes).
tlog::HashReader TreeHashReader(EventLog& log);

// RevealPersonal on each of `events` (read from `log`); the first error.
absl::Status RevealAll(EventLog& log, std::vector<v1::RecordedEvent>& events);

}  // namespace ycr::storage
