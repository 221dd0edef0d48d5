#include "domain/erasure_rules.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "domain/field_checks.h"
#include "domain/refusals.h"

namespace ycr::domain {
namespace {

constexpr char kLocalAuthorityRole[] = "local_authority";

absl::Status NoRecord(const std::string& subject) {
  return absl::NotFoundError(
      absl::StrCat("subject ", subject, " has no record"));
}

absl::Status RequireNotErased(const SubjectView& view,
                              const std::string& subject) {
  if (view.erased) {
    return SubjectErased(subject, absl::StrCat("erasure rule: subject ",
                                               subject, " was erased"));
  }
  return absl::OkStatus();
}

}  // namespace

bool ChildProtectionRetained(const ErasureFacts& facts, absl::Time now) {
  if (!facts.date_of_birth.has_value()) return true;
  const absl::CivilDay dob = *facts.date_of_birth;
  const absl::CivilDay until(dob.year() + kChildProtectionRetentionYears,
                             dob.month(), dob.day());
  return now < absl::FromCivil(until, absl::UTCTimeZone());
}

std::optional<v1::ErasureGround> ErasureRefusalGround(const ErasureFacts& facts,
                                                      const std::string& holder,
                                                      absl::Time now) {
  if (!facts.holds.empty()) return v1::ERASURE_GROUND_LEGAL_HOLD;
  const bool holders_own = std::find(facts.child_protection_by.begin(),
                                     facts.child_protection_by.end(),
                                     holder) != facts.child_protection_by.end();
  if (holders_own && ChildProtectionRetained(facts, now)) {
    return v1::ERASURE_GROUND_LEGAL_OBLIGATION;
  }
  return std::nullopt;
}

absl::Status DecideErasure(const v1::SubjectRecord* record,
                           const SubjectView& view, const ErasureFacts& facts,
                           const v1::Actor& caller, absl::Time now,
                           v1::EventPayload* event,
                           std::vector<std::string>* retain) {
  retain->clear();
  const bool refusing = event->has_erasure_refused();
  const std::string subject = refusing ? event->erasure_refused().subject_id()
                                       : event->subject_erased().subject_id();
  const std::string ref = refusing ? event->erasure_refused().request_ref()
                                   : event->subject_erased().request_ref();
  if (absl::Status s = ValidId(subject, "subject_id"); !s.ok()) return s;
  // A reference to the request (its number in the holder's records), not
  // prose: the erasure's event outlives the subject's data, so it may hold
  // nothing about a person.
  if (absl::Status s = ValidId(ref, "request_ref"); !s.ok()) return s;
  if (record == nullptr) return NoRecord(subject);
  if (record->holder() != caller.organisation()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "erasure rule: only the record's holder decides an erasure request; "
        "the caller acts for ",
        caller.organisation()));
  }
  if (absl::Status s = RequireNotErased(view, subject); !s.ok()) return s;
  if (refusing) {
    const v1::ErasureGround g = event->erasure_refused().ground();
    if (g != v1::ERASURE_GROUND_LEGAL_OBLIGATION &&
        g != v1::ERASURE_GROUND_PUBLIC_TASK) {
      return absl::InvalidArgumentError(
          "refuse_on: the holder refuses on LEGAL_OBLIGATION or PUBLIC_TASK "
          "(a legal hold is the server's to apply)");
    }
    return absl::OkStatus();
  }
  std::optional<v1::ErasureGround> ground =
      ErasureRefusalGround(facts, record->holder(), now);
  if (!ground.has_value()) {
    event->mutable_subject_erased()->set_holder(record->holder());
    // Others' child-protection records stay, unnamed (the holder is not
    // one of them: it would have been refused).
    if (ChildProtectionRetained(facts, now))
      *retain = facts.child_protection_by;
    return absl::OkStatus();
  }
  v1::ErasureRefused refused;
  refused.set_subject_id(subject);
  refused.set_request_ref(ref);
  refused.set_ground(*ground);
  if (*ground == v1::ERASURE_GROUND_LEGAL_HOLD) {
    for (const std::string& id : facts.holds) refused.add_hold_ids(id);
  }
  *event->mutable_erasure_refused() = std::move(refused);
  return absl::OkStatus();
}

absl::Status DecidePlaceHold(const v1::SubjectRecord* record,
                             const std::string& holder_area,
                             const SubjectView& view, const v1::Actor& caller,
                             v1::EventPayload* event) {
  v1::LegalHoldPlaced* hold = event->mutable_legal_hold_placed();
  if (absl::Status s = ValidId(hold->subject_id(), "hold.subject_id");
      !s.ok()) {
    return s;
  }
  if (absl::Status s = ValidId(hold->hold_id(), "hold.hold_id"); !s.ok()) {
    return s;
  }
  // Why is free text (it may name the inquiry or the person): sealed.
  if (absl::Status s =
          RequiredTextFor(event->personal().reason(), "personal.reason",
                          "why the hold is placed");
      !s.ok()) {
    return s;
  }
  if (!hold->organisation().empty() &&
      hold->organisation() != caller.organisation()) {
    return absl::PermissionDeniedError(
        "hold.organisation: must be the caller's organisation (or empty)");
  }
  if (record == nullptr) return NoRecord(hold->subject_id());
  if (caller.role() == kLocalAuthorityRole) {
    if (holder_area != caller.organisation()) {
      // Neither the holder nor its area is named.
      return absl::PermissionDeniedError(absl::StrCat(
          "legal hold rule: a local authority places holds on the records of "
          "its area only; subject ",
          hold->subject_id(), "'s record is held outside the area of ",
          caller.organisation()));
    }
  } else if (record->holder() != caller.organisation()) {
    return absl::PermissionDeniedError(
        "legal hold rule: a hold is placed by the local authority of the "
        "record's area or by the record's holder");
  }
  if (absl::Status s = RequireNotErased(view, hold->subject_id()); !s.ok()) {
    return s;
  }
  if (view.holds.contains(hold->hold_id())) {
    return absl::AlreadyExistsError(absl::StrCat(
        "hold.hold_id: hold ", hold->hold_id(), " is already in force"));
  }
  hold->set_organisation(caller.organisation());
  return absl::OkStatus();
}

absl::Status DecideLiftHold(const SubjectView& view, const v1::Actor& caller,
                            const v1::EventPayload& event) {
  const v1::LegalHoldLifted& lift = event.legal_hold_lifted();
  if (absl::Status s = ValidId(lift.hold_id(), "hold_id"); !s.ok()) return s;
  // Who has placed no hold on the subject learns nothing of the holds in
  // force (an inquiry, a litigation) nor of who placed them: one answer,
  // whatever the id.
  bool placed_one = false;
  for (const auto& [id, organisation] : view.holds) {
    placed_one = placed_one || organisation == caller.organisation();
  }
  const absl::Status not_placer = absl::PermissionDeniedError(
      absl::StrCat("legal hold rule: a hold is lifted only by the "
                   "organisation that placed it; ",
                   caller.organisation(), " placed no hold in force on ",
                   lift.subject_id()));
  if (!placed_one) return not_placer;
  auto it = view.holds.find(lift.hold_id());
  if (it == view.holds.end()) {
    return absl::NotFoundError(absl::StrCat("hold_id: no hold ", lift.hold_id(),
                                            " is in force on ",
                                            lift.subject_id()));
  }
  if (it->second != caller.organisation()) {
    return absl::PermissionDeniedError(
        absl::StrCat("legal hold rule: hold ", lift.hold_id(),
                     " is lifted only by the organisation that placed it"));
  }
  return absl::OkStatus();
}

}  // namespace ycr::domain
