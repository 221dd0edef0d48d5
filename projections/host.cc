#include "projections/host.h"

#include <algorithm>
#include <atomic>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
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

RunnerOptions WithReader(RunnerOptions options, SharedLogReader* reader) {
  if (options.shared_reader == nullptr) options.shared_reader = reader;
  return options;
}

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
  // True while `building` is a builder: its progress reports may promote
  // it. Cleared (under mu_) when it takes over, so that, as the active
  // runner, its reports no longer take mu_: a later rebuild's takeover
  // stops it while holding mu_, and a report waiting for mu_ would never
  // let that stop finish.
  std::shared_ptr<std::atomic<bool>> builder_reports;
};

ProjectionHost::ProjectionHost(storage::EventLog* log,
                               storage::ProjectionStore* store,
                               RunnerOptions options)
    : log_(log),
      store_(store),
      reader_(options.share_reads && options.shared_reader == nullptr
                  ? std::make_unique<SharedLogReader>(
                        log, options.shared_reader_options)
                  : nullptr),
      options_(WithReader(options, reader_.get())) {
  absl::MutexLock lock(&join_mu_);
  waiter_thread_ = std::thread([this] { RunWaiters(); });
}

ProjectionHost::~ProjectionHost() { Stop(); }

void ProjectionHost::Add(std::unique_ptr<Projection> projection) {
  absl::MutexLock lock(&mu_);
  auto slot = std::make_unique<Slot>();
  const std::string name = projection->name();
  slot->projection = std::move(projection);
  slots_[name] = std::move(slot);
}

void ProjectionHost::SetProgressLog(Logger* logger, const Clock* clock,
                                    absl::Duration every) {
  progress_logger_ = logger;
  clock_ = clock != nullptr ? clock : &SystemClock();
  progress_every_ = every;
}

BuildProgress ProjectionHost::Measure(const Progress& p) const {
  BuildProgress out;
  out.started = p.started;
  out.applied = p.applied;
  out.head = std::max(p.head, p.applied);
  const double seconds = absl::ToDoubleSeconds(clock_->Now() - p.started);
  if (seconds > 0) out.events_per_second = p.applied / seconds;
  const uint64_t left = out.head - out.applied;
  if (left == 0) {
    out.eta = absl::ZeroDuration();
  } else if (out.events_per_second > 0) {
    out.eta = absl::Seconds(left / out.events_per_second);
  }
  return out;
}

void ProjectionHost::LogProgress(absl::string_view event,
                                 const std::string& name, const Progress& p) {
  if (progress_logger_ == nullptr) return;
  const BuildProgress m = Measure(p);
  const double percent = m.head == 0 ? 100.0 : 100.0 * m.applied / m.head;
  progress_logger_->Log(
      LogLevel::kInfo, event,
      {{"projection", name},
       {"generation", absl::StrCat(p.generation)},
       {"applied", absl::StrCat(m.applied)},
       {"of", absl::StrCat(m.head)},
       {"percent", absl::StrFormat("%.1f", percent)},
       {"events_per_second", absl::StrFormat("%.0f", m.events_per_second)},
       {"seconds", absl::StrFormat("%.1f", absl::ToDoubleSeconds(clock_->Now() -
                                                                 p.started))},
       {"eta_seconds",
        m.eta == absl::InfiniteDuration()
            ? std::string("unknown")
            : absl::StrFormat("%.0f", absl::ToDoubleSeconds(m.eta))}});
}

void ProjectionHost::OnBuilderCommit(const std::string& name,
                                     uint32_t generation, uint64_t applied) {
  absl::MutexLock lock(&progress_mu_);
  Progress& p = progress_[name];
  if (p.generation != generation) return;
  p.applied = applied;
  p.head = log_->GetHead().position;
  const absl::Time now = clock_->Now();
  if (now - p.last_logged >= progress_every_) {
    p.last_logged = now;
    LogProgress("projection_rebuild_progress", name, p);
  }
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
    RETURN_IF_ERROR(slot->active->Start(
        [this, name = name](uint64_t applied, bool) { Notify(name, applied); },
        [this, name = name] { Notify(name, kAll); }));
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
  {
    absl::MutexLock lock(&progress_mu_);
    Progress& p = progress_[name];
    p = Progress();
    p.generation = generation;
    p.started = clock_->Now();
    p.head = log_->GetHead().position;
  }
  slot.building = std::make_shared<ProjectionRunner>(
      log_, store_, slot.projection.get(), generation, options_);
  // Once it takes over, its reports are the active generation's.
  auto builder_reports = std::make_shared<std::atomic<bool>>(true);
  slot.builder_reports = builder_reports;
  return slot.building->Start(
      [this, name, generation, builder_reports](uint64_t applied,
                                                bool reached_head) {
        Notify(name, applied);
        if (builder_reports->load()) {
          OnBuilderCommit(name, generation, applied);
          OnBuilderProgress(name, generation, reached_head);
        }
      },
      [this, name] { Notify(name, kAll); });
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
  slot.builder_reports->store(false);
  slot.active = std::move(slot.building);
  slot.building = nullptr;
  slot.frozen_at = 0;
  {
    absl::MutexLock progress(&progress_mu_);
    auto it = progress_.find(name);
    if (it != progress_.end()) {
      LogProgress("projection_rebuild_done", name, it->second);
      progress_.erase(it);
    }
  }
  Notify(name, kAll);
}

