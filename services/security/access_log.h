#pragma once

// The access log's write side: every read of a subject's personal data
// leaves one entry (who, role, organisation, which subject, which view,
// when, purpose if given, outcome). PersonalDataViews() is the one list of
// the views that count.
//
// Reads must not wait for a disk: a handler enqueues its entries in memory
// (AccessRecorder::Record) and a background writer flushes them to the
// store in one synced write at least every flush_interval, or sooner when
// flush_entries are waiting; so an entry is durable within flush_interval
// (1 s) of its read. A system of record does not drop entries: when the
// queue is full the read is refused with UNAVAILABLE (the data is not
// shown) and counted, and a failed write keeps its entries queued and is
// retried; until a write succeeds again, every read is refused too (a
// store that cannot write, such as a cluster node's when etcd has no
// majority, never lets reads go on unlogged). Stop() (graceful shutdown)
// writes everything queued.

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "storage/access_log_store.h"
#include "storage/event_log.h"
#include "ycr/v1/event.pb.h"

namespace ycr::services {

// Request metadata naming why the caller reads: one of the codes of
// domain::AccessPurposeCodes() ("case-work", "review", ...), never free
// text. Optional. No code is longer than kMaxPurposeBytes.
inline constexpr char kPurposeMetadata[] = "x-ycr-purpose";
inline constexpr size_t kMaxPurposeBytes = 200;

// One RPC that shows a subject's personal data.
struct PersonalDataView {
  // "/ycr.v1.Subjects/GetRecord".
  std::string method;
  // Short name written in each entry ("subject_record").
  std::string view;
};

// Every RPC that reads a subject's personal data; each of them records one
// entry per subject it reached (see access_log.cc for what each counts and
// for the reads that do not count).
const std::vector<PersonalDataView>& PersonalDataViews();

// The view name of `method`; "" when it is not in PersonalDataViews().
absl::string_view PersonalViewName(absl::string_view method);

// The message of a read refused because the access log cannot be written:
// the rule, never the store's own error (which names, on a cluster node,
// etcd's endpoints); that goes to the server's log.
inline constexpr char kAccessLogUnwritable[] =
    "this read is refused because it cannot be logged: every read of personal "
    "data is logged before it is shown, and the access log cannot be written "
    "now; retry shortly";

struct AccessLogOptions {
  // Off: no entries are recorded (benchmarks compare with and without).
  // Default: true.
  bool enabled = true;
  // Entries waiting to be written; a read whose entries do not fit is
  // refused with UNAVAILABLE. Default: 65536.
  size_t capacity = 65536;
  // A flush starts as soon as this many entries wait. Default: 1024.
  size_t flush_entries = 1024;
  // No entry waits longer than this before its flush starts. Default: 1 s.
  absl::Duration flush_interval = absl::Seconds(1);
  // Decides when a flush is due (not the entries' times, which come from
  // the server's clock). Not owned. Default: SystemClock().
  Clock* flush_clock = nullptr;
  // Where a failed write's cause is logged (access_log.write_failed, once
  // per failure, and access_log.write_recovered). Not owned; may be null.
  Logger* logger = nullptr;
  // Run the background writer. Tests turn it off and call Tick() or Flush()
  // themselves. Default: true.
  bool background = true;
  // Before a read of personal data runs (ReadAccess::AwaitCurrent): the
  // position it must see, once this node holds it, by the call's deadline,
  // ended early when the call is cancelled, and OUT_OF_RANGE for a
  // min_position past it (storage::EventLog::AwaitCurrent: a cluster node
  // asks etcd, so that nothing erased or changed before the read began is
  // shown). Null: no wait (0).
  std::function<absl::StatusOr<uint64_t>(
      const storage::AwaitCurrentOptions& wait)>
      await_current;
  // Where those waits run (AccessRecorder::RunWaiting): threads of their
  // own, so that reads waiting for this node to catch up (a follower held
  // back, etcd slow or gone), however many a caller sends, hold none of
  // the threads serving other reads. Null: on the calling thread.
  std::function<void(absl::AnyInvocable<void() &&> wait)> run_waiting;
};

class AccessRecorder {
 public:
  // `store` must outlive the recorder; `clock` stamps entries; `metrics`
  // (may be null) gets ycr_access_log_* counters, the queue-depth gauge and
  // the flush-time histogram. Starts the writer when options.background.
  AccessRecorder(storage::AccessLogStore* store, Clock* clock,
                 AccessLogOptions options, MetricRegistry* metrics);
  // Stop().
  ~AccessRecorder();

  // Queues one entry per subject in `subjects`, all or none. UNAVAILABLE
  // (counted in ycr_access_log_refused_total) when they do not fit, the
  // last write failed, or the recorder has stopped. Thread-safe; never waits
  // for the disk.
  absl::Status Record(const v1::Actor& caller, absl::string_view method,
                      absl::string_view purpose,
                      const std::vector<std::string>& subjects,
                      absl::StatusCode outcome);

  // Flushes if one is due: flush_entries waiting, or the oldest entry queued
  // flush_interval ago or more by the flush clock (a poll interval less
  // with the background writer on, so that it is never late). The store's error
  // when the write fails (the entries stay queued). Thread-safe.
  absl::Status Tick();

