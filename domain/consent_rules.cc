#include "domain/consent_rules.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/proto_time.h"
#include "domain/field_checks.h"
#include "domain/refusals.h"

namespace ycr::domain {
namespace {

std::string Format(absl::Time t) {
  return absl::FormatTime(absl::RFC3339_sec, t, absl::UTCTimeZone());
}

// INVALID_ARGUMENT naming effective_at unless it is a valid timestamp from
// kEarliestEffectiveDate to kWithdrawalHorizonYears after `now`.
absl::Status ValidateEffectiveAt(const v1::ConsentWithdrawn& e,
                                 absl::Time now) {
  if (!e.has_effective_at()) {
    return absl::InvalidArgumentError("effective_at: is required");
  }
  if (absl::Status s = RequiredTime(true, e.effective_at(), "effective_at");
      !s.ok()) {
    return s;
  }
  const absl::Time at = FromProtoTime(e.effective_at());
  const absl::Time earliest =
      absl::FromCivil(kEarliestEffectiveDate, absl::UTCTimeZone());
  if (at < earliest) {
    return absl::InvalidArgumentError(
        absl::StrCat("effective_at: not before ", Format(earliest)));
  }
  const absl::CivilSecond c = absl::ToCivilSecond(now, absl::UTCTimeZone());
  const absl::Time latest = absl::FromCivil(
      absl::CivilSecond(c.year() + kWithdrawalHorizonYears, c.month(), c.day(),
                        c.hour(), c.minute(), c.second()),
      absl::UTCTimeZone());
  if (at > latest) {
    return absl::InvalidArgumentError(
        absl::StrCat("effective_at: at most ", kWithdrawalHorizonYears,
                     " years ahead (no later than ", Format(latest), ")"));
  }
  return absl::OkStatus();
}

absl::Status ValidateGiver(const v1::ConsentGiver& giver) {
  switch (giver.kind_case()) {
    case v1::ConsentGiver::kParent:
      if (giver.parent().person_ref().empty()) {
        return FieldRequired("given_by.parent.person_ref");
      }
      // A reference to the person in the sealed record, never their name.
      if (absl::Status s = ValidId(giver.parent().person_ref(),
                                   "given_by.parent.person_ref");
          !s.ok()) {
        return s;
      }
      // A code, in a plain event: never free text about the parent.
      return CheckCode(giver.parent().relationship(),
                       "given_by.parent.relationship", RelationshipCodes(),
                       /*optional=*/true);
    case v1::ConsentGiver::kYoungPerson: {
      const auto& a = giver.young_person();
      if (a.assessed_by_user().empty() ||
          a.assessed_by_organisation().empty() || !a.has_assessed_at()) {
        return absl::InvalidArgumentError(
            "given_by.young_person: the competence assessment needs "
            "assessed_by_user, assessed_by_organisation and assessed_at");
      }
      if (!a.competent()) {
        return InvalidState(
            "COMPETENCE", "given_by.young_person",
            "competence rule: the young person was assessed as not "
            "competent to decide; a person with parental responsibility "
            "must decide");
      }
      return absl::OkStatus();
    }
    default:
      return absl::InvalidArgumentError(
          "given_by: say who decided (parent or young_person)");
  }
}

bool RecipientCovers(const v1::Recipient& allowed, const v1::Recipient& to) {
  return allowed.organisation() == to.organisation() &&
         (allowed.role().empty() || allowed.role() == to.role());
}

}  // namespace

absl::Status ValidateTerms(const v1::ConsentTerms& terms,
                           absl::string_view field) {
  if (terms.purposes().empty() ||
      std::count(terms.purposes().begin(), terms.purposes().end(),
                 v1::PURPOSE_UNSPECIFIED) > 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".purposes: at least one, none unspecified"));
  }
  if (terms.categories().empty() ||
      std::count(terms.categories().begin(), terms.categories().end(),
                 v1::DATA_CATEGORY_UNSPECIFIED) > 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".categories: at least one, none unspecified"));
  }
  if (terms.recipients().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".recipients: at least one"));
  }
  for (int i = 0; i < terms.recipients_size(); ++i) {
    if (terms.recipients(i).organisation().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ".recipients[", i, "].organisation: is required"));
    }
  }
  if (!terms.has_valid_from()) {
    return FieldRequired(absl::StrCat(field, ".valid_from"));
  }
  if (!terms.has_valid_until()) {
    return FieldRequired(absl::StrCat(field, ".valid_until"));
  }
  if (FromProtoTime(terms.valid_until()) <= FromProtoTime(terms.valid_from())) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".valid_until: must be after valid_from"));
  }
  return absl::OkStatus();
}