std::optional<ProjectionHost::AwaitResult> ProjectionHost::Check(
    const std::string& name, uint64_t min_position, bool at_deadline) {
  absl::MutexLock lock(&mu_);
  auto it = slots_.find(name);
  if (it == slots_.end()) {
    return absl::NotFoundError(absl::StrCat("no projection named ", name));
  }
  Slot* slot = it->second.get();
  if (slot->active == nullptr) {
    // Frozen until its rebuild takes over.
    if (min_position <= slot->frozen_at) {
      return std::shared_ptr<const GenerationLease>(slot->lease);
    }
    if (slot->building != nullptr && !slot->building->status().ok()) {
      return absl::UnavailableError(absl::StrCat(
          "projection ", name, " is frozen at position ", slot->frozen_at,
          " and its rebuild stopped: ", slot->building->status().message(),
          "; rebuild it again"));
    }
    if (stopped_) return absl::UnavailableError("the projections are stopped");
    if (!at_deadline) return std::nullopt;
    return absl::DeadlineExceededError(
        absl::StrCat("projection ", name,
                     " is being rebuilt and has not reached "
                     "position ",
                     min_position, " by the deadline"));
  }
  // The active runner is swapped only under mu_, so a runner stopped here
  // has stopped for good (an error, or the host stopping).
  absl::Status s = slot->active->WaitFor(min_position, absl::InfinitePast());
  if (s.ok()) return std::shared_ptr<const GenerationLease>(slot->lease);
  if (absl::IsDeadlineExceeded(s) && !at_deadline) return std::nullopt;
  return s;
}

absl::StatusOr<std::shared_ptr<const GenerationLease>> ProjectionHost::Await(
    const std::string& name, uint64_t min_position, absl::Time deadline) {
  absl::Notification done;
  AwaitResult result;
  uint64_t id = 0;
  std::optional<AwaitResult> now = AwaitAsync(
      name, min_position, deadline,
      [&](AwaitResult r) {
        result = std::move(r);
        done.Notify();
      },
      &id);
  if (now.has_value()) return *std::move(now);
  done.WaitForNotification();
  return result;
}

std::optional<ProjectionHost::AwaitResult> ProjectionHost::AwaitAsync(
    const std::string& name, uint64_t min_position, absl::Time deadline,
    AwaitCallback done, uint64_t* wait_id) {
  // Past the deadline the answer is now.
  std::optional<AwaitResult> now =
      Check(name, min_position, deadline <= absl::Now());
  if (now.has_value()) return now;
  uint64_t id = 0;
  {
    absl::MutexLock lock(&wait_mu_);
    if (!waiters_stopped_) {
      id = next_wait_id_++;
      if (by_deadline_.empty() || deadline < by_deadline_.begin()->first) {
        rearm_ = true;
      }
      by_position_[name].emplace(min_position, id);
      by_deadline_.emplace(deadline, id);
      waiters_.emplace(id,
                       Waiter{name, min_position, deadline, std::move(done)});
    }
  }
  // Stopped: nothing waits any more (and Check has its answer).
  if (id == 0) return *Check(name, min_position, true);
  // A report between the check and registering would be missed: check
  // again, now that reports see the waiter.
  now = Check(name, min_position, false);
  if (now.has_value() && CancelAwait(id)) return now;
  // Waiting; or the waiter thread has taken it and runs `done`.
  *wait_id = id;
  return std::nullopt;
}

