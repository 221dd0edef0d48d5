#include "domain/safeguarding_rules.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/proto_time.h"
#include "domain/field_checks.h"
#include "domain/refusals.h"
#include "domain/sharing_rules.h"

namespace ycr::domain {
namespace {

using State = ConcernView::State;

absl::Status Refused(const ConcernView& view, absl::string_view command) {
  return InvalidState("CONCERN", Cited("concern_id", view.raised.concern_id()),
                      absl::StrCat("safeguarding rule: cannot ", command,
                                   " on a closed concern"));
}

}  // namespace

std::string ConcernStream(const std::string& raised_by,
                          const std::string& concern_id) {
  return absl::StrCat("safeguarding-", OrganisationToken(raised_by), "/",
                      concern_id);
}

absl::Status DecideSafeguardingCommand(const ConcernView& view,
                                       const v1::Actor& caller, absl::Time now,
                                       v1::EventPayload* event) {
  const std::string& own = caller.organisation();
  if (event->has_concern_raised()) {
    auto* e = event->mutable_concern_raised();
    if (absl::Status s = ValidId(e->concern_id(), "raise.concern_id");
        !s.ok()) {
      return s;
    }
    if (absl::Status s = ValidId(e->subject_id(), "raise.subject_id");
        !s.ok()) {
      return s;
    }
    if (absl::Status s =
            RequiredTextFor(event->personal().facts(), "personal.facts",
                            "what was seen or heard, as facts");
        !s.ok()) {
      return s;
    }
    if (e->has_observed_at()) {
      if (absl::Status s =
              RequiredTime(true, e->observed_at(), "raise.observed_at");
          !s.ok()) {
        return s;
      }
      if (FromProtoTime(e->observed_at()) > now) {
        return absl::InvalidArgumentError(
            "raise.observed_at: cannot be in the future");
      }
    }
    if (!e->organisation().empty() && e->organisation() != own) {
      return absl::PermissionDeniedError(absl::StrCat(
          "raise.organisation: a caller raises concerns only for its own "
          "organisation; the caller acts for ",
          own));
    }
    if (view.state != State::kNone) {
      return InvalidState("CONCERN", Cited("concern_id", e->concern_id()),
                          absl::StrCat("safeguarding rule: concern ",
                                       e->concern_id(), " is already raised"));
    }
    e->set_organisation(own);
    return absl::OkStatus();
  }
  // A concern's existence is itself confidential (README, "Who sees
  // what"): to any organisation but the one that raised it, another's
  // concern answers as one that does not exist, naming no one.
  // (The same words as a command on a concern id never raised.)
  if (view.state == State::kNone || view.raised.organisation() != own) {
    return absl::NotFoundError(absl::StrCat(
        "safeguarding ", view.raised.concern_id(), " does not exist"));
  }
  switch (event->kind_case()) {
    case v1::EventPayload::kDslNotified: {
      auto* e = event->mutable_dsl_notified();
      if (absl::Status s = ValidId(e->dsl(), "notify_dsl.dsl"); !s.ok()) {
        return s;
      }
      if (e->has_notified_at()) {
        if (absl::Status s =
                RequiredTime(true, e->notified_at(), "notify_dsl.notified_at");
            !s.ok()) {
          return s;
        }
        if (FromProtoTime(e->notified_at()) > now) {
          return absl::InvalidArgumentError(
              "notify_dsl.notified_at: cannot be in the future");
        }
      } else {
        *e->mutable_notified_at() = ToProtoTime(now);
      }
      if (view.state != State::kOpen) return Refused(view, "notify the DSL");
      return absl::OkStatus();
    }
    case v1::EventPayload::kSocialCareReferralMade: {
      auto* e = event->mutable_social_care_referral_made();
      if (!e->has_disclosure()) {
        return absl::InvalidArgumentError(
            "refer_to_social_care.disclosure: is required (what is shared "
            "with children's social care, and on what basis)");
      }
      if (e->disclosure().has_safeguarding()) {
        auto* basis = e->mutable_disclosure()->mutable_safeguarding();
        if (!basis->concern_id().empty() &&
            basis->concern_id() != view.raised.concern_id()) {
          return absl::InvalidArgumentError(
              absl::StrCat("refer_to_social_care.disclosure.safeguarding."
                           "concern_id: must be ",
                           view.raised.concern_id()));
        }
        basis->set_concern_id(view.raised.concern_id());
      }
      if (absl::Status s = ValidateEmbeddedDisclosure(
              e->disclosure(), event->personal(), caller,
              "refer_to_social_care.disclosure", view.raised.subject_id(), "",
              v1::PURPOSE_SAFEGUARDING);
          !s.ok()) {
        return s;
      }
      if (absl::Status s =
              OptionalText(e->reference(), "refer_to_social_care.reference");
          !s.ok()) {
        return s;
      }
      if (view.state != State::kOpen)
        return Refused(view, "refer to social care");
      return absl::OkStatus();
    }
    case v1::EventPayload::kConcernClosed:
      if (absl::Status s =
              RequiredText(event->personal().outcome(), "personal.outcome");
          !s.ok()) {
        return s;
      }
      if (view.state != State::kOpen) return Refused(view, "close");
      return absl::OkStatus();
    default:
      return absl::InvalidArgumentError(
          "command: is not a safeguarding command");
  }
}

absl::Status ApplySafeguardingEvent(const v1::RecordedEvent& recorded,
                                    ConcernView* view) {
  const v1::EventPayload& event = recorded.payload();
  switch (event.kind_case()) {
    case v1::EventPayload::kConcernRaised:
      view->state = State::kOpen;
      view->raised = event.concern_raised();
      break;
    case v1::EventPayload::kDslNotified:
      view->dsl_notified = event.dsl_notified().dsl();
      break;
    case v1::EventPayload::kSocialCareReferralMade: {
      view->referred_to_social_care = true;
      const std::string& to =
          event.social_care_referral_made().disclosure().to().organisation();
      if (!to.empty() &&
          std::find(view->referred_to.begin(), view->referred_to.end(), to) ==
              view->referred_to.end()) {
        view->referred_to.push_back(to);
      }
      break;
    }
    case v1::EventPayload::kConcernClosed:
      view->state = State::kClosed;
      break;
    default:
      return absl::InvalidArgumentError("payload: is not a safeguarding event");
  }
  view->version = recorded.stream_version();
  return absl::OkStatus();
}

}  // namespace ycr::domain