bool ConsentView::WithdrawnBy(absl::Time t) const {
  return withdrawn_at.has_value() && t >= *withdrawn_at;
}

absl::Status CheckConsentCommand(const ConsentView& view,
                                 const v1::EventPayload& event,
                                 absl::Time now) {
  const bool exists = view.decision != ConsentView::Decision::kNone;
  // Granted, and no withdrawal in effect yet (one may be scheduled).
  const bool live = view.decision == ConsentView::Decision::kGranted &&
                    !view.WithdrawnBy(now);
  switch (event.kind_case()) {
    case v1::EventPayload::kConsentGranted:
    case v1::EventPayload::kConsentRefused: {
      const bool granted = event.has_consent_granted();
      const auto& id = granted ? event.consent_granted().consent_id()
                               : event.consent_refused().consent_id();
      const auto& subject = granted ? event.consent_granted().subject_id()
                                    : event.consent_refused().subject_id();
      if (id.empty()) return FieldRequired("consent_id");
      if (subject.empty()) return FieldRequired("subject_id");
      if (absl::Status s =
              ValidateTerms(granted ? event.consent_granted().terms()
                                    : event.consent_refused().terms(),
                            "terms");
          !s.ok()) {
        return s;
      }
      if (exists) {
        return InvalidState(
            "CONSENT", Cited("consent_id", view.consent_id),
            absl::StrCat(
                "consent ", view.consent_id,
                " already has a decision; vary or withdraw it, or record a new "
                "consent"));
      }
      return ValidateGiver(granted ? event.consent_granted().given_by()
                                   : event.consent_refused().given_by());
    }
    case v1::EventPayload::kConsentVaried:
      if (absl::Status s =
              ValidateTerms(event.consent_varied().terms(), "terms");
          !s.ok()) {
        return s;
      }
      if (!live) {
        return InvalidState(
            "CONSENT", Cited("consent_id", view.consent_id),
            "only a granted consent whose withdrawal has not taken effect can "
            "be varied");
      }
      return absl::OkStatus();
    case v1::EventPayload::kConsentWithdrawn: {
      if (absl::Status s = ValidateEffectiveAt(event.consent_withdrawn(), now);
          !s.ok()) {
        return s;
      }
      if (!live) {
        return InvalidState(
            "CONSENT", Cited("consent_id", view.consent_id),
            "only a granted consent whose withdrawal has not taken effect can "
            "be withdrawn");
      }
      const absl::Time at =
          FromProtoTime(event.consent_withdrawn().effective_at());
      if (at < now) {
        return InvalidState(
            "CONSENT", Cited("consent_id", view.consent_id),
            "withdrawal is prospective: effective_at cannot be in the past");
      }
      // A scheduled withdrawal never blocks an earlier one ("stop now"
      // always wins); a later one would change nothing.
      if (view.withdrawn_at.has_value() && at >= *view.withdrawn_at) {
        return InvalidState(
            "CONSENT", Cited("consent_id", view.consent_id),
            absl::StrCat("withdrawal rule: consent ", view.consent_id,
                         " already has a withdrawal taking effect at ",
                         Format(*view.withdrawn_at),
                         "; only an earlier withdrawal changes anything"));
      }
      return absl::OkStatus();
    }
    default:
      return absl::InvalidArgumentError("payload: is not a consent event");
  }
}

