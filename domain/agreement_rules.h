#pragma once

// Working Together Agreements as plain functions over a folded view of one
// agreement stream: draft -> signed by both parties (in force) -> amended /
// reviewed -> notice given (closing period) -> terminated.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "ycr/v1/event.pb.h"

namespace ycr::domain {

// Response time when the terms leave it unset.
inline constexpr uint32_t kDefaultResponseDays = 14;

struct AgreementView {
  enum class State { kNone, kDraft, kInForce, kClosing, kTerminated };
  State state = State::kNone;
  std::string agreement_id;
  // Current terms, response_time_days filled in.
  v1::AgreementTerms terms;
  // One version of the terms and the time it took effect.
  struct TermsVersion {
    absl::Time from;
    v1::AgreementTerms terms;
  };
  // The versions of the terms, oldest first: the terms the agreement came
  // into force with (a draft's amendments replace it; from: the infinite
  // past), then one per amendment made while in force, from when it was
  // recorded. Empty until drafted.
  std::vector<TermsVersion> terms_history;
  // 1 for the draft, +1 per amendment.
  uint32_t terms_version = 0;
  // Parties that signed. Amending a draft clears them (both sign the new
  // terms); amending an agreement in force keeps it in force.
  std::vector<std::string> signed_by;
  std::optional<absl::Time> in_force_since;
  std::optional<absl::Time> last_reviewed_at;
  std::optional<absl::Time> closing_period_ends_at;
  std::optional<absl::Time> terminated_at;
  uint64_t version = 0;

  // In force (possibly in its closing period) at `t`: from both signatures
  // until the closing period ends, whatever the state is now.
  bool InForceAt(absl::Time t) const;
  // Whether `organisation` is the school or the service party.
  bool IsParty(const std::string& organisation) const;
  // The other party of `organisation`.
  const std::string& OtherParty(const std::string& organisation) const;
  // Last review (or coming into force) + the review cadence.
  std::optional<absl::Time> ReviewDueAt() const;
  // The terms in force at `t`: those of the latest version that took effect
  // at or before `t` (the current terms for a view without history).
  const v1::AgreementTerms& TermsAt(absl::Time t) const;
};

// The response time in days (kDefaultResponseDays when unset).
uint32_t ResponseDays(const v1::AgreementTerms& terms);

// "draft", "in force", "closing", "terminated", "no agreement".
std::string AgreementStateName(AgreementView::State state);

// INVALID_ARGUMENT naming `field`.<part> when the terms are incomplete.
absl::Status ValidateAgreementTerms(const v1::AgreementTerms& terms,
                                    absl::string_view field);

// Checks `event` against the agreement in `view`, by `caller`, at `now`, and
// fills in what the server decides (the signing party, the end of the
// closing period, the review time when unset). NOT_FOUND for a command on
// no agreement; PERMISSION_DENIED when the caller is not a party;
// FAILED_PRECONDITION naming the state and the command when the state does
// not allow it.
absl::Status DecideAgreementCommand(const AgreementView& view,
                                    const v1::Actor& caller, absl::Time now,
                                    v1::EventPayload* event);

// Folds one recorded agreement event into `view`.
absl::Status ApplyAgreementEvent(const v1::RecordedEvent& event,
                                 AgreementView* view);

}  // namespace ycr::domain