bool ProjectionHost::CancelAwait(uint64_t wait_id) {
  absl::MutexLock lock(&wait_mu_);
  auto it = waiters_.find(wait_id);
  if (it == waiters_.end()) return false;
  TakeWaiter(it);
  return true;
}

ProjectionHost::Waiter ProjectionHost::TakeWaiter(
    std::map<uint64_t, Waiter>::iterator it) {
  const uint64_t id = it->first;
  Waiter w = std::move(it->second);
  waiters_.erase(it);
  auto positions = by_position_.find(w.name);
  positions->second.erase({w.position, id});
  if (positions->second.empty()) by_position_.erase(positions);
  by_deadline_.erase({w.deadline, id});
  return w;
}

size_t ProjectionHost::waiting() const {
  absl::MutexLock lock(&wait_mu_);
  return waiters_.size();
}

void ProjectionHost::Notify(const std::string& name, uint64_t applied) {
  absl::MutexLock lock(&wait_mu_);
  auto positions = by_position_.find(name);
  if (positions == by_position_.end() ||
      positions->second.begin()->first > applied) {
    return;
  }
  uint64_t& mark = dirty_[name];
  mark = std::max(mark, applied);
}

void ProjectionHost::RunWaiters() {
  absl::MutexLock lock(&wait_mu_);
  for (;;) {
    rearm_ = false;
    auto woken = [this]() ABSL_SHARED_LOCKS_REQUIRED(wait_mu_) {
      return waiters_stopped_ || !dirty_.empty() || rearm_;
    };
    const absl::Time wake = by_deadline_.empty() ? absl::InfiniteFuture()
                                                 : by_deadline_.begin()->first;
    wait_mu_.AwaitWithDeadline(absl::Condition(&woken), wake);
    if (waiters_stopped_) return;
    // The waiters to check again: those reached by a report, and those
    // whose deadline has passed.
    std::vector<std::pair<uint64_t, bool>> due;  // (id, at_deadline)
    for (const auto& [name, applied] : dirty_) {
      auto positions = by_position_.find(name);
      if (positions == by_position_.end()) continue;
      for (const auto& [position, id] : positions->second) {
        if (position > applied) break;
        due.emplace_back(id, false);
      }
    }
    dirty_.clear();
    const absl::Time now = absl::Now();
    for (const auto& [deadline, id] : by_deadline_) {
      if (deadline > now) break;
      due.emplace_back(id, true);
    }
    for (const auto& [id, at_deadline] : due) {
      auto it = waiters_.find(id);
      if (it == waiters_.end()) continue;  // Cancelled, or done just now.
      const std::string name = it->second.name;
      const uint64_t position = it->second.position;
      std::optional<AwaitResult> result;
      {
        // Check takes mu_, which is taken before wait_mu_.
        wait_mu_.Unlock();
        result = Check(name, position, at_deadline);
        wait_mu_.Lock();
      }
      if (!result.has_value()) continue;
      it = waiters_.find(id);
      if (it == waiters_.end()) continue;  // Cancelled meanwhile.
      // Taken, it can no longer be cancelled.
      Waiter w = TakeWaiter(it);
      wait_mu_.Unlock();
      std::move(w.done)(*std::move(result));
      wait_mu_.Lock();
    }
  }
}

void ProjectionHost::StopWaiters() {
  {
    absl::MutexLock lock(&wait_mu_);
    waiters_stopped_ = true;
  }
  {
    absl::MutexLock lock(&join_mu_);
    if (waiter_thread_.joinable()) waiter_thread_.join();
  }
  // No runner runs now: every check has its answer.
  for (;;) {
    Waiter w;
    {
      absl::MutexLock lock(&wait_mu_);
      if (waiters_.empty()) return;
      w = TakeWaiter(waiters_.begin());
    }
    std::move(w.done)(*Check(w.name, w.position, /*at_deadline=*/true));
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
      absl::MutexLock progress(&progress_mu_);
      if (auto it = progress_.find(name);
          it != progress_.end() &&
          it->second.generation == s.building_generation) {
        s.building_progress = Measure(it->second);
      }
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
    if (!stopped_) {
      stopped_ = true;
      for (auto& [name, slot] : slots_) {
        if (slot->active != nullptr) runners.push_back(slot->active);
        if (slot->building != nullptr) runners.push_back(slot->building);
      }
    }
  }
  for (auto& runner : runners) runner->Stop();
  StopWaiters();
}

}  // namespace ycr::projections
