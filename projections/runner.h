#pragma once

// ProjectionRunner: runs one generation of one projection on its own thread.
// From the generation's checkpoint it reads the log in order, applies a run
// of events, and commits their state changes with the new checkpoint in one
// write (building a generation from position 1, it sets runs aside and
// commits them all at the head; a stop noticed inside a run commits them
// with it, a stop between runs drops them, as a crash would, and the build
// starts again); once at the head it waits for the next append
// (EventLog::WatchHead). A crash (or a failed commit) leaves
// state and checkpoint together, so a new runner neither skips nor repeats an
// event. A read or commit that fails with UNAVAILABLE or RESOURCE_EXHAUSTED (a
// full or failing disk) is retried from the checkpoint every retry_delay, the
// error showing in retrying() and the lag growing meanwhile; any other error
// stops the runner.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "projections/projection.h"
#include "projections/shared_reader.h"
#include "storage/event_log.h"
#include "storage/projection_store.h"

namespace ycr::projections {

struct RunnerOptions {
  // Events read and applied per commit. Default: 1000.
  uint32_t batch_events = 1000;
  // A commit is made once this much state is staged. Default: 4 MiB.
  size_t max_batch_bytes = 4 << 20;
  // A runner this many events (or more) behind the head catches up in
  // build batches (ProjectionStore::NewBuildBatch): long runs of events,
  // state cached in memory, bulk commits. 0: never. Default: 10000.
  uint64_t build_min_events = 10000;
  // Catching up, a commit is made once this much state is staged, or at the
  // head. Default: 64 MiB.
  size_t build_batch_bytes = 64 << 20;
  // Catching up, state read is kept in memory across commits, up to about
  // this much. Default: 256 MiB.
  size_t build_cache_bytes = 256 << 20;
  // After building from position 1 to the head in build batches, compact
  // the generation (ProjectionStore::CompactGeneration) before reporting
  // the head, so that it serves from settled files at once rather than
  // once background compaction has caught up. It nearly doubles the time
  // of a rebuild. Default: false.
  bool compact_after_build = false;
  // Catching up, the log is read through this reader (not owned; null: the
  // runner reads the log itself), which decodes each event once for every
  // runner catching up at the same time. Set by ProjectionHost.
  SharedLogReader* shared_reader = nullptr;
  // ProjectionHost: give the runners one shared reader (unless
  // shared_reader names one). Default: true.
  bool share_reads = true;
  // The options of that reader (its chunks' size, how many it keeps).
  SharedReaderOptions shared_reader_options;
  // After a read or commit fails with UNAVAILABLE or RESOURCE_EXHAUSTED,
  // how long the runner waits before trying again from its checkpoint.
  // Default: 1 s.
  absl::Duration retry_delay = absl::Seconds(1);
  // Failure injection for tests: called on the runner's thread with the
  // projection's name before each step that reads the log (it may block,
  // holding this projection back). Null: none.
  std::function<void(const std::string& projection)> before_step;
};

class ProjectionRunner {
 public:
  // Called on the runner's thread after each commit, and each time it finds
  // nothing more to read, with the position applied and whether that was
  // the head of the log at the time; also after each spill of a build from
  // position 1 (ProjectionStore::Spill), with the position spilled (not
  // applied() yet: nothing of it is committed) and false.
  using CommitListener =
      std::function<void(uint64_t applied, bool reached_head)>;

  // None of the pointers is owned; all must outlive the runner.
  ProjectionRunner(storage::EventLog* log, storage::ProjectionStore* store,
                   Projection* projection, uint32_t generation,
                   RunnerOptions options = {});
  ~ProjectionRunner();

  ProjectionRunner(const ProjectionRunner&) = delete;
  ProjectionRunner& operator=(const ProjectionRunner&) = delete;

  // Called on the runner's thread as it ends (stopped, or on an error),
  // once status() and WaitFor say so.
  using StopListener = std::function<void()>;

  // Reads the checkpoint (FAILED_PRECONDITION if it was written by another
  // code version) and starts the thread. At most once.
  absl::Status Start(CommitListener on_commit = nullptr,
                     StopListener on_stop = nullptr);

  // Stops the thread (finishing the commit in hand). Idempotent.
  void Stop();

  uint32_t generation() const { return generation_; }

  // The last committed position (0: none).
  uint64_t applied() const;

  // OK once applied() >= position; DEADLINE_EXCEEDED at `deadline`;
  // UNAVAILABLE (with the cause) when the runner stopped first.
  absl::Status WaitFor(uint64_t position, absl::Time deadline) const;

  // OK while running or stopped cleanly; otherwise what stopped it.
  absl::Status status() const;

  // While the runner waits to retry a failed read or commit: that error.
  // OK once a step succeeds again.
  absl::Status retrying() const;

 private:
  void Run();
  // One read-apply-commit round. Sets *idle when there was nothing to read.
  absl::Status Step(bool* idle);
  absl::Status BuildStep(bool* idle);
  // Drops the build batch, and with it what it spilled.
  void DropBuildBatch();
  // After a commit: compacts a generation built from position 1 once it
  // reaches the head (RunnerOptions::compact_after_build).
  void CompactIfBuilt(bool reached_head);
  absl::Status ApplyOne(const v1::RecordedEvent& event,
                        storage::ProjectionBatch& batch);
  void WaitForAppend();
  // Waits retry_delay, or less when stopping.
  void WaitToRetry();

  storage::EventLog* const log_;
  storage::ProjectionStore* const store_;
  Projection* const projection_;
  const uint32_t generation_;
  const RunnerOptions options_;
  CommitListener on_commit_;
  StopListener on_stop_;
  // While catching up; owned by the runner's thread.
  std::unique_ptr<storage::ProjectionBatch> build_batch_;
  // Build batches have run since position 1 and not reached the head yet.
  bool building_from_start_ = false;
  // The last position the build batch holds in spilled runs (ProjectionStore
  // ::Spill), not committed yet (0: none); owned by the runner's thread.
  uint64_t spilled_through_ = 0;
  // Serialises joins (Stop may be called from two threads).
  absl::Mutex join_mu_;
  std::thread thread_ ABSL_GUARDED_BY(join_mu_);

  mutable absl::Mutex mu_;
  uint64_t applied_ ABSL_GUARDED_BY(mu_) = 0;
  bool running_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
  absl::Status retrying_ ABSL_GUARDED_BY(mu_);

  // Where the runner sleeps at the head. Shared with the head watch's
  // callback, which may run on the log's writer thread after the runner has
  // stopped waiting.
  struct Wake {
    absl::Mutex mu;
    bool woken ABSL_GUARDED_BY(mu) = false;
    bool stop ABSL_GUARDED_BY(mu) = false;
  };
  const std::shared_ptr<Wake> wake_ = std::make_shared<Wake>();
};

}  // namespace ycr::projections
