// The commands of the care around a young carer (domain_commands.h):
// interventions, agreements, correspondence, safeguarding concerns, areas,
// and the scheduler's overdue flags.

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

using internal::OverdueView;

}  // namespace

absl::StatusOr<storage::AppendResult> DomainCommands::RecordIntervention(
    const v1::Actor& caller, const std::string& request_id,
    const std::string& intervention_id, v1::EventPayload event,
    std::optional<uint64_t> expected_version) {
  if (event.has_intervention_planned() &&
      event.intervention_planned().intervention_id() != intervention_id) {
    return absl::InvalidArgumentError(
        "plan.intervention_id: differs from intervention_id");
  }
  Target target{"intervention", intervention_id,
                event.has_intervention_planned(), false, expected_version};
  return Execute<domain::InterventionView>(
      caller, request_id, target, std::move(event),
      domain::ApplyInterventionEvent,
      [&](const domain::InterventionView& view, CommandAttempt& attempt,
          v1::EventPayload* e) -> absl::Status {
        RETURN_IF_ERROR(
            domain::DecideInterventionCommand(view, caller, attempt.now(), e));
        std::string subject = view.plan.subject_id();
        if (e->has_intervention_planned()) {
          const auto& plan = e->intervention_planned();
          subject = plan.subject_id();
          if (!subject.empty())
            RETURN_IF_ERROR(attempt.RequireSubject(subject, caller));
          if (!plan.referral_id().empty()) {
            ASSIGN_OR_RETURN(domain::ReferralView referral,
                             attempt.DependOnReferral(plan.referral_id()));
            if (referral.version == 0) {
              return domain::ReferenceNotFound(
                  "REFERRAL", "referral_id", plan.referral_id(),
                  absl::StrCat("plan.referral_id: referral ",
                               plan.referral_id(), " does not exist"));
            }
            const std::string cited =
                domain::Cited("referral_id", plan.referral_id());
            if (referral.service != plan.service() ||
                referral.subject_id != plan.subject_id()) {
              return domain::InvalidState(
                  "REFERRAL", cited,
                  absl::StrCat(
                      "intervention rule: referral ", plan.referral_id(),
                      " is not this service's referral of this young carer"));
            }
            if (referral.school != plan.school()) {
              return domain::InvalidState(
                  "REFERRAL", cited,
                  absl::StrCat(
                      "intervention rule: plan.school must be the referral's "
                      "school, ",
                      referral.school));
            }
          } else if (!subject.empty()) {
            // The young carer's own school (the record's holder), unless
            // the service holds the record itself.
            ASSIGN_OR_RETURN(std::optional<std::string> bytes,
                             log_->GetRecord(SubjectRecordKey(subject)));
            v1::SubjectRecord skeleton;
            if (bytes.has_value() && skeleton.ParseFromString(*bytes) &&
                skeleton.holder() != caller.organisation() &&
                skeleton.holder() != plan.school()) {
              return domain::InvalidState(
                  "SUBJECT", domain::Cited("subject_id", subject),
                  absl::StrCat("intervention rule: plan.school must be the "
                               "young carer's "
                               "school, ",
                               skeleton.holder(), " (the record's holder)"));
            }
          }
        }
        if (e->has_outcomes_recorded() && e->outcomes_recorded().has_report()) {
          RETURN_IF_ERROR(attempt.CoverDisclosure(
              e->mutable_outcomes_recorded()->mutable_report(), caller));
        }
        attempt.set_personal_subject(subject);
        return absl::OkStatus();
      });
}

absl::StatusOr<storage::AppendResult> DomainCommands::RecordAgreement(
    const v1::Actor& caller, const std::string& request_id,
    const std::string& agreement_id, v1::EventPayload event,
    std::optional<uint64_t> expected_version) {
  if (event.has_agreement_drafted() &&
      event.agreement_drafted().agreement_id() != agreement_id) {
    return absl::InvalidArgumentError(
        "draft.agreement_id: differs from agreement_id");
  }
  Target target{"agreement", agreement_id, event.has_agreement_drafted(), false,
                expected_version};
  return Execute<domain::AgreementView>(
      caller, request_id, target, std::move(event), domain::ApplyAgreementEvent,
      [&](const domain::AgreementView& view, CommandAttempt& attempt,
          v1::EventPayload* e) -> absl::Status {
        // Agreements are about organisations: no personal data.
        return domain::DecideAgreementCommand(view, caller, attempt.now(), e);
      });
}

absl::StatusOr<storage::AppendResult> DomainCommands::RecordCorrespondence(
    const v1::Actor& caller, const std::string& request_id,
    const std::string& correspondence_id, v1::EventPayload event,
    std::optional<uint64_t> expected_version) {
  if (event.has_correspondence_received() &&
      event.correspondence_received().correspondence_id() !=
          correspondence_id) {
    return absl::InvalidArgumentError(
        "receive.correspondence_id: differs from correspondence_id");
  }
  Target target{"correspondence", correspondence_id,
                event.has_correspondence_received(), false, expected_version};
  return Execute<domain::CorrespondenceView>(
      caller, request_id, target, std::move(event),
      domain::ApplyCorrespondenceEvent,
      [&](const domain::CorrespondenceView& view, CommandAttempt& attempt,
          v1::EventPayload* e) -> absl::Status {
        const v1::CorrespondenceReceived& received =
            e->has_correspondence_received() ? e->correspondence_received()
                                             : view.received;
        domain::AgreementView agreement;
        if (domain::ValidId(received.agreement_id(), "").ok()) {
          ASSIGN_OR_RETURN(agreement,
                           attempt.DependOnAgreement(received.agreement_id()));
        }
        const std::string subject = received.subject_id();
        RETURN_IF_ERROR(domain::DecideCorrespondenceCommand(
            view, agreement, caller, attempt.now(), e));
        if (e->has_correspondence_received() && !subject.empty()) {
          // A service records letters about the pupils of the school it
          // has the agreement with (the letter is that school's to send),
          // besides those referred to it.
          RETURN_IF_ERROR(attempt.RequireSubject(
              subject, caller, agreement.terms.school().organisation()));
        }
        attempt.set_personal_subject(subject);
        return absl::OkStatus();
      });
}

