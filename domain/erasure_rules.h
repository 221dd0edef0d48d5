#pragma once

// Erasure and legal holds (DOMAIN.md, data rights): who decides, when the
// server must refuse, and on which ground.
//
// - An erasure request is decided by the record's holder (the controller
//   that holds the pupil's file). The holder may refuse it on a ground of
//   its own (legal obligation, public task); the server cannot know every
//   such reason, so the refusal is the holder's, recorded with the ground.
// - The server refuses by itself (UK GDPR Art. 17(3)(b)):
//   * while a legal hold is in force (LEGAL_HOLD), first, since a hold
//     stops any destruction whatever else applies;
//   * while the holder itself has a child-protection record about the
//     subject (a safeguarding concern it raised, a disclosure it made on a
//     safeguarding basis, a decision not to share within a concern) and
//     the subject's date of birth + 25 years has not been reached
//     (LEGAL_OBLIGATION: such files are kept until then, IRMS toolkit).
// - Another organisation's child-protection records are kept for the same
//   period, but they do not stop the erasure and the answer does not differ
//   from any other child's: everything else is destroyed and those records
//   alone stay, sealed under their organisation's own key (storage/
//   subject_keys.h). The holder must not learn that another organisation
//   raised a concern it chose not to share.
// - A legal hold is placed by the local authority (it brings or answers
//   proceedings, and runs serious case reviews) or by the record's holder,
//   and lifted only by the organisation that placed it.

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "domain/subject_rules.h"
#include "ycr/v1/event.pb.h"

namespace ycr::domain {

// Child-protection files are kept until date of birth + this many years.
inline constexpr int kChildProtectionRetentionYears = 25;

// What the server knows about a subject when an erasure is asked for.
struct ErasureFacts {
  // Legal holds in force (ids).
  std::vector<std::string> holds;
  // The organisations that raised a concern about the subject, made a
  // disclosure about them on a safeguarding basis, or declined to share
  // within a concern (sorted, each once).
  std::vector<std::string> child_protection_by;
  // nullopt when unknown (then the retention period is taken as running).
  std::optional<absl::CivilDay> date_of_birth;
};

// True while child-protection records about the subject must be kept (its
// date of birth + kChildProtectionRetentionYears not reached; an unknown
// date of birth counts as not reached).
bool ChildProtectionRetained(const ErasureFacts& facts, absl::Time now);

// The ground on which the server must refuse an erasure asked for by
// `holder`, or nullopt when the law allows it.
std::optional<v1::ErasureGround> ErasureRefusalGround(const ErasureFacts& facts,
                                                      const std::string& holder,
                                                      absl::Time now);

// Checks an erasure request from `caller` on a subject whose record is
// `record` (nullptr: none) and stream view `view`, and completes `event`
// (a subject_erased, or an erasure_refused when the holder refuses): the
// server's own refusal ground replaces an erasure (ErasureRefused with the
// ground and, for a hold, the holds). NOT_FOUND without a record;
// PERMISSION_DENIED unless the caller's organisation holds the record;
// FAILED_PRECONDITION when already erased; INVALID_ARGUMENT for a missing
// or malformed request_ref or a refusal ground the holder may not give.
// When the event is a subject_erased, `retain` receives the organisations
// whose child-protection keys the erasure keeps (never named in the event).
absl::Status DecideErasure(const v1::SubjectRecord* record,
                           const SubjectView& view, const ErasureFacts& facts,
                           const v1::Actor& caller, absl::Time now,
                           v1::EventPayload* event,
                           std::vector<std::string>* retain);

// Places a hold (`event` a legal_hold_placed; organisation filled in).
// NOT_FOUND without a record; PERMISSION_DENIED unless the caller is the
// local authority of the holder's area or the record's holder; ALREADY_EXISTS
// for a hold id in force; FAILED_PRECONDITION once erased; INVALID_ARGUMENT
// naming the field. `holder_area` is the local authority whose area the
// record's holder is in
// ("" for none): a local authority places holds only on its area's records.
absl::Status DecidePlaceHold(const v1::SubjectRecord* record,
                             const std::string& holder_area,
                             const SubjectView& view, const v1::Actor& caller,
                             v1::EventPayload* event);

// Lifts a hold (`event` a legal_hold_lifted). PERMISSION_DENIED, the same
// whatever the id, when the caller's organisation placed no hold in force
// on the subject; then NOT_FOUND for a hold not in force, PERMISSION_DENIED
// (naming no one) for another organisation's.
absl::Status DecideLiftHold(const SubjectView& view, const v1::Actor& caller,
                            const v1::EventPayload& event);

}  // namespace ycr::domain
