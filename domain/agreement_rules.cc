#include "domain/agreement_rules.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/proto_time.h"
#include "domain/field_checks.h"
#include "domain/refusals.h"

namespace ycr::domain {
namespace {

using State = AgreementView::State;

absl::Status ValidateParty(const v1::Party& party, absl::string_view field) {
  if (absl::Status s =
          ValidId(party.organisation(), absl::StrCat(field, ".organisation"));
      !s.ok()) {
    return s;
  }
  for (auto [value, part] :
       {std::pair{&party.name(), "name"},
        std::pair{&party.address(), "address"},
        std::pair{&party.lead_contact().name(), "lead_contact.name"}}) {
    if (absl::Status s = RequiredText(*value, absl::StrCat(field, ".", part));
        !s.ok()) {
      return s;
    }
  }
  if (party.responsibilities().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".responsibilities: at least one"));
  }
  for (const std::string& r : party.responsibilities()) {
    if (absl::Status s =
            RequiredText(r, absl::StrCat(field, ".responsibilities[]"));
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status Refused(const AgreementView& view, absl::string_view command) {
  return InvalidState(
      "AGREEMENT", Cited("agreement_id", view.agreement_id),
      absl::StrCat("agreement rule: cannot ", command, " an agreement that is ",
                   AgreementStateName(view.state)));
}

}  // namespace

bool AgreementView::InForceAt(absl::Time t) const {
  // From both signatures until the closing period ends (a terminated
  // agreement was in force over that span too).
  if (state == State::kNone || state == State::kDraft) return false;
  if (!in_force_since.has_value() || t < *in_force_since) return false;
  return !closing_period_ends_at.has_value() || t < *closing_period_ends_at;
}

bool AgreementView::IsParty(const std::string& organisation) const {
  return organisation == terms.school().organisation() ||
         organisation == terms.service().organisation();
}

const std::string& AgreementView::OtherParty(
    const std::string& organisation) const {
  return organisation == terms.school().organisation()
             ? terms.service().organisation()
             : terms.school().organisation();
}

std::optional<absl::Time> AgreementView::ReviewDueAt() const {
  std::optional<absl::Time> from =
      last_reviewed_at.has_value() ? last_reviewed_at : in_force_since;
  if (!from.has_value() || terms.review_cadence_months() == 0) {
    return std::nullopt;
  }
  // Calendar months, in UTC; a day past the target month's end (31 January
  // + 1 month) falls on its last day.
  const absl::CivilSecond c = absl::ToCivilSecond(*from, absl::UTCTimeZone());
  const absl::CivilMonth month =
      absl::CivilMonth(c) + terms.review_cadence_months();
  const int last_day = (absl::CivilDay(month + 1) - 1).day();
  const absl::CivilSecond due(month.year(), month.month(),
                              std::min<int>(c.day(), last_day), c.hour(),
                              c.minute(), c.second());
  return absl::FromCivil(due, absl::UTCTimeZone());
}

const v1::AgreementTerms& AgreementView::TermsAt(absl::Time t) const {
  if (terms_history.empty()) return terms;
  for (auto it = terms_history.rbegin(); it != terms_history.rend(); ++it) {
    if (it->from <= t) return it->terms;
  }
  return terms_history.front().terms;
}

uint32_t ResponseDays(const v1::AgreementTerms& terms) {
  return terms.response_time_days() == 0 ? kDefaultResponseDays
                                         : terms.response_time_days();
}

std::string AgreementStateName(State state) {
  switch (state) {
    case State::kNone:
      return "no agreement";
    case State::kDraft:
      return "a draft";
    case State::kInForce:
      return "in force";
    case State::kClosing:
      return "in its closing period";
    case State::kTerminated:
      return "terminated";
  }
  return "unknown";
}

absl::Status ValidateAgreementTerms(const v1::AgreementTerms& terms,
                                    absl::string_view field) {
  if (!terms.has_school()) return FieldRequired(absl::StrCat(field, ".school"));
  if (!terms.has_service()) {
    return FieldRequired(absl::StrCat(field, ".service"));
  }
  if (absl::Status s =
          ValidateParty(terms.school(), absl::StrCat(field, ".school"));
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          ValidateParty(terms.service(), absl::StrCat(field, ".service"));
      !s.ok()) {
    return s;
  }
  if (terms.school().organisation() == terms.service().organisation()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".service.organisation: the parties must differ"));
  }
  if (absl::Status s = OptionalText(terms.funding_note(),
                                    absl::StrCat(field, ".funding_note"));
      !s.ok()) {
    return s;
  }
  if (terms.response_time_days() > 366) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".response_time_days: 1 to 366 (0: 14)"));
  }
  const uint32_t response = terms.response_time_days() == 0
                                ? kDefaultResponseDays
                                : terms.response_time_days();
  if (terms.max_promised_days() != 0) {
    if (!terms.acknowledgement_allowed()) {
      return absl::InvalidArgumentError(absl::StrCat(
          field,
          ".max_promised_days: only where acknowledgement_allowed is set"));
    }
    if (terms.max_promised_days() < response ||
        terms.max_promised_days() > 366) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".max_promised_days: from the response time (",
                       response, ") to 366, or 0 for no limit"));
    }
  }
  if (terms.review_cadence_months() < 1 || terms.review_cadence_months() > 36) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".review_cadence_months: 1 to 36"));
  }
  if (terms.closing_period_days() < 1 || terms.closing_period_days() > 365) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".closing_period_days: 1 to 365"));
  }
  return absl::OkStatus();
}

