#pragma once

// Correspondence between the parties of a Working Together Agreement:
// received -> (acknowledged with a promised date) -> answered, and when the
// answer is due.

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "domain/agreement_rules.h"
#include "ycr/v1/event.pb.h"

namespace ycr::domain {

struct CorrespondenceView {
  enum class State { kNone, kAwaitingAnswer, kAcknowledged, kAnswered };
  State state = State::kNone;
  v1::CorrespondenceReceived received;
  std::optional<absl::Time> promised_by;
  std::optional<absl::Time> answered_at;
  uint64_t version = 0;
};

// When the answer is owed: the promised date once acknowledged, otherwise
// the due date decided at receipt (received_at + the response time of the
// agreement's terms in force at received_at; computed from `agreement` for
// a view without one). A later amendment does not move it.
absl::Time AnswerDueAt(const CorrespondenceView& view,
                       const AgreementView& agreement);

// Checks `event` against the correspondence in `view` and the agreement it
// falls under (`agreement`: for a receive, the one it names; otherwise the
// one recorded at receipt), by `caller`, at `now`; fills in what the server
// decides (receiver, agreement version, due date, answer time). A letter is
// handled under the agreement's terms in force when it was received: an
// amendment applies to letters received after it takes effect. Receive:
// FAILED_PRECONDITION when no agreement is in force between the caller and
// `from` at received_at. Acknowledge: FAILED_PRECONDITION unless those terms
// allow it, it is made before the answer is due, and the promised date is
// after now and within those terms' limit.
absl::Status DecideCorrespondenceCommand(const CorrespondenceView& view,
                                         const AgreementView& agreement,
                                         const v1::Actor& caller,
                                         absl::Time now,
                                         v1::EventPayload* event);

absl::Status ApplyCorrespondenceEvent(const v1::RecordedEvent& event,
                                      CorrespondenceView* view);

}  // namespace ycr::domain
