#include "projections/runner.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace ycr::projections {

ProjectionRunner::ProjectionRunner(storage::EventLog* log,
                                   storage::ProjectionStore* store,
                                   Projection* projection, uint32_t generation,
                                   RunnerOptions options)
    : log_(log),
      store_(store),
      projection_(projection),
      generation_(generation),
      options_(options) {}

ProjectionRunner::~ProjectionRunner() { Stop(); }

absl::Status ProjectionRunner::Start(CommitListener on_commit,
                                     StopListener on_stop) {
  ASSIGN_OR_RETURN(std::optional<storage::ProjectionCheckpoint> checkpoint,
                   store_->ReadCheckpoint(projection_->name(), generation_));
  if (checkpoint.has_value() &&
      checkpoint->code_version != projection_->code_version()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "projection ", projection_->name(), " generation ", generation_,
        " was written by code version ", checkpoint->code_version,
        ", this is version ", projection_->code_version(), "; rebuild it"));
  }
  {
    absl::MutexLock lock(&mu_);
    if (running_ || stop_) {
      return absl::FailedPreconditionError("the runner was started before");
    }
    applied_ = checkpoint.has_value() ? checkpoint->position : 0;
    running_ = true;
  }
  on_commit_ = std::move(on_commit);
  on_stop_ = std::move(on_stop);
  absl::MutexLock lock(&join_mu_);
  thread_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

void ProjectionRunner::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  {
    absl::MutexLock lock(&wake_->mu);
    wake_->stop = true;
  }
  absl::MutexLock lock(&join_mu_);
  if (thread_.joinable()) thread_.join();
}

uint64_t ProjectionRunner::applied() const {
  absl::MutexLock lock(&mu_);
  return applied_;
}

absl::Status ProjectionRunner::status() const {
  absl::MutexLock lock(&mu_);
  return status_;
}

absl::Status ProjectionRunner::retrying() const {
  absl::MutexLock lock(&mu_);
  return retrying_;
}

void ProjectionRunner::WaitToRetry() {
  absl::MutexLock lock(&wake_->mu);
  Wake* w = wake_.get();
  auto stopping = [w]() ABSL_SHARED_LOCKS_REQUIRED(w->mu) { return w->stop; };
  wake_->mu.AwaitWithTimeout(absl::Condition(&stopping), options_.retry_delay);
}

absl::Status ProjectionRunner::WaitFor(uint64_t position,
                                       absl::Time deadline) const {
  absl::MutexLock lock(&mu_);
  auto done = [this, position]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return applied_ >= position || !running_;
  };
  mu_.AwaitWithDeadline(absl::Condition(&done), deadline);
  if (applied_ >= position) return absl::OkStatus();
  if (!running_) {
    return absl::UnavailableError(absl::StrCat(
        "projection ", projection_->name(), " stopped at position ", applied_,
        status_.ok() ? "" : absl::StrCat(": ", status_.message())));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("projection ", projection_->name(), " has applied position ",
                   applied_, ", not yet ", position, ", by the deadline"));
}

void ProjectionRunner::Run() {
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      if (stop_) break;
    }
    if (options_.before_step) options_.before_step(projection_->name());
    bool idle = false;
    absl::Status s = Step(&idle);
    if (absl::IsUnavailable(s) || absl::IsResourceExhausted(s)) {
      // The store cannot read or write for now (a full disk): nothing of
      // the failed run is committed, so try again from the checkpoint.
      DropBuildBatch();
      {
        absl::MutexLock lock(&mu_);
        retrying_ = s;
      }
      WaitToRetry();
      continue;
    }
    if (!s.ok()) {
      absl::MutexLock lock(&mu_);
      status_ = s;
      break;
    }
    {
      absl::MutexLock lock(&mu_);
      retrying_ = absl::OkStatus();
    }
    if (idle) WaitForAppend();
  }
  {
    absl::MutexLock lock(&mu_);
    running_ = false;
  }
  if (on_stop_) on_stop_();
}

absl::Status ProjectionRunner::ApplyOne(const v1::RecordedEvent& event,
                                        storage::ProjectionBatch& batch) {
  if (absl::Status s = projection_->Apply(event, batch); !s.ok()) {
    return absl::Status(
        s.code(), absl::StrCat("projection ", projection_->name(),
                               " cannot apply position ", event.position(),
                               ": ", s.message()));
  }
  return absl::OkStatus();
}

void ProjectionRunner::CompactIfBuilt(bool reached_head) {
  if (!reached_head || !building_from_start_) return;
  building_from_start_ = false;
  // An optimisation: a failure leaves the files to background compaction.
  if (options_.compact_after_build) {
    store_->CompactGeneration(projection_->name(), generation_).IgnoreError();
  }
}

void ProjectionRunner::DropBuildBatch() {
  build_batch_ = nullptr;
  spilled_through_ = 0;  // Spills go with their batch.
}