absl::Status DecideAgreementCommand(const AgreementView& view,
                                    const v1::Actor& caller, absl::Time now,
                                    v1::EventPayload* event) {
  const std::string& own = caller.organisation();
  const bool exists = view.state != State::kNone;
  if (event->has_agreement_drafted()) {
    const auto& e = event->agreement_drafted();
    if (absl::Status s = ValidId(e.agreement_id(), "draft.agreement_id");
        !s.ok()) {
      return s;
    }
    if (absl::Status s = ValidateAgreementTerms(e.terms(), "draft.terms");
        !s.ok()) {
      return s;
    }
    if (own != e.terms().school().organisation() &&
        own != e.terms().service().organisation()) {
      return absl::PermissionDeniedError(absl::StrCat(
          "only a party to the agreement may draft it; the caller acts for ",
          own));
    }
    if (exists) {
      // Its state is for its parties only: ids are one namespace, and
      // another organisation must learn no more than that it is taken.
      const bool party = own == view.terms.school().organisation() ||
                         own == view.terms.service().organisation();
      return InvalidState(
          "AGREEMENT", Cited("agreement_id", view.agreement_id),
          absl::StrCat(
              "agreement rule: agreement ", view.agreement_id,
              " already exists",
              party ? absl::StrCat(" (", AgreementStateName(view.state), ")")
                    : ""));
    }
    return absl::OkStatus();
  }
  if (!exists) return NotFound("agreement");
  if (!view.IsParty(own)) {
    return absl::PermissionDeniedError(
        absl::StrCat("only a party to agreement ", view.agreement_id,
                     " may change it; the caller acts for ", own));
  }
  switch (event->kind_case()) {
    case v1::EventPayload::kAgreementSigned: {
      if (view.state != State::kDraft) return Refused(view, "sign");
      if (std::count(view.signed_by.begin(), view.signed_by.end(), own) > 0) {
        return InvalidState(
            "AGREEMENT", Cited("agreement_id", view.agreement_id),
            absl::StrCat("agreement rule: ", own,
                         " has already signed agreement ", view.agreement_id));
      }
      const std::string& party = event->agreement_signed().party();
      if (!party.empty() && party != own) {
        return absl::PermissionDeniedError(
            absl::StrCat("sign.party: a caller signs only for its own "
                         "organisation; the caller acts for ",
                         own));
      }
      event->mutable_agreement_signed()->set_party(own);
      return absl::OkStatus();
    }
    case v1::EventPayload::kAgreementAmended: {
      const auto& e = event->agreement_amended();
      if (absl::Status s = ValidateAgreementTerms(e.terms(), "amend.terms");
          !s.ok()) {
        return s;
      }
      if (view.state != State::kDraft && view.state != State::kInForce) {
        return Refused(view, "amend");
      }
      if (e.terms().school().organisation() !=
              view.terms.school().organisation() ||
          e.terms().service().organisation() !=
              view.terms.service().organisation()) {
        return InvalidState(
            "AGREEMENT", Cited("agreement_id", view.agreement_id),
            "agreement rule: an amendment cannot change the parties; draft a "
            "new agreement instead");
      }
      return absl::OkStatus();
    }
    case v1::EventPayload::kAgreementReviewed: {
      auto* e = event->mutable_agreement_reviewed();
      // Agreement events concern no young carer and have no personal part
      // to seal: what a review decided is a code, never free text.
      if (e->review_outcome() == v1::REVIEW_OUTCOME_UNSPECIFIED ||
          !v1::ReviewOutcome_IsValid(e->review_outcome())) {
        return absl::InvalidArgumentError(
            "review.review_outcome: is required (continue, amend or end)");
      }
      if (e->has_reviewed_at()) {
        if (absl::Status s =
                RequiredTime(true, e->reviewed_at(), "review.reviewed_at");
            !s.ok()) {
          return s;
        }
      }
      const absl::Time at = TimeOr(e->has_reviewed_at(), e->reviewed_at(), now);
      if (at > now) {
        return absl::InvalidArgumentError(
            "review.reviewed_at: cannot be in the future");
      }
      if (view.state != State::kInForce && view.state != State::kClosing) {
        return Refused(view, "review");
      }
      if (at < *view.in_force_since) {
        return absl::InvalidArgumentError(
            "review.reviewed_at: before the agreement came into force");
      }
      *e->mutable_reviewed_at() = ToProtoTime(at);
      return absl::OkStatus();
    }
    case v1::EventPayload::kAgreementNoticeGiven: {
      auto* e = event->mutable_agreement_notice_given();
      if (e->notice_reason() == v1::NOTICE_REASON_UNSPECIFIED ||
          !v1::NoticeReason_IsValid(e->notice_reason())) {
        return absl::InvalidArgumentError(
            "give_notice.notice_reason: is required (funding ended, service "
            "changed, replaced by a new agreement, or other)");
      }
      if (view.state != State::kInForce) return Refused(view, "give notice on");
      if (!e->party().empty() && e->party() != own) {
        return absl::PermissionDeniedError(absl::StrCat(
            "give_notice.party: a caller gives notice only for its own "
            "organisation; the caller acts for ",
            own));
      }
      e->set_party(own);
      *e->mutable_closing_period_ends_at() =
          ToProtoTime(now + absl::Hours(24) * view.terms.closing_period_days());
      return absl::OkStatus();
    }
    case v1::EventPayload::kAgreementTerminated:
      if (view.state != State::kClosing) return Refused(view, "terminate");
      if (now < *view.closing_period_ends_at) {
        return InvalidState(
            "AGREEMENT", Cited("agreement_id", view.agreement_id),
            absl::StrCat("agreement rule: the closing period runs until ",
                         absl::FormatTime(absl::RFC3339_sec,
                                          *view.closing_period_ends_at,
                                          absl::UTCTimeZone()),
                         "; terminate after it ends"));
      }
      return absl::OkStatus();
    default:
      return absl::InvalidArgumentError("command: is not an agreement command");
  }
}

