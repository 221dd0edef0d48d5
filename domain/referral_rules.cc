#include "domain/referral_rules.h"

#include <initializer_list>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "domain/refusals.h"
#include "domain/sharing_rules.h"

namespace ycr::domain {
namespace {

using Case = v1::EventPayload::KindCase;
using State = v1::ReferralState;

// Which party makes a transition.
enum class Side { kSchool, kService, kEither };

// A transition's target: a fixed state, the same state, or the state held
// from.
constexpr State kSame = v1::REFERRAL_STATE_UNSPECIFIED;
constexpr State kHeldFrom = static_cast<State>(-1);

struct Transition {
  Case event;
  const char* name;
  Side side;
  std::vector<State> from;  // Empty: only when there is no referral yet.
  State to;
};

const std::vector<Transition>& Transitions() {
  using namespace v1;  // NOLINT: the table reads better unqualified.
  static const auto* kTable = new std::vector<Transition>{
      {EventPayload::kReferralSubmitted,
       "submit",
       Side::kSchool,
       {},
       REFERRAL_STATE_SUBMITTED},
      {EventPayload::kReferralReceived,
       "receive",
       Side::kService,
       {REFERRAL_STATE_SUBMITTED},
       REFERRAL_STATE_RECEIVED},
      {EventPayload::kReferralAccepted,
       "accept",
       Side::kService,
       {REFERRAL_STATE_SUBMITTED, REFERRAL_STATE_RECEIVED},
       REFERRAL_STATE_ACCEPTED},
      {EventPayload::kReferralDeclined,
       "decline",
       Side::kService,
       {REFERRAL_STATE_SUBMITTED, REFERRAL_STATE_RECEIVED},
       REFERRAL_STATE_DECLINED},
      {EventPayload::kAssessmentScheduled,
       "schedule assessment",
       Side::kService,
       {REFERRAL_STATE_ACCEPTED, REFERRAL_STATE_ASSESSMENT_SCHEDULED},
       REFERRAL_STATE_ASSESSMENT_SCHEDULED},
      {EventPayload::kAssessmentCompleted,
       "complete assessment",
       Side::kService,
       {REFERRAL_STATE_ASSESSMENT_SCHEDULED},
       REFERRAL_STATE_ASSESSMENT_COMPLETED},
      {EventPayload::kReferralRegistered,
       "register",
       Side::kService,
       {REFERRAL_STATE_ASSESSMENT_COMPLETED},
       REFERRAL_STATE_REGISTERED},
      {EventPayload::kReferralHeld,
       "hold",
       Side::kService,
       {REFERRAL_STATE_ACCEPTED, REFERRAL_STATE_ASSESSMENT_SCHEDULED,
        REFERRAL_STATE_ASSESSMENT_COMPLETED, REFERRAL_STATE_REGISTERED},
       REFERRAL_STATE_ON_HOLD},
      {EventPayload::kReferralResumed,
       "resume",
       Side::kService,
       {REFERRAL_STATE_ON_HOLD},
       kHeldFrom},
      {EventPayload::kReferralClosed,
       "close",
       Side::kService,
       {REFERRAL_STATE_ACCEPTED, REFERRAL_STATE_ASSESSMENT_COMPLETED,
        REFERRAL_STATE_REGISTERED, REFERRAL_STATE_ON_HOLD},
       REFERRAL_STATE_CLOSED},
      {EventPayload::kReferralWithdrawn,
       "withdraw",
       Side::kSchool,
       {REFERRAL_STATE_SUBMITTED, REFERRAL_STATE_RECEIVED,
        REFERRAL_STATE_ACCEPTED, REFERRAL_STATE_ASSESSMENT_SCHEDULED,
        REFERRAL_STATE_ASSESSMENT_COMPLETED, REFERRAL_STATE_ON_HOLD},
       REFERRAL_STATE_WITHDRAWN},
      {EventPayload::kReferralCancelled,
       "cancel",
       Side::kEither,
       {REFERRAL_STATE_SUBMITTED, REFERRAL_STATE_RECEIVED,
        REFERRAL_STATE_ACCEPTED, REFERRAL_STATE_ASSESSMENT_SCHEDULED,
        REFERRAL_STATE_ASSESSMENT_COMPLETED, REFERRAL_STATE_REGISTERED,
        REFERRAL_STATE_ON_HOLD},
       REFERRAL_STATE_CANCELLED},
      {EventPayload::kReferralEnteredInError,
       "mark entered in error",
       Side::kSchool,
       {REFERRAL_STATE_SUBMITTED, REFERRAL_STATE_RECEIVED,
        REFERRAL_STATE_ACCEPTED, REFERRAL_STATE_DECLINED,
        REFERRAL_STATE_ASSESSMENT_SCHEDULED,
        REFERRAL_STATE_ASSESSMENT_COMPLETED, REFERRAL_STATE_REGISTERED,
        REFERRAL_STATE_ON_HOLD, REFERRAL_STATE_CLOSED, REFERRAL_STATE_WITHDRAWN,
        REFERRAL_STATE_CANCELLED},
       REFERRAL_STATE_ENTERED_IN_ERROR},
      {EventPayload::kReferralTransferred,
       "transfer",
       Side::kSchool,
       {REFERRAL_STATE_SUBMITTED, REFERRAL_STATE_RECEIVED,
        REFERRAL_STATE_ACCEPTED, REFERRAL_STATE_ASSESSMENT_SCHEDULED,
        REFERRAL_STATE_ASSESSMENT_COMPLETED, REFERRAL_STATE_REGISTERED,
        REFERRAL_STATE_ON_HOLD},
       kSame},
  };
  return *kTable;
}

const Transition* Find(Case event) {
  for (const Transition& t : Transitions()) {
    if (t.event == event) return &t;
  }
  return nullptr;
}

absl::Status Required(const std::string& value, absl::string_view field) {
  if (absl::StripAsciiWhitespace(value).empty()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": is required"));
  }
  return absl::OkStatus();
}

