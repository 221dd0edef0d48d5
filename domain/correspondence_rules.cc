#include "domain/correspondence_rules.h"

#include "absl/strings/str_cat.h"
#include "common/proto_time.h"
#include "domain/field_checks.h"
#include "domain/refusals.h"

namespace ycr::domain {
namespace {

using State = CorrespondenceView::State;

std::string Format(absl::Time t) {
  return absl::FormatTime(absl::RFC3339_sec, t, absl::UTCTimeZone());
}

absl::Duration Days(uint32_t days) { return absl::Hours(24) * days; }

absl::Status ValidateReceived(const v1::CorrespondenceReceived& e) {
  if (absl::Status s =
          ValidId(e.correspondence_id(), "receive.correspondence_id");
      !s.ok()) {
    return s;
  }
  if (absl::Status s = ValidId(e.agreement_id(), "receive.agreement_id");
      !s.ok()) {
    return s;
  }
  if (e.channel() == v1::CHANNEL_UNSPECIFIED) {
    return absl::InvalidArgumentError(
        "receive.channel: is required (phone, email or letter)");
  }
  if (absl::Status s = ValidId(e.from(), "receive.from"); !s.ok()) return s;
  // A code, not a line of text: free text about a pupil goes in the
  // personal part (sealed, so it needs the pupil's subject_id).
  if (e.topic_code() == v1::CORRESPONDENCE_TOPIC_UNSPECIFIED ||
      !v1::CorrespondenceTopic_IsValid(e.topic_code())) {
    return absl::InvalidArgumentError(
        "receive.topic_code: is required (referral, support, impact report, "
        "awareness, agreement or other)");
  }
  if (!e.subject_id().empty()) {
    if (absl::Status s = ValidId(e.subject_id(), "receive.subject_id");
        !s.ok()) {
      return s;
    }
  }
  return RequiredTime(e.has_received_at(), e.received_at(),
                      "receive.received_at");
}

}  // namespace

absl::Time AnswerDueAt(const CorrespondenceView& view,
                       const AgreementView& agreement) {
  if (view.promised_by.has_value()) return *view.promised_by;
  if (view.received.has_due_at()) return FromProtoTime(view.received.due_at());
  const absl::Time received_at = FromProtoTime(view.received.received_at());
  return received_at + Days(ResponseDays(agreement.TermsAt(received_at)));
}

absl::Status DecideCorrespondenceCommand(const CorrespondenceView& view,
                                         const AgreementView& agreement,
                                         const v1::Actor& caller,
                                         absl::Time now,
                                         v1::EventPayload* event) {
  const std::string& own = caller.organisation();
  if (event->has_correspondence_received()) {
    auto* e = event->mutable_correspondence_received();
    if (absl::Status s = ValidateReceived(*e); !s.ok()) return s;
    if (view.state != State::kNone) {
      return InvalidState(
          "CORRESPONDENCE", Cited("correspondence_id", e->correspondence_id()),
          absl::StrCat("correspondence rule: correspondence ",
                       e->correspondence_id(), " is already recorded"));
    }
    const absl::Time received_at = FromProtoTime(e->received_at());
    if (received_at > now) {
      return absl::InvalidArgumentError(
          "receive.received_at: cannot be in the future");
    }
    if (agreement.state == AgreementView::State::kNone) {
      return ReferenceNotFound(
          "AGREEMENT", "agreement_id", e->agreement_id(),
          absl::StrCat("receive.agreement_id: agreement ", e->agreement_id(),
                       " does not exist"));
    }
    if (agreement.agreement_id != e->agreement_id()) {
      return absl::InternalError(
          absl::StrCat("receive: checked against agreement ",
                       agreement.agreement_id, ", not ", e->agreement_id()));
    }
    if (!e->to().empty() && e->to() != own) {
      return absl::PermissionDeniedError(absl::StrCat(
          "receive.to: the receiving party records correspondence; the "
          "caller acts for ",
          own));
    }
    if (!agreement.IsParty(own)) {
      return absl::PermissionDeniedError(absl::StrCat(
          "correspondence rule: only a party to agreement ", e->agreement_id(),
          " may record correspondence under it; the caller acts for ", own));
    }
    if (agreement.OtherParty(own) != e->from() ||
        !agreement.InForceAt(received_at)) {
      return InvalidState(
          "AGREEMENT", Cited("agreement_id", e->agreement_id()),
          absl::StrCat("correspondence rule: no agreement in force between ",
                       own, " and ", e->from(), " at ", Format(received_at),
                       " (agreement ", e->agreement_id(), " is ",
                       AgreementStateName(agreement.state), ")"));
    }
    e->set_to(own);
    e->set_agreement_version(agreement.version);
    // Due by the terms in force when it was received, whatever amendments
    // come later (or were recorded between its receipt and now).
    *e->mutable_due_at() = ToProtoTime(
        received_at + Days(ResponseDays(agreement.TermsAt(received_at))));
    return absl::OkStatus();
  }
  if (view.state == State::kNone) return NotFound("correspondence");
  if (absl::Status s = ActsFor(own, view.received.to(), "the receiving party",
                               "record its answer");
      !s.ok()) {
    return s;
  }
  const absl::Time received_at = FromProtoTime(view.received.received_at());
  // The letter is handled under the terms in force when it was received.
  const v1::AgreementTerms& terms = agreement.TermsAt(received_at);
  switch (event->kind_case()) {
    case v1::EventPayload::kCorrespondenceAcknowledged: {
      const auto& e = event->correspondence_acknowledged();
      if (absl::Status s = RequiredTime(e.has_promised_by(), e.promised_by(),
                                        "acknowledge.promised_by");
          !s.ok()) {
        return s;
      }
      if (view.state != State::kAwaitingAnswer) {
        return InvalidState(
            "CORRESPONDENCE",
            Cited("correspondence_id", view.received.correspondence_id()),
            absl::StrCat("correspondence rule: cannot acknowledge "
                         "correspondence that is ",
                         view.state == State::kAnswered
                             ? "answered"
                             : "already acknowledged"));
      }
      if (!terms.acknowledgement_allowed()) {
        return InvalidState(
            "CORRESPONDENCE",
            Cited("correspondence_id", view.received.correspondence_id()),
            absl::StrCat("correspondence rule: agreement ",
                         agreement.agreement_id,
                         " does not allow acknowledgement with a timeline; "
                         "answer in full"));
      }
      const absl::Time due = AnswerDueAt(view, agreement);
      if (now > due) {
        return InvalidState(
            "CORRESPONDENCE",
            Cited("correspondence_id", view.received.correspondence_id()),
            absl::StrCat(
                "correspondence rule: an acknowledgement is due within the "
                "response time, which ended at ",
                Format(due)));
      }
      const absl::Time promised = FromProtoTime(e.promised_by());
      if (promised <= now) {
        return absl::InvalidArgumentError(
            "acknowledge.promised_by: must be in the future");
      }
      if (terms.max_promised_days() != 0) {
        const absl::Time limit = received_at + Days(terms.max_promised_days());
        if (promised > limit) {
          return InvalidState(
              "CORRESPONDENCE",
              Cited("correspondence_id", view.received.correspondence_id()),
              absl::StrCat("correspondence rule: agreement ",
                           agreement.agreement_id,
                           " lets a promised date be at most ",
                           terms.max_promised_days(), " days after receipt (",
                           Format(limit), ")"));
        }
      }
      return absl::OkStatus();
    }
    case v1::EventPayload::kCorrespondenceAnswered: {
      auto* e = event->mutable_correspondence_answered();
      if (e->has_answered_at()) {
        if (absl::Status s =
                RequiredTime(true, e->answered_at(), "answer.answered_at");
            !s.ok()) {
          return s;
        }
      }
      const absl::Time at = TimeOr(e->has_answered_at(), e->answered_at(), now);
      if (at > now || at < received_at) {
        return absl::InvalidArgumentError(
            "answer.answered_at: between receipt and now");
      }
      if (view.state == State::kAnswered) {
        return InvalidState(
            "CORRESPONDENCE",
            Cited("correspondence_id", view.received.correspondence_id()),
            "correspondence rule: it is already answered");
      }
      *e->mutable_answered_at() = ToProtoTime(at);
      return absl::OkStatus();
    }
    default:
      return absl::InvalidArgumentError(
          "command: is not a correspondence command");
  }
}

absl::Status ApplyCorrespondenceEvent(const v1::RecordedEvent& recorded,
                                      CorrespondenceView* view) {
  const v1::EventPayload& event = recorded.payload();
  switch (event.kind_case()) {
    case v1::EventPayload::kCorrespondenceReceived:
      view->state = State::kAwaitingAnswer;
      view->received = event.correspondence_received();
      break;
    case v1::EventPayload::kCorrespondenceAcknowledged:
      view->state = State::kAcknowledged;
      view->promised_by =
          FromProtoTime(event.correspondence_acknowledged().promised_by());
      break;
    case v1::EventPayload::kCorrespondenceAnswered:
      view->state = State::kAnswered;
      view->answered_at =
          FromProtoTime(event.correspondence_answered().answered_at());
      break;
    default:
      return absl::InvalidArgumentError(
          "payload: is not a correspondence event");
  }
  view->version = recorded.stream_version();
  return absl::OkStatus();
}

}  // namespace ycr::domain