absl::Status ApplyAgreementEvent(const v1::RecordedEvent& recorded,
                                 AgreementView* view) {
  const v1::EventPayload& event = recorded.payload();
  const absl::Time at = FromProtoTime(recorded.recorded_at());
  auto set_terms = [view, at](const v1::AgreementTerms& terms) {
    view->terms = terms;
    if (view->terms.response_time_days() == 0) {
      view->terms.set_response_time_days(kDefaultResponseDays);
    }
    ++view->terms_version;
    // Until it comes into force, the terms it will come into force with are
    // replaced; once in force, an amendment takes effect when recorded.
    if (view->state == State::kNone || view->state == State::kDraft) {
      view->terms_history = {{absl::InfinitePast(), view->terms}};
    } else {
      view->terms_history.push_back({at, view->terms});
    }
  };
  switch (event.kind_case()) {
    case v1::EventPayload::kAgreementDrafted:
      view->state = State::kDraft;
      view->agreement_id = event.agreement_drafted().agreement_id();
      set_terms(event.agreement_drafted().terms());
      break;
    case v1::EventPayload::kAgreementSigned:
      view->signed_by.push_back(event.agreement_signed().party());
      if (view->signed_by.size() == 2) {
        view->state = State::kInForce;
        view->in_force_since = at;
      }
      break;
    case v1::EventPayload::kAgreementAmended:
      set_terms(event.agreement_amended().terms());
      // A draft's signatures were given to the old terms: both sign again.
      if (view->state == State::kDraft) view->signed_by.clear();
      break;
    case v1::EventPayload::kAgreementReviewed: {
      // A review recorded late (backdated) does not move the last one back.
      const absl::Time reviewed =
          FromProtoTime(event.agreement_reviewed().reviewed_at());
      if (!view->last_reviewed_at.has_value() ||
          reviewed > *view->last_reviewed_at) {
        view->last_reviewed_at = reviewed;
      }
      break;
    }
    case v1::EventPayload::kAgreementNoticeGiven:
      view->state = State::kClosing;
      view->closing_period_ends_at = FromProtoTime(
          event.agreement_notice_given().closing_period_ends_at());
      break;
    case v1::EventPayload::kAgreementTerminated:
      view->state = State::kTerminated;
      view->terminated_at = at;
      break;
    default:
      return absl::InvalidArgumentError("payload: is not an agreement event");
  }
  view->version = recorded.stream_version();
  return absl::OkStatus();
}

}  // namespace ycr::domain
