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
// a lease on the generation to read.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
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

struct ProjectionStatus {
  std::string name;
  uint32_t code_version = 0;
  uint32_t generation = 0;
  uint64_t applied = 0;
  // Set while a rebuild runs.
  uint32_t building_generation = 0;
  uint64_t building_applied = 0;
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

  absl::Status Start();

  // Starts building the next generation of `name`. NOT_FOUND for an unknown
  // projection; FAILED_PRECONDITION if a rebuild is already running.
  absl::Status Rebuild(const std::string& name);

  // The generation of `name` to read, once it has applied `min_position`
  // (0: at once). DEADLINE_EXCEEDED at `deadline`; UNAVAILABLE when the
  // projection has stopped on an error; NOT_FOUND for an unknown name.
  absl::StatusOr<std::shared_ptr<const GenerationLease>> Await(
      const std::string& name, uint64_t min_position, absl::Time deadline);

  // Waits until no rebuild of `name` is running (the new generation has
  // taken over). OK at once when none is; DEADLINE_EXCEEDED at `deadline`.
  absl::Status AwaitRebuilt(const std::string& name, absl::Time deadline);

  std::vector<ProjectionStatus> Status();

  // Stops every runner. Idempotent.
  void Stop();

  storage::ProjectionStore& store() { return *store_; }

 private:
  struct Slot;
  absl::Status StartBuilding(Slot& slot) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnBuilderProgress(const std::string& name, uint32_t generation,
                         bool reached_head);

  storage::EventLog* const log_;
  storage::ProjectionStore* const store_;
  const RunnerOptions options_;

  absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<Slot>> slots_ ABSL_GUARDED_BY(mu_);
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace ycr::projections