absl::Status CheckFields(const ReferralView& view,
                         const v1::EventPayload& event) {
  switch (event.kind_case()) {
    case v1::EventPayload::kReferralSubmitted: {
      const auto& e = event.referral_submitted();
      for (auto [value, field] : {std::pair{&e.referral_id(), "referral_id"},
                                  std::pair{&e.subject_id(), "subject_id"},
                                  std::pair{&e.school(), "school"},
                                  std::pair{&e.service(), "service"}}) {
        if (absl::Status s = Required(*value, field); !s.ok()) return s;
      }
      return absl::OkStatus();
    }
    // Reasons are free text about the young carer: they travel in the
    // personal part, sealed under the subject's key.
    case v1::EventPayload::kReferralDeclined:
      return RequiredTextFor(event.personal().reason(), "personal.reason",
                             "the eligibility reason");
    case v1::EventPayload::kAssessmentScheduled:
      if (!event.assessment_scheduled().has_scheduled_for()) {
        return absl::InvalidArgumentError("scheduled_for: is required");
      }
      return absl::OkStatus();
    case v1::EventPayload::kAssessmentCompleted:
      if (event.personal().needs().empty()) {
        return absl::InvalidArgumentError(
            "personal.needs: at least one need (the assessment's findings)");
      }
      return absl::OkStatus();
    case v1::EventPayload::kReferralClosed:
    case v1::EventPayload::kReferralEnteredInError:
      return Required(event.personal().reason(), "personal.reason");
    case v1::EventPayload::kReferralTransferred: {
      const std::string& to = event.referral_transferred().to_school();
      if (absl::Status s = Required(to, "to_school"); !s.ok()) return s;
      if (to == view.school) {
        return absl::InvalidArgumentError(
            "to_school: is already the referral's school");
      }
      return absl::OkStatus();
    }
    default:
      return absl::OkStatus();
  }
}

}  // namespace

bool IsTerminal(v1::ReferralState state) {
  return state == v1::REFERRAL_STATE_DECLINED ||
         state == v1::REFERRAL_STATE_CLOSED ||
         state == v1::REFERRAL_STATE_WITHDRAWN ||
         state == v1::REFERRAL_STATE_CANCELLED ||
         state == v1::REFERRAL_STATE_ENTERED_IN_ERROR;
}

std::string StateName(v1::ReferralState state) {
  if (state == v1::REFERRAL_STATE_UNSPECIFIED) return "no referral";
  std::string name = v1::ReferralState_Name(state);
  absl::string_view rest = absl::StripPrefix(name, "REFERRAL_STATE_");
  std::string out = absl::StrReplaceAll(rest, {{"_", " "}});
  absl::AsciiStrToLower(&out);
  return out;
}

