#pragma once

// Consent as plain functions over a folded view of one consent stream: which
// commands a consent's state allows, and whether it covers a disclosure.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "ycr/v1/event.pb.h"

namespace ycr::domain {

struct ConsentView {
  enum class Decision { kNone, kGranted, kRefused };
  Decision decision = Decision::kNone;
  std::string consent_id;
  std::string subject_id;
  // The organisation that recorded the grant or refusal: the only one that
  // may vary or withdraw it (set by the caller of ApplyConsentEvent, from
  // the recorded event's actor).
  std::string recorded_by;
  // The terms in force since the last grant or variation.
  v1::ConsentTerms terms;
  // Set once withdrawn: sharing at or after this instant is not covered.
  // The earliest of the withdrawals recorded (a withdrawal may be scheduled
  // ahead; an earlier one supersedes it).
  std::optional<absl::Time> withdrawn_at;
  // Stream version the view was folded to (0: no consent yet).
  uint64_t version = 0;

  // Whether a withdrawal has taken effect at `t`.
  bool WithdrawnBy(absl::Time t) const;
};

// Bounds of a withdrawal's effective_at: not before this date, and at most
// this many years after it is recorded.
inline constexpr absl::CivilDay kEarliestEffectiveDate{1900, 1, 1};
inline constexpr int kWithdrawalHorizonYears = 2;

// A disclosure someone wants to make, to be checked against a consent.
struct ProposedDisclosure {
  std::string subject_id;
  v1::Recipient to;
  v1::Purpose purpose = v1::PURPOSE_UNSPECIFIED;
  std::vector<v1::DataCategory> categories;
  absl::Time at;
};

// INVALID_ARGUMENT naming `field`.<part> when terms are incomplete: at least
// one purpose, recipient (with an organisation) and category, none
// unspecified, and valid_from before valid_until.
absl::Status ValidateTerms(const v1::ConsentTerms& terms,
                           absl::string_view field);

// Decides whether `event` may be appended to the consent in `view` at `now`.
// INVALID_ARGUMENT for a missing or bad field (a withdrawal's effective_at
// before kEarliestEffectiveDate or more than kWithdrawalHorizonYears ahead);
// FAILED_PRECONDITION naming the rule when the consent's state does not
// allow it (grant and refuse only a new consent; vary and withdraw only a
// granted one whose withdrawal has not taken effect at `now`: a withdrawal
// scheduled ahead leaves it open to variation, and to an earlier withdrawal,
// which supersedes it, until then; a young person assessed as not competent
// cannot decide; a withdrawal cannot take effect in the past).
absl::Status CheckConsentCommand(const ConsentView& view,
                                 const v1::EventPayload& event, absl::Time now);

// Folds one consent event (already checked) into `view` at `version`.
absl::Status ApplyConsentEvent(const v1::EventPayload& event, uint64_t version,
                               ConsentView* view);

// Folds into `view` a consent event its reader sees after a step of the
// consent it may not see (a school that left the case, back on it): only a
// withdrawal's date (the earliest wins), since a withdrawal only narrows what
// the consent covers and every organisation it covered must know when it
// stops; the terms and the version stay those of the last step the reader
// saw, so no gap in versions tells it of steps it may not see. Other kinds
// change nothing.
void ApplyLaterWithdrawal(const v1::EventPayload& event, ConsentView* view);

// OK when `consent` covers every part of `disclosure`; otherwise
// FAILED_PRECONDITION saying what is not covered.
absl::Status CheckConsentCovers(const ConsentView& consent,
                                const ProposedDisclosure& disclosure);

}  // namespace ycr::domain