absl::Status ProjectionRunner::BuildStep(bool* idle) {
  if (build_batch_ == nullptr) {
    DropBuildBatch();
    build_batch_ = store_->NewBuildBatch(projection_->name(), generation_,
                                         options_.build_cache_bytes);
  }
  const uint64_t applied_before = applied();
  const uint64_t from = std::max(applied_before, spilled_through_) + 1;
  if (from == 1) building_from_start_ = true;
  uint64_t last = from - 1;
  // Set when the run ends before the head: the batch is full or the runner
  // is stopping.
  bool cut = false;
  bool stopping = false;
  uint64_t next = from;
  auto visit = [&](const v1::RecordedEvent& event) -> absl::Status {
    RETURN_IF_ERROR(ApplyOne(event, *build_batch_));
    last = event.position();
    cut = build_batch_->staged_bytes() >= options_.build_batch_bytes;
    if (!cut && (last - from) % 4096 == 4095) {
      absl::MutexLock lock(&mu_);
      cut = stopping = stop_;
    }
    // Ends the read; not an error.
    return cut ? absl::CancelledError() : absl::OkStatus();
  };
  absl::Status read = options_.shared_reader != nullptr
                          ? options_.shared_reader->ForEach(from, visit, &next)
                          : log_->ForEach(from, 0, visit, &next);
  if (!read.ok() && !cut) {
    DropBuildBatch();
    return read;
  }
  const bool reached_end = !cut;
  if (last == applied_before) {
    *idle = true;
    if (on_commit_) on_commit_(last, true);
    return absl::OkStatus();
  }
  if (cut && !stopping && building_from_start_) {
    // Building from position 1, short of the head: set the run aside, to
    // be written with the rest as one sorted run of the generation.
    absl::StatusOr<bool> spilled = store_->Spill(*build_batch_);
    if (!spilled.ok()) {
      DropBuildBatch();
      return spilled.status();
    }
    if (*spilled) {
      spilled_through_ = last;
      if (on_commit_) on_commit_(last, false);
      return absl::OkStatus();
    }
  }
  if (absl::Status s = store_->Commit(
          *build_batch_,
          storage::ProjectionCheckpoint{last, projection_->code_version()});
      !s.ok()) {
    DropBuildBatch();
    return s;
  }
  spilled_through_ = 0;
  CompactIfBuilt(reached_end);
  {
    absl::MutexLock lock(&mu_);
    applied_ = last;
    retrying_ = absl::OkStatus();  // Committed: no longer failing.
  }
  if (on_commit_) on_commit_(last, reached_end);
  return absl::OkStatus();
}

absl::Status ProjectionRunner::Step(bool* idle) {
  // Spilled runs are committed by the build batch that holds them.
  if (spilled_through_ > applied()) return BuildStep(idle);
  const uint64_t from = applied() + 1;
  const uint64_t head = log_->GetHead().position;
  if (options_.build_min_events > 0 && head >= from &&
      head - from + 1 >= options_.build_min_events) {
    return BuildStep(idle);
  }
  // Near the head: small commits, reading the store directly.
  DropBuildBatch();
  ASSIGN_OR_RETURN(
      storage::LogSlice slice,
      log_->ReadAll(from, options_.batch_events, storage::LogFilter()));
  if (slice.events.empty()) {
    *idle = true;
    if (on_commit_) on_commit_(from - 1, true);
    return absl::OkStatus();
  }
  std::unique_ptr<storage::ProjectionBatch> batch =
      store_->NewBatch(projection_->name(), generation_);
  uint64_t last = from - 1;
  bool whole_slice = true;
  for (const v1::RecordedEvent& event : slice.events) {
    RETURN_IF_ERROR(ApplyOne(event, *batch));
    last = event.position();
    if (batch->staged_bytes() >= options_.max_batch_bytes &&
        last != slice.events.back().position()) {
      whole_slice = false;
      break;
    }
  }
  RETURN_IF_ERROR(store_->Commit(
      *batch,
      storage::ProjectionCheckpoint{last, projection_->code_version()}));
  CompactIfBuilt(whole_slice && slice.reached_end);
  {
    absl::MutexLock lock(&mu_);
    applied_ = last;
    retrying_ = absl::OkStatus();  // Committed: no longer failing.
  }
  if (on_commit_) on_commit_(last, whole_slice && slice.reached_end);
  return absl::OkStatus();
}

void ProjectionRunner::WaitForAppend() {
  const uint64_t next = applied() + 1;
  {
    absl::MutexLock lock(&wake_->mu);
    wake_->woken = false;
  }
  const uint64_t watch = log_->WatchHead(next, [wake = wake_] {
    absl::MutexLock lock(&wake->mu);
    wake->woken = true;
  });
  bool woken;
  {
    absl::MutexLock lock(&wake_->mu);
    Wake* w = wake_.get();
    auto ready = [w]() ABSL_SHARED_LOCKS_REQUIRED(w->mu) {
      return w->woken || w->stop;
    };
    wake_->mu.Await(absl::Condition(&ready));
    woken = wake_->woken;
  }
  // Stopping: drop the watch (the callback holds its own reference to
  // wake_, so one that is firing now is harmless).
  if (!woken && watch != 0) log_->CancelWatch(watch);
}

}  // namespace ycr::projections
