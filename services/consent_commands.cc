// The commands of consent and sharing (domain_commands.h): recording a
// consent decision, a disclosure, and a decision not to share.

#include "absl/strings/str_cat.h"
#include "common/proto_bytes.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "domain/field_checks.h"
#include "domain/refusals.h"
#include "domain/sharing_rules.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "services/domain_commands.h"
#include "services/domain_commands_internal.h"
#include "services/security/access_policy.h"
#include "storage/record_codec.h"

namespace ycr::services {
namespace {

using internal::ApplyConsent;
using internal::ConsentIdOf;
using internal::NoView;

}  // namespace

// Commands

absl::StatusOr<storage::AppendResult> DomainCommands::RecordConsent(
    const v1::Actor& caller, const std::string& request_id,
    v1::EventPayload event) {
  const std::string consent_id = ConsentIdOf(event);
  if (consent_id.empty()) {
    return absl::InvalidArgumentError(
        "consent_id: is required (and the payload must be a consent event)");
  }
  const bool creates =
      event.has_consent_granted() || event.has_consent_refused();
  // A withdrawal without effective_at takes effect when it is recorded.
  const bool effective_now = event.has_consent_withdrawn() &&
                             !event.consent_withdrawn().has_effective_at();
  Target target{"consent", consent_id, creates, false, std::nullopt};
  return Execute<domain::ConsentView>(
      caller, request_id, target, std::move(event), ApplyConsent,
      [&](const domain::ConsentView& view, CommandAttempt& attempt,
          v1::EventPayload* e) -> absl::Status {
        // Tenancy: a consent is varied or withdrawn by the organisation
        // that recorded it, never by another.
        if (!creates) {
          RETURN_IF_ERROR(
              domain::ActsFor(caller.organisation(), view.recorded_by,
                              "the organisation that recorded the consent",
                              "vary or withdraw it"));
        }
        if (effective_now) {
          *e->mutable_consent_withdrawn()->mutable_effective_at() =
              ToProtoTime(attempt.now());
        }
        RETURN_IF_ERROR(domain::CheckConsentCommand(view, *e, attempt.now()));
        std::string subject = view.subject_id;
        if (e->has_consent_granted())
          subject = e->consent_granted().subject_id();
        if (e->has_consent_refused())
          subject = e->consent_refused().subject_id();
        if (creates) RETURN_IF_ERROR(attempt.RequireSubject(subject, caller));
        attempt.set_personal_subject(subject);
        return absl::OkStatus();
      });
}

absl::StatusOr<storage::AppendResult> DomainCommands::RecordDisclosure(
    const v1::Actor& caller, const std::string& request_id,
    v1::DisclosureRecorded disclosure, v1::PersonalData personal) {
  RETURN_IF_ERROR(domain::ValidateDisclosure(disclosure, personal, caller));
  v1::EventPayload event;
  // A safeguarding disclosure is confidential: the recorder's own journal.
  Target target{"sharing",
                disclosure.subject_id(),
                true,
                true,
                std::nullopt,
                disclosure.has_safeguarding()
                    ? domain::ConfidentialSharingStream(disclosure.subject_id(),
                                                        caller.organisation())
                    : domain::SharingStream(disclosure.subject_id())};
  *event.mutable_disclosure_recorded() = std::move(disclosure);
  *event.mutable_personal() = std::move(personal);
  return Execute<NoView>(
      caller, request_id, target, std::move(event),
      [](const v1::RecordedEvent&, NoView*) { return absl::OkStatus(); },
      [&](const NoView&, CommandAttempt& attempt,
          v1::EventPayload* e) -> absl::Status {
        auto* d = e->mutable_disclosure_recorded();
        RETURN_IF_ERROR(attempt.RequireSubject(d->subject_id(), caller));
        RETURN_IF_ERROR(attempt.CoverDisclosure(d, caller));
        if (d->has_safeguarding()) {
          RETURN_IF_ERROR(attempt.MarkChildProtection(d->subject_id(),
                                                      caller.organisation()));
        }
        attempt.set_personal_subject(d->subject_id());
        return absl::OkStatus();
      });
}

absl::StatusOr<storage::AppendResult> DomainCommands::RecordDecisionNotToShare(
    const v1::Actor& caller, const std::string& request_id,
    v1::SharingDeclined decision, v1::PersonalData personal) {
  RETURN_IF_ERROR(domain::ValidateSharingDeclined(decision, personal));
  if (!decision.organisation().empty() &&
      decision.organisation() != caller.organisation()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "decision.organisation: a caller records only its own organisation's "
        "decisions; the caller acts for ",
        caller.organisation()));
  }
  v1::EventPayload event;
  // Confidential: the decider's own journal.
  Target target{"sharing",
                decision.subject_id(),
                true,
                true,
                std::nullopt,
                domain::ConfidentialSharingStream(decision.subject_id(),
                                                  caller.organisation())};
  *event.mutable_sharing_declined() = std::move(decision);
  *event.mutable_personal() = std::move(personal);
  return Execute<NoView>(
      caller, request_id, target, std::move(event),
      [](const v1::RecordedEvent&, NoView*) { return absl::OkStatus(); },
      [&](const NoView&, CommandAttempt& attempt,
          v1::EventPayload* e) -> absl::Status {
        auto* d = e->mutable_sharing_declined();
        RETURN_IF_ERROR(attempt.RequireSubject(d->subject_id(), caller));
        RETURN_IF_ERROR(attempt.CheckConcern(d->concern_id(), d->subject_id(),
                                             caller, "decision.concern_id"));
        d->set_organisation(caller.organisation());
        attempt.set_personal_subject(d->subject_id());
        return absl::OkStatus();
      });
}

}  // namespace ycr::services
