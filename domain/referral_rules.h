#pragma once

// The referral state machine, as plain functions over a folded view of one
// referral stream. No gRPC, no storage: services call these and append.

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "ycr/v1/event.pb.h"

namespace ycr::domain {

// One referral, folded from its stream's events.
struct ReferralView {
  v1::ReferralState state = v1::REFERRAL_STATE_UNSPECIFIED;
  // The state a held referral resumes to.
  v1::ReferralState held_from = v1::REFERRAL_STATE_UNSPECIFIED;
  std::string referral_id;
  std::string subject_id;
  std::string school;
  std::string service;
  // Stream version the view was folded to (0: no referral yet).
  uint64_t version = 0;
};

// True for states no transition leaves (entered-in-error aside).
bool IsTerminal(v1::ReferralState state);

// "submitted", "assessment scheduled", ...
std::string StateName(v1::ReferralState state);

// Decides whether `event` may be appended to the referral in `view` by
// `caller`. INVALID_ARGUMENT names a missing or bad field; PERMISSION_DENIED
// when the caller's organisation is not the side that may make this
// transition; FAILED_PRECONDITION names the state and the transition when the
// state does not allow it.
absl::Status CheckReferralTransition(const ReferralView& view,
                                     const v1::EventPayload& event,
                                     const v1::Actor& caller);

// Submitting a referral discloses the pupil's data to the service, and a
// transfer discloses it to the new school: the event must carry that
// disclosure (from the caller, to the service (purpose referral) or the new
// school, about the referral's subject, with a basis). OK for other
// transitions. INVALID_ARGUMENT / FAILED_PRECONDITION as sharing_rules.h's
// ValidateEmbeddedDisclosure. Whether a consent basis covers it is the
// command layer's check.
absl::Status ValidateReferralDisclosure(const ReferralView& view,
                                        const v1::EventPayload& event,
                                        const v1::Actor& caller);

// Folds one event (already checked) into `view`, at stream version `version`.
// INVALID_ARGUMENT for a payload that is not a referral event.
absl::Status ApplyReferralEvent(const v1::EventPayload& event, uint64_t version,
                                ReferralView* view);

}  // namespace ycr::domain
