#pragma once

// Interventions a young carers' service delivers: planned -> sessions
// delivered -> ended, with outcomes recorded (and reported to the school only
// as a disclosure, checked like any other).

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "ycr/v1/event.pb.h"

namespace ycr::domain {

struct InterventionView {
  enum class State { kNone, kPlanned, kEnded };
  State state = State::kNone;
  v1::InterventionPlanned plan;
  uint32_t sessions_delivered = 0;
  uint32_t sessions_attended = 0;
  std::optional<absl::Time> last_session_at;
  v1::OutcomesRecorded latest_outcomes;
  uint64_t version = 0;
};

// True for the types that support one young carer (they need a subject);
// false for whole-school work (assembly or PSE lesson, staff training).
bool IsForOneYoungCarer(v1::InterventionType type);

// Checks `event` against the intervention in `view`, by `caller`, at `now`,
// filling in the service when the plan leaves it empty. Only the delivering
// service records. An outcome report must be a disclosure to the school, for
// impact reporting, covering the category of every outcome measured;
// whether its basis covers it is checked by the command layer.
absl::Status DecideInterventionCommand(const InterventionView& view,
                                       const v1::Actor& caller, absl::Time now,
                                       v1::EventPayload* event);

absl::Status ApplyInterventionEvent(const v1::RecordedEvent& event,
                                    InterventionView* view);

}  // namespace ycr::domain