  // Writes everything queued now. Thread-safe.
  absl::Status Flush();

  // Stops the writer and writes everything queued; later Record() calls are
  // refused. Idempotent.
  void Stop();

  // Entries waiting. Thread-safe.
  size_t queued() const;

  // options.await_current(wait), or 0 without it; DEADLINE_EXCEEDED once
  // wait.deadline has passed, CANCELLED once wait.cancel is. Thread-safe.
  absl::StatusOr<uint64_t> AwaitCurrent(
      const storage::AwaitCurrentOptions& wait) const;

  // Runs `wait` (which calls AwaitCurrent) through options.run_waiting, or
  // now on this thread without it. Thread-safe.
  void RunWaiting(absl::AnyInvocable<void() &&> wait) const;

  // Waits until `entries` entries in all have been written, or `timeout`
  // passes (real time); whether they have. Thread-safe.
  bool AwaitWritten(uint64_t entries, absl::Duration timeout) const;

 private:
  void WriterLoop();
  absl::Status FlushIf(bool only_when_due);
  bool DueLocked() const ABSL_SHARED_LOCKS_REQUIRED(mu_);

  storage::AccessLogStore* const store_;
  Clock* const clock_;
  const AccessLogOptions options_;
  Clock* const flush_clock_;
  // Age of the oldest entry at which a flush is due.
  const absl::Duration due_after_;
  Counter* written_ = nullptr;
  Counter* refused_ = nullptr;
  Counter* write_errors_ = nullptr;
  Histogram* flush_seconds_ = nullptr;

  // Held by the one flush running, so entries reach the store in order.
  absl::Mutex flush_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  mutable absl::Mutex mu_;
  std::deque<v1::AccessLogEntry> queue_ ABSL_GUARDED_BY(mu_);
  // When the oldest queued entry was queued (flush clock).
  absl::Time oldest_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // The last write's error, until a write succeeds.
  absl::Status failing_ ABSL_GUARDED_BY(mu_);
  uint64_t written_total_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread writer_;
};

// One call's reads of personal data: the handler names each subject it
// reached (Saw), then Commit records them with the call's outcome. With no
// recorder it records nothing.
class ReadAccess {
 public:
  // The longest a read waits in AwaitCurrent, whatever its deadline.
  static constexpr absl::Duration kMaxCurrentWait = absl::Seconds(10);

  // Takes the method from the call (set by the server's interceptor) and the
  // purpose from kPurposeMetadata: INVALID_ARGUMENT naming x-ycr-purpose
  // and the codes when the purpose is not one of them. `recorder` may be null;
  // it must outlive this.
  static absl::StatusOr<ReadAccess> Begin(
      AccessRecorder* recorder, const grpc::ServerContextBase& context);

  void Saw(const std::string& subject_id);

  // Before the call reads anything: the log position its reads must
  // reflect, once this node holds it (AccessRecorder::AwaitCurrent, by the
  // call's deadline, at most kMaxCurrentWait from Begin; CANCELLED at once
  // after Cancel()). A projection query waits for its projection to reach
  // it too, and passes its `min_position`: past that position (nothing
  // acknowledged has reached it), OUT_OF_RANGE at once. 0 with no recorder.
  absl::StatusOr<uint64_t> AwaitCurrent(uint64_t min_position = 0) const;
  // The same wait again for a call that reads on (a subscription's next
  // batch): by kMaxCurrentWait from now, not from Begin.
  absl::StatusOr<uint64_t> AwaitCurrentAgain() const;

  // Ends AwaitCurrent's wait, now or later (CANCELLED): for the call's
  // OnCancel (its client gone). Thread-safe.
  void Cancel() const { cancel_->Cancel(); }
  // The signal Cancel() sets, for a reactor that outlives this object's
  // moves.
  const std::shared_ptr<storage::CancelSignal>& cancel_signal() const {
    return cancel_;
  }

  // Runs `wait` where waits for AwaitCurrent run (AccessRecorder::
  // RunWaiting): `wait` calls AwaitCurrent, then hands the rest of the
  // read to its pool. Now on this thread with no recorder. The read must
  // outlive `wait`'s run.
  void RunWaiting(absl::AnyInvocable<void() &&> wait) const;

  // Records one entry per subject seen since the last Commit, with
  // `result`'s code as the outcome, and returns `result`; UNAVAILABLE instead
  // when the access log refused them (the caller must not then show the
  // data). Nothing is recorded when no subject was seen.
  absl::Status Commit(const v1::Actor& caller, absl::Status result);

 private:
  ReadAccess(AccessRecorder* recorder, std::string method, std::string purpose,
             absl::Time deadline)
      : recorder_(recorder),
        method_(std::move(method)),
        purpose_(std::move(purpose)),
        deadline_(deadline) {}

  AccessRecorder* recorder_;
  std::string method_;
  std::string purpose_;
  absl::Time deadline_;
  // Shared with the waits in AwaitCurrent, which may outlive a move.
  std::shared_ptr<storage::CancelSignal> cancel_ =
      std::make_shared<storage::CancelSignal>();
  std::vector<std::string> seen_;
  absl::flat_hash_set<std::string> seen_set_;
};

}  // namespace ycr::services
