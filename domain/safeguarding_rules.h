#pragma once

// Child-protection concerns: raised (by whom, the facts, the child's words)
// -> DSL notified -> referral to children's social care -> closed.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "ycr/v1/event.pb.h"

namespace ycr::domain {

struct ConcernView {
  enum class State { kNone, kOpen, kClosed };
  State state = State::kNone;
  v1::ConcernRaised raised;
  std::string dsl_notified;
  bool referred_to_social_care = false;
  // The organisations the concern was referred to (each once).
  std::vector<std::string> referred_to;
  uint64_t version = 0;
};

// Checks `event` (with its personal part, `event->personal()`) against the
// concern in `view`, by `caller`, at `now`, filling in what the server
// decides (the raising organisation, the notification time, the concern a
// social-care referral's safeguarding basis belongs to). Raising needs the
// facts (personal.facts). Only the raising organisation records later
// steps. A referral to social care is a disclosure about the concern's
// subject for safeguarding; its basis is checked by the command layer.
absl::Status DecideSafeguardingCommand(const ConcernView& view,
                                       const v1::Actor& caller, absl::Time now,
                                       v1::EventPayload* event);

// The stream of the concern `concern_id` raised by `raised_by`:
// "safeguarding-<organisation token>/<concern id>", where the token is a
// name-based UUID of the organisation (OrganisationToken). Concern ids are
// the raising organisation's own, so an id another organisation used is
// never "taken" (its existence stays confidential).
std::string ConcernStream(const std::string& raised_by,
                          const std::string& concern_id);

absl::Status ApplySafeguardingEvent(const v1::RecordedEvent& event,
                                    ConcernView* view);

}  // namespace ycr::domain