absl::StatusOr<storage::AppendResult> DomainCommands::RecordSafeguarding(
    const v1::Actor& caller, const std::string& request_id,
    const std::string& concern_id, v1::EventPayload event,
    std::optional<uint64_t> expected_version) {
  if (event.has_concern_raised() &&
      event.concern_raised().concern_id() != concern_id) {
    return absl::InvalidArgumentError(
        "raise.concern_id: differs from concern_id");
  }
  // The caller's organisation's own concern stream: another organisation's
  // concern under the same id is never read, so a version check or a raise
  // answers as for an id never raised.
  Target target{"safeguarding",
                concern_id,
                event.has_concern_raised(),
                false,
                expected_version,
                domain::ConcernStream(caller.organisation(), concern_id)};
  return Execute<domain::ConcernView>(
      caller, request_id, target, std::move(event),
      domain::ApplySafeguardingEvent,
      [&](const domain::ConcernView& view, CommandAttempt& attempt,
          v1::EventPayload* e) -> absl::Status {
        RETURN_IF_ERROR(
            domain::DecideSafeguardingCommand(view, caller, attempt.now(), e));
        std::string subject = view.raised.subject_id();
        if (e->has_concern_raised()) {
          subject = e->concern_raised().subject_id();
          RETURN_IF_ERROR(attempt.RequireSubject(subject, caller));
          RETURN_IF_ERROR(
              attempt.MarkChildProtection(subject, caller.organisation()));
        }
        if (e->has_social_care_referral_made()) {
          RETURN_IF_ERROR(attempt.CoverDisclosure(
              e->mutable_social_care_referral_made()->mutable_disclosure(),
              caller));
        }
        attempt.set_personal_subject(subject);
        return absl::OkStatus();
      });
}

absl::StatusOr<storage::AppendResult> DomainCommands::AssignArea(
    const v1::Actor& caller, const std::string& request_id,
    v1::AreaAssigned assignment) {
  RETURN_IF_ERROR(
      domain::ValidId(assignment.organisation(), "assignment.organisation"));
  v1::EventPayload event;
  Target target{"area", assignment.organisation(), true, false, std::nullopt};
  *event.mutable_area_assigned() = std::move(assignment);
  return Execute<domain::AreaView>(
      caller, request_id, target, std::move(event), domain::ApplyAreaEvent,
      [](const domain::AreaView& view, CommandAttempt& attempt,
         v1::EventPayload* e) -> absl::Status {
        const v1::AreaAssigned& a = e->area_assigned();
        RETURN_IF_ERROR(domain::DecideAreaAssignment(view, a));
        const std::string key = domain::AreaKey(a.organisation());
        if (a.local_authority().empty()) {
          attempt.records().push_back({key, "", "", /*remove=*/true});
        } else {
          attempt.records().push_back({key, a.local_authority()});
        }
        return absl::OkStatus();
      });
}

absl::StatusOr<storage::AppendResult> DomainCommands::RecordOverdueFlag(
    const v1::Actor& caller, const std::string& request_id,
    v1::OverdueFlagged flag) {
  RETURN_IF_ERROR(domain::ValidId(flag.id(), "flag.id"));
  v1::EventPayload event;
  // Folded, not a journal: each deadline (due date, and whether escalated)
  // is flagged once whoever flags it, so two schedulers of different
  // organisations racing (whose request ids differ) still flag it once; the
  // second is decided again after the first and told it is flagged.
  Target target{"overdue", absl::StrCat(flag.kind(), "-", flag.id()), true,
                false, std::nullopt};
  *event.mutable_overdue_flagged() = std::move(flag);
  return Execute<OverdueView>(
      caller, request_id, target, std::move(event),
      [](const v1::RecordedEvent& e, OverdueView* view) {
        view->version = e.stream_version();
        if (e.payload().has_overdue_flagged()) {
          view->flags.push_back(e.payload().overdue_flagged());
        }
        return absl::OkStatus();
      },
      [](const OverdueView& view, CommandAttempt& attempt,
         v1::EventPayload* e) -> absl::Status {
        v1::OverdueFlagged* f = e->mutable_overdue_flagged();
        for (const v1::OverdueFlagged& done : view.flags) {
          if (done.due_at().seconds() == f->due_at().seconds() &&
              done.due_at().nanos() == f->due_at().nanos() &&
              done.escalated() == f->escalated()) {
            return domain::InvalidState(
                "DEADLINE", domain::Cited("flag.id", f->id()),
                absl::StrCat("overdue rule: that deadline is already ",
                             f->escalated() ? "escalated" : "flagged"));
          }
        }
        *f->mutable_flagged_at() = ToProtoTime(attempt.now());
        return absl::OkStatus();
      });
}

}  // namespace ycr::services
