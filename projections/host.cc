#include "projections/host.h"

#include <atomic>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace ycr::projections {
namespace {

class Lease : public GenerationLease {
 public:
  Lease(storage::ProjectionStore* store, std::string name, uint32_t generation)
      : store_(store), name_(std::move(name)), generation_(generation) {}
  // A retired generation goes with its last reader.
  ~Lease() override {
    if (retired_) store_->DropGeneration(name_, generation_).IgnoreError();
  }
  uint32_t generation() const override { return generation_; }
  void Retire() { retired_ = true; }

 private:
  storage::ProjectionStore* const store_;
  const std::string name_;
  const uint32_t generation_;
  std::atomic<bool> retired_{false};
};

}  // namespace

struct ProjectionHost::Slot {
  std::unique_ptr<Projection> projection;
  // Null while the active generation is frozen (stored by another code
  // version) until its rebuild takes over.
  std::shared_ptr<ProjectionRunner> active;
  std::shared_ptr<Lease> lease;
  // Position the frozen generation had reached.
  uint64_t frozen_at = 0;
  std::shared_ptr<ProjectionRunner> building;
};

ProjectionHost::ProjectionHost(storage::EventLog* log,
                               storage::ProjectionStore* store,
                               RunnerOptions options)
    : log_(log), store_(store), options_(options) {}

ProjectionHost::~ProjectionHost() { Stop(); }

void ProjectionHost::Add(std::unique_ptr<Projection> projection) {
  absl::MutexLock lock(&mu_);
  auto slot = std::make_unique<Slot>();
  const std::string name = projection->name();
  slot->projection = std::move(projection);
  slots_[name] = std::move(slot);
}

absl::Status ProjectionHost::Start() {
  absl::MutexLock lock(&mu_);
  for (auto& [name, slot] : slots_) {
    ASSIGN_OR_RETURN(std::optional<uint32_t> active,
                     store_->ActiveGeneration(name));
    uint32_t generation = active.value_or(1);
    if (!active.has_value()) RETURN_IF_ERROR(store_->Activate(name, 1));
    // A rebuild cut short by a restart starts again.
    RETURN_IF_ERROR(store_->DropOtherGenerations(name, generation));
    slot->lease = std::make_shared<Lease>(store_, name, generation);
    ASSIGN_OR_RETURN(std::optional<storage::ProjectionCheckpoint> checkpoint,
                     store_->ReadCheckpoint(name, generation));
    if (checkpoint.has_value() &&
        checkpoint->code_version != slot->projection->code_version()) {
      slot->frozen_at = checkpoint->position;
      RETURN_IF_ERROR(StartBuilding(*slot));
      continue;
    }
    slot->active = std::make_shared<ProjectionRunner>(
        log_, store_, slot->projection.get(), generation, options_);
    RETURN_IF_ERROR(slot->active->Start());
  }
  return absl::OkStatus();
}

absl::Status ProjectionHost::StartBuilding(Slot& slot) {
  const std::string name = slot.projection->name();
  if (slot.lease->generation() == std::numeric_limits<uint32_t>::max()) {
    return absl::FailedPreconditionError("no generation number is left");
  }
  const uint32_t generation = slot.lease->generation() + 1;
  RETURN_IF_ERROR(store_->DropGeneration(name, generation));
  slot.building = std::make_shared<ProjectionRunner>(
      log_, store_, slot.projection.get(), generation, options_);
  return slot.building->Start(
      [this, name, generation](uint64_t, bool reached_head) {
        OnBuilderProgress(name, generation, reached_head);
      });
}

absl::Status ProjectionHost::Rebuild(const std::string& name) {
  absl::MutexLock lock(&mu_);
  auto it = slots_.find(name);
  if (it == slots_.end()) {
    return absl::NotFoundError(absl::StrCat("no projection named ", name));
  }
  if (stopped_) return absl::UnavailableError("the projections are stopped");
  Slot& slot = *it->second;
  if (slot.building != nullptr) {
    if (slot.building->status().ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "projection ", name, " is already being rebuilt (generation ",
          slot.building->generation(), ")"));
    }
    // The last rebuild stopped on an error: start it again.
    slot.building->Stop();
    slot.building = nullptr;
  }
  return StartBuilding(slot);
}

