#pragma once

// The review of child-protection records kept past an erasure (DOMAIN.md,
// data rights; IRMS: a school's child-protection file is kept until the
// child's date of birth + 25 years, then reviewed).
//
// - An erasure that keeps an organisation's child-protection records
//   (erasure_rules.h) records for each such organisation a review date:
//   the subject's date of birth + 25 years, or, when the record has no date
//   of birth, the erasure's date + 25 years (the longest a child's file can
//   still be running; a review that comes early costs a decision, one that
//   comes late keeps a record past its time). The date is sealed under that
//   organisation's child-protection key, so it goes with the records.
// - Once due, the keeping organisation decides: DESTROY (its key for the
//   subject is destroyed, as an erasure destroys one) or KEEP until a later
//   date, for a reason from a closed list.
// - No decision before the date: the records must be kept until then (an
//   early destruction would break the retention duty the erasure honoured);
//   a KEEP before the date would only move a date nobody is due to act on.
// - Only the keeping organisation decides, and only it (and auditors) learn
//   that a record is kept: any other caller is answered as an organisation
//   that keeps none, whether the subject was erased or not.

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "domain/subject_rules.h"
#include "ycr/v1/event.pb.h"

namespace ycr::domain {

// A KEEP sets the next review at most this many years after the decision.
inline constexpr int kMaxKeepYears = 10;

// The review date an erasure at `erased_at` records for kept records: the
// date of birth + 25 years (kChildProtectionRetentionYears), or the
// erasure's date + 25 years when the date of birth is unknown.
absl::CivilDay KeptReviewDay(const std::optional<absl::CivilDay>& date_of_birth,
                             absl::Time erased_at);

// The form the review date takes in a child_protection_kept's sealed part
// (PersonalData.notes), and back. nullopt for anything else.
std::string KeptReviewNote(absl::CivilDay day);
std::optional<absl::Time> ParseKeptReviewNote(const std::string& note);

// The one child_protection_kept an erasure of `subject_id` writes, naming
// `keepers` (the organisations whose records it kept; may be none);
// `review` the review day.
v1::EventPayload KeptEvent(const std::string& subject_id,
                           std::vector<std::string> keepers,
                           absl::CivilDay review);

// The organisations a child_protection_kept kept records of: its keepers,
// or the one `organisation` of a store written before one event per
// erasure.
std::vector<std::string> KeepersOf(const v1::ChildProtectionKept& kept);

// INVALID_ARGUMENT naming the field: decision DESTROY or KEEP; a KEEP with
// next_review_at after `now` and at most kMaxKeepYears later, and a known
// keep_reason; a DESTROY with neither.
absl::Status ValidateRetentionReview(const v1::ChildProtectionReviewed& review,
                                     absl::Time now);

// FAILED_PRECONDITION unless `caller`'s organisation keeps child-protection
// records about the subject past an erasure (the same words whether the
// subject was erased or not, so no one else learns either).
absl::StatusOr<const KeptRecord*> CallersKeptRecord(const SubjectView& view,
                                                    const v1::Actor& caller,
                                                    const std::string& subject);

// FAILED_PRECONDITION while `due` (the review date in force) is after
// `now`.
absl::Status RequireReviewDue(const std::string& subject, absl::Time due,
                              absl::Time now);

}  // namespace ycr::domain
