#pragma once

// ProjectionHost: runs every projection of the server. On Start each one
// catches up from its checkpoint and follows the log. Rebuild(name) builds
// the next generation from position 1 beside the active one, which keeps
// serving; once the new one reaches the head it takes over, and the old
// generation is dropped when its last reader lets go. A projection whose
// stored code version differs from its code is rebuilt at Start (its old
// state serves, frozen, until then).
//
// Queries call Await(name, min_position, deadline): it waits until the
// active generation has applied min_position (read-your-writes) and returns
// a lease on the generation to read. AwaitAsync does the same without
// blocking: the host keeps the waiting callbacks and runs them, on its one
// waiter thread, when the projection reaches the position (its runner
// reports each commit) or at their deadline, so that a wait holds no thread
// of a query pool.

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/log.h"
#include "projections/projection.h"
#include "projections/runner.h"

namespace ycr::projections {

// A generation being read. While any lease on a retired generation is held,
// its state stays.
class GenerationLease {
 public:
  virtual ~GenerationLease() = default;
  virtual uint32_t generation() const = 0;
};

// How a rebuild is going: what it has applied of how much, how fast, and
// when it should catch up (at the rate so far, against the head it last
// saw; the head moves while it runs).
struct BuildProgress {
  absl::Time started;
  uint64_t applied = 0;
  uint64_t head = 0;
  double events_per_second = 0;
  // InfiniteDuration while no rate is known yet.
  absl::Duration eta = absl::InfiniteDuration();
};

struct ProjectionStatus {
  std::string name;
  uint32_t code_version = 0;
  uint32_t generation = 0;
  uint64_t applied = 0;
  // Set while a rebuild runs.
  uint32_t building_generation = 0;
  uint64_t building_applied = 0;
  BuildProgress building_progress;
  // What stopped the active runner, or the rebuild, if anything; while one
  // retries a failed read or commit (a full disk), that error.
  absl::Status error;
  absl::Status building_error;
};

class ProjectionHost {
 public:
  // `log` and `store` must outlive the host.
  ProjectionHost(storage::EventLog* log, storage::ProjectionStore* store,
                 RunnerOptions options = {});
  ~ProjectionHost();

  // The log the projections follow.
  storage::EventLog& log() { return *log_; }

  // Before Start(). Names must be unique.
  void Add(std::unique_ptr<Projection> projection);

  // Before Start(): rebuilds report to `logger` (not owned; null: no lines)
  // a "projection_rebuild_progress" line at most once per `every` (applied,
  // of, percent, events_per_second, eta_seconds) and a
  // "projection_rebuild_done" line when the new generation takes over;
  // `clock` (not owned) times them. Default: no lines, the system clock.
  void SetProgressLog(Logger* logger, const Clock* clock, absl::Duration every);

  absl::Status Start();

  // Starts building the next generation of `name`. NOT_FOUND for an unknown
  // projection; FAILED_PRECONDITION if a rebuild is already running.
  absl::Status Rebuild(const std::string& name);

  // The generation of `name` to read, once it has applied `min_position`
  // (0: at once). DEADLINE_EXCEEDED at `deadline`; UNAVAILABLE when the
  // projection has stopped on an error; NOT_FOUND for an unknown name.
  absl::StatusOr<std::shared_ptr<const GenerationLease>> Await(
      const std::string& name, uint64_t min_position, absl::Time deadline);

  using AwaitResult = absl::StatusOr<std::shared_ptr<const GenerationLease>>;
  using AwaitCallback = absl::AnyInvocable<void(AwaitResult) &&>;

  // Await without blocking. When Await would return at once, returns what
  // it would return and drops `done`. Otherwise returns nullopt, sets
  // *wait_id, and runs `done` once, later, with what Await would have
  // returned: on the host's waiter thread (or in Stop), so `done` must not
  // block (post the work elsewhere); it may run before AwaitAsync returns.
  // CancelAwait(*wait_id) drops it instead.
  std::optional<AwaitResult> AwaitAsync(const std::string& name,
                                        uint64_t min_position,
                                        absl::Time deadline, AwaitCallback done,
                                        uint64_t* wait_id);

  // Drops the waiting callback `wait_id` (from AwaitAsync) without running
  // it: true. False when it has run or is running (or for an unknown id).
  bool CancelAwait(uint64_t wait_id);