absl::Status CheckReferralTransition(const ReferralView& view,
                                     const v1::EventPayload& event,
                                     const v1::Actor& caller) {
  const Transition* t = Find(event.kind_case());
  if (t == nullptr) {
    return absl::InvalidArgumentError("payload: is not a referral event");
  }
  if (absl::Status s = CheckFields(view, event); !s.ok()) return s;
  const bool exists = view.state != v1::REFERRAL_STATE_UNSPECIFIED;
  const auto side_refusal = [&]() {
    return absl::PermissionDeniedError(absl::StrCat(
        "only the referral's ",
        t->side == Side::kSchool    ? "school"
        : t->side == Side::kService ? "service"
                                    : "school or service",
        " may ", t->name, " it; the caller acts for ", caller.organisation()));
  };
  // A referral's state is for its school and service only: anyone else (an
  // id is one namespace) is refused before its state is looked at.
  if (exists && caller.organisation() != view.school &&
      caller.organisation() != view.service) {
    return side_refusal();
  }
  bool allowed = t->from.empty() ? !exists : false;
  for (State s : t->from) allowed = allowed || s == view.state;
  if (!allowed) {
    const std::string& id =
        exists ? view.referral_id : event.referral_submitted().referral_id();
    return InvalidState(
        "REFERRAL", Cited("referral_id", id),
        exists ? absl::StrCat("referral state machine: cannot ", t->name,
                              " a referral that is ", StateName(view.state))
               : absl::StrCat("referral state machine: cannot ", t->name,
                              ": no referral has been submitted"));
  }
  const std::string& own = caller.organisation();
  const std::string& school =
      exists ? view.school : event.referral_submitted().school();
  const bool is_school = own == school;
  const bool is_service = exists && own == view.service;
  const bool side_ok = (t->side == Side::kSchool && is_school) ||
                       (t->side == Side::kService && is_service) ||
                       (t->side == Side::kEither && (is_school || is_service));
  if (!side_ok) return side_refusal();
  return absl::OkStatus();
}

absl::Status ValidateReferralDisclosure(const ReferralView& view,
                                        const v1::EventPayload& event,
                                        const v1::Actor& caller) {
  if (event.has_referral_submitted()) {
    const v1::ReferralSubmitted& submit = event.referral_submitted();
    if (!submit.has_disclosure()) {
      return absl::InvalidArgumentError(
          "submit.disclosure: is required (a referral discloses the pupil's "
          "data to the service: say what, and on what basis)");
    }
    return ValidateEmbeddedDisclosure(
        submit.disclosure(), event.personal(), caller, "submit.disclosure",
        submit.subject_id(), submit.service(), v1::PURPOSE_REFERRAL);
  }
  if (event.has_referral_transferred()) {
    const v1::ReferralTransferred& transfer = event.referral_transferred();
    if (!transfer.has_disclosure()) {
      return absl::InvalidArgumentError(
          "transfer.disclosure: is required (the new school learns of the "
          "caring role: say what, and on what basis)");
    }
    return ValidateEmbeddedDisclosure(
        transfer.disclosure(), event.personal(), caller, "transfer.disclosure",
        view.subject_id, transfer.to_school(), v1::PURPOSE_UNSPECIFIED);
  }
  return absl::OkStatus();
}

absl::Status ApplyReferralEvent(const v1::EventPayload& event, uint64_t version,
                                ReferralView* view) {
  const Transition* t = Find(event.kind_case());
  if (t == nullptr) {
    return absl::InvalidArgumentError("payload: is not a referral event");
  }
  if (event.has_referral_submitted()) {
    const auto& e = event.referral_submitted();
    view->referral_id = e.referral_id();
    view->subject_id = e.subject_id();
    view->school = e.school();
    view->service = e.service();
  }
  if (event.has_referral_transferred()) {
    view->school = event.referral_transferred().to_school();
  }
  if (t->to == kHeldFrom) {
    view->state = view->held_from;
    view->held_from = v1::REFERRAL_STATE_UNSPECIFIED;
  } else if (t->to != kSame) {
    if (t->to == v1::REFERRAL_STATE_ON_HOLD) view->held_from = view->state;
    view->state = t->to;
  }
  view->version = version;
  return absl::OkStatus();
}

}  // namespace ycr::domain