void ProjectionHost::OnBuilderProgress(const std::string& name,
                                       uint32_t generation, bool reached_head) {
  if (!reached_head) return;
  absl::MutexLock lock(&mu_);
  if (stopped_) return;
  Slot& slot = *slots_.at(name);
  if (slot.building == nullptr || slot.building->generation() != generation) {
    return;
  }
  if (absl::Status s = store_->Activate(name, generation); !s.ok()) {
    // Keep building (and serving the old one); the next report tries again.
    return;
  }
  // The old runner stops before its generation is retired, so nothing
  // writes to a generation once it may be dropped.
  if (slot.active != nullptr) slot.active->Stop();
  slot.lease->Retire();
  slot.lease = std::make_shared<Lease>(store_, name, generation);
  slot.active = std::move(slot.building);
  slot.building = nullptr;
  slot.frozen_at = 0;
}

absl::StatusOr<std::shared_ptr<const GenerationLease>> ProjectionHost::Await(
    const std::string& name, uint64_t min_position, absl::Time deadline) {
  for (;;) {
    std::shared_ptr<ProjectionRunner> runner;
    std::shared_ptr<Lease> lease;
    {
      absl::MutexLock lock(&mu_);
      auto it = slots_.find(name);
      if (it == slots_.end()) {
        return absl::NotFoundError(absl::StrCat("no projection named ", name));
      }
      Slot* slot = it->second.get();
      if (slot->active == nullptr) {
        // Frozen until its rebuild takes over.
        if (min_position <= slot->frozen_at) return slot->lease;
        if (slot->building != nullptr && !slot->building->status().ok()) {
          return absl::UnavailableError(absl::StrCat(
              "projection ", name, " is frozen at position ", slot->frozen_at,
              " and its rebuild stopped: ", slot->building->status().message(),
              "; rebuild it again"));
        }
        auto swapped = [this, slot]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
          return slot->active != nullptr || stopped_;
        };
        if (!mu_.AwaitWithDeadline(absl::Condition(&swapped), deadline)) {
          return absl::DeadlineExceededError(
              absl::StrCat("projection ", name,
                           " is being rebuilt and has not reached "
                           "position ",
                           min_position, " by the deadline"));
        }
        if (stopped_) {
          return absl::UnavailableError("the projections are stopped");
        }
        continue;
      }
      runner = slot->active;
      lease = slot->lease;
    }
    absl::Status s = runner->WaitFor(min_position, deadline);
    if (s.ok()) return std::shared_ptr<const GenerationLease>(lease);
    if (absl::IsUnavailable(s) && runner->status().ok()) {
      // Stopped cleanly: swapped out by a rebuild (ask the new one), or
      // shutting down.
      absl::MutexLock lock(&mu_);
      if (stopped_ || slots_.at(name)->active == runner) return s;
      continue;
    }
    return s;
  }
}

absl::Status ProjectionHost::AwaitRebuilt(const std::string& name,
                                          absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  auto it = slots_.find(name);
  if (it == slots_.end()) {
    return absl::NotFoundError(absl::StrCat("no projection named ", name));
  }
  Slot* slot = it->second.get();
  auto done = [this, slot]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return slot->building == nullptr || stopped_;
  };
  if (!mu_.AwaitWithDeadline(absl::Condition(&done), deadline)) {
    return absl::DeadlineExceededError(
        absl::StrCat("the rebuild of projection ", name,
                     " has not finished by the deadline"));
  }
  return absl::OkStatus();
}

std::vector<ProjectionStatus> ProjectionHost::Status() {
  absl::MutexLock lock(&mu_);
  std::vector<ProjectionStatus> out;
  for (const auto& [name, slot] : slots_) {
    ProjectionStatus& s = out.emplace_back();
    s.name = name;
    s.code_version = slot->projection->code_version();
    s.generation = slot->lease != nullptr ? slot->lease->generation() : 0;
    s.applied =
        slot->active != nullptr ? slot->active->applied() : slot->frozen_at;
    if (slot->active != nullptr) {
      s.error = slot->active->status();
      if (s.error.ok()) s.error = slot->active->retrying();
    }
    if (slot->building != nullptr) {
      s.building_generation = slot->building->generation();
      s.building_applied = slot->building->applied();
      s.building_error = slot->building->status();
      if (s.building_error.ok()) {
        s.building_error = slot->building->retrying();
      }
    }
  }
  return out;
}

void ProjectionHost::Stop() {
  std::vector<std::shared_ptr<ProjectionRunner>> runners;
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    stopped_ = true;
    for (auto& [name, slot] : slots_) {
      if (slot->active != nullptr) runners.push_back(slot->active);
      if (slot->building != nullptr) runners.push_back(slot->building);
    }
  }
  for (auto& runner : runners) runner->Stop();
}

}  // namespace ycr::projections