void ApplyLaterWithdrawal(const v1::EventPayload& event, ConsentView* view) {
  if (!event.has_consent_withdrawn()) return;
  // The earliest withdrawal recorded wins.
  const absl::Time at = FromProtoTime(event.consent_withdrawn().effective_at());
  if (!view->withdrawn_at.has_value() || at < *view->withdrawn_at) {
    view->withdrawn_at = at;
  }
}

absl::Status ApplyConsentEvent(const v1::EventPayload& event, uint64_t version,
                               ConsentView* view) {
  switch (event.kind_case()) {
    case v1::EventPayload::kConsentGranted:
      view->decision = ConsentView::Decision::kGranted;
      view->consent_id = event.consent_granted().consent_id();
      view->subject_id = event.consent_granted().subject_id();
      view->terms = event.consent_granted().terms();
      break;
    case v1::EventPayload::kConsentRefused:
      view->decision = ConsentView::Decision::kRefused;
      view->consent_id = event.consent_refused().consent_id();
      view->subject_id = event.consent_refused().subject_id();
      view->terms = event.consent_refused().terms();
      break;
    case v1::EventPayload::kConsentVaried:
      view->terms = event.consent_varied().terms();
      break;
    case v1::EventPayload::kConsentWithdrawn:
      ApplyLaterWithdrawal(event, view);
      break;
    default:
      return absl::InvalidArgumentError("payload: is not a consent event");
  }
  view->version = version;
  return absl::OkStatus();
}

absl::Status CheckConsentCovers(const ConsentView& consent,
                                const ProposedDisclosure& disclosure) {
  auto refuse = [&](absl::string_view why) {
    return NotCovered("CONSENT", Cited("consent_id", consent.consent_id),
                      absl::StrCat("consent ", consent.consent_id, " (version ",
                                   consent.version,
                                   ") does not cover this disclosure: ", why));
  };
  switch (consent.decision) {
    case ConsentView::Decision::kNone:
      return refuse("there is no such consent");
    case ConsentView::Decision::kRefused:
      return refuse("consent was refused");
    case ConsentView::Decision::kGranted:
      break;
  }
  if (consent.subject_id != disclosure.subject_id) {
    return refuse("it is about another subject");
  }
  if (consent.withdrawn_at.has_value() &&
      disclosure.at >= *consent.withdrawn_at) {
    return refuse(absl::StrCat("withdrawn from ",
                               absl::FormatTime(*consent.withdrawn_at)));
  }
  const absl::Time from = FromProtoTime(consent.terms.valid_from());
  const absl::Time until = FromProtoTime(consent.terms.valid_until());
  if (disclosure.at < from) {
    return refuse(absl::StrCat("not valid until ", absl::FormatTime(from)));
  }
  if (disclosure.at >= until) {
    return refuse(absl::StrCat("expired at ", absl::FormatTime(until)));
  }
  const auto& recipients = consent.terms.recipients();
  if (std::none_of(recipients.begin(), recipients.end(),
                   [&](const v1::Recipient& r) {
                     return RecipientCovers(r, disclosure.to);
                   })) {
    return refuse(absl::StrCat("recipient ", disclosure.to.organisation(),
                               disclosure.to.role().empty() ? "" : "/",
                               disclosure.to.role(), " is not named"));
  }
  const auto& purposes = consent.terms.purposes();
  if (std::find(purposes.begin(), purposes.end(), disclosure.purpose) ==
      purposes.end()) {
    return refuse(absl::StrCat("purpose ", v1::Purpose_Name(disclosure.purpose),
                               " is not consented to"));
  }
  std::vector<std::string> missing;
  const auto& categories = consent.terms.categories();
  for (v1::DataCategory c : disclosure.categories) {
    if (std::find(categories.begin(), categories.end(), c) ==
        categories.end()) {
      missing.push_back(v1::DataCategory_Name(c));
    }
  }
  if (!missing.empty()) {
    return refuse(absl::StrCat("data categories ", absl::StrJoin(missing, ", "),
                               " are not consented to"));
  }
  if (disclosure.categories.empty()) {
    return refuse("a disclosure must name its data categories");
  }
  return absl::OkStatus();
}

}  // namespace ycr::domain