  // Callbacks waiting in AwaitAsync now.
  size_t waiting() const;

  // Waits until no rebuild of `name` is running (the new generation has
  // taken over). OK at once when none is; DEADLINE_EXCEEDED at `deadline`.
  absl::Status AwaitRebuilt(const std::string& name, absl::Time deadline);

  std::vector<ProjectionStatus> Status();

  // Stops every runner, then runs every waiting callback (with what Await
  // returns once stopped). Idempotent.
  void Stop();

  storage::ProjectionStore& store() { return *store_; }

 private:
  struct Slot;
  absl::Status StartBuilding(Slot& slot) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnBuilderProgress(const std::string& name, uint32_t generation,
                         bool reached_head);

  // What Await returns now; nullopt while it would wait (unless
  // `at_deadline`: then the deadline's error).
  std::optional<AwaitResult> Check(const std::string& name,
                                   uint64_t min_position, bool at_deadline);
  // The projection `name` may have reached `applied` (kAll: changed in some
  // other way): its waiters up to there are checked again.
  static constexpr uint64_t kAll = ~uint64_t{0};
  void Notify(const std::string& name, uint64_t applied);
  // A callback of AwaitAsync.
  struct Waiter {
    std::string name;
    uint64_t position = 0;
    absl::Time deadline;
    AwaitCallback done;
  };
  // Removes a waiter from every index and returns it.
  Waiter TakeWaiter(std::map<uint64_t, Waiter>::iterator it)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(wait_mu_);
  // The waiter thread.
  void RunWaiters();
  // Ends the waiter thread and runs what is left waiting. Idempotent.
  void StopWaiters();

  storage::EventLog* const log_;
  storage::ProjectionStore* const store_;
  // Every runner's reads while catching up (RunnerOptions::shared_reader);
  // null when the options name a reader of their own.
  std::unique_ptr<SharedLogReader> reader_;
  const RunnerOptions options_;

  // Rebuild progress, by projection; taken without mu_ by the builders'
  // reports (and after mu_ by Status).
  struct Progress {
    uint32_t generation = 0;
    absl::Time started;
    uint64_t applied = 0;
    uint64_t head = 0;
    absl::Time last_logged = absl::InfinitePast();
  };
  BuildProgress Measure(const Progress& p) const;
  void LogProgress(absl::string_view event, const std::string& name,
                   const Progress& p);
  void OnBuilderCommit(const std::string& name, uint32_t generation,
                       uint64_t applied);
  Logger* progress_logger_ = nullptr;
  const Clock* clock_ = &SystemClock();
  absl::Duration progress_every_ = absl::Seconds(10);
  mutable absl::Mutex progress_mu_ ABSL_ACQUIRED_AFTER(mu_);
  std::map<std::string, Progress> progress_ ABSL_GUARDED_BY(progress_mu_);

  absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<Slot>> slots_ ABSL_GUARDED_BY(mu_);
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;

  // AwaitAsync's callbacks. wait_mu_ is taken after mu_, never before: a
  // runner's thread (which OnBuilderProgress may join under mu_) only takes
  // wait_mu_ to report progress.
  mutable absl::Mutex wait_mu_ ABSL_ACQUIRED_AFTER(mu_);
  uint64_t next_wait_id_ ABSL_GUARDED_BY(wait_mu_) = 1;
  std::map<uint64_t, Waiter> waiters_ ABSL_GUARDED_BY(wait_mu_);
  // By projection: (position, id); and (deadline, id).
  std::map<std::string, std::set<std::pair<uint64_t, uint64_t>>> by_position_
      ABSL_GUARDED_BY(wait_mu_);
  std::set<std::pair<absl::Time, uint64_t>> by_deadline_
      ABSL_GUARDED_BY(wait_mu_);
  // Projections reported since the waiter thread last looked, with the
  // highest position reported (kAll: every waiter).
  std::map<std::string, uint64_t> dirty_ ABSL_GUARDED_BY(wait_mu_);
  // A callback with an earlier deadline than the thread sleeps until.
  bool rearm_ ABSL_GUARDED_BY(wait_mu_) = false;
  bool waiters_stopped_ ABSL_GUARDED_BY(wait_mu_) = false;
  absl::Mutex join_mu_;
  std::thread waiter_thread_ ABSL_GUARDED_BY(join_mu_);
};

}  // namespace ycr::projections
