// The domain services of domain_services.h for the care around a young
// carer: interventions, agreements, areas, correspondence, safeguarding.

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "domain/field_checks.h"
#include "domain/visibility.h"
#include "services/domain_services.h"
#include "services/domain_services_internal.h"
#include "services/grpc_status.h"
#include "services/run_query.h"
#include "services/security/area_access.h"
#include "services/security/caller_identity.h"
#include "services/valid_request.h"

namespace ycr::services {
namespace {

using internal::kNoPersonalData;
using internal::RunCommand;
using internal::RunOneofCommand;

}  // namespace

// Interventions

grpc::ServerUnaryReactor* InterventionService::Record(
    grpc::CallbackServerContext* context,
    const v1::InterventionCommand* request, v1::CommandResponse* response) {
  return RunOneofCommand(
      context, pool_, response, request, request->intervention_id(), "command",
      request->personal(), commands_, &DomainCommands::RecordIntervention);
}

namespace {

// Whether the referral was ever transferred away from `school`.
absl::StatusOr<bool> LeftReferral(storage::EventLog& log,
                                  const std::string& referral_id,
                                  const std::string& school) {
  std::string at;  // The referral's school as of the event read.
  storage::ReadStreamOptions options;
  options.from_version = 1;
  for (;;) {
    absl::StatusOr<storage::StreamSlice> slice =
        log.ReadStream(absl::StrCat("referral-", referral_id), options);
    if (absl::IsNotFound(slice.status())) return false;
    if (!slice.ok()) return slice.status();
    for (const v1::RecordedEvent& e : slice->events) {
      const v1::EventPayload& p = e.payload();
      if (p.has_referral_submitted()) at = p.referral_submitted().school();
      if (p.has_referral_transferred()) {
        if (at == school) return true;
        at = p.referral_transferred().to_school();
      }
    }
    if (slice->next_version == 0) return false;
    options.from_version = slice->next_version;
  }
}

}  // namespace

grpc::ServerUnaryReactor* InterventionService::Get(
    grpc::CallbackServerContext* context,
    const v1::GetInterventionRequest* request, v1::Intervention* response) {
  return RunPersonalQuery(
      context, *request, pool_, access_,
      [this, request, response](const v1::Actor& caller,
                                ReadAccess* read) -> absl::Status {
        const std::string& id = request->intervention_id();
        if (absl::Status s = domain::ValidId(id, "intervention_id"); !s.ok()) {
          return s;
        }
        absl::StatusOr<domain::InterventionView> view =
            commands_->LoadIntervention(id);
        if (!view.ok()) return view.status();
        if (view->version == 0) {
          return absl::NotFoundError(
              absl::StrCat("intervention ", id, " does not exist"));
        }
        read->Saw(view->plan.subject_id());
        RETURN_IF_ERROR(MayReadAsParty(
            commands_->log(), caller,
            {view->plan.service(), view->plan.school()}, "the intervention"));
        // A school the child has moved from (the referral transferred to
        // another) has no part in the intervention's later steps, and the
        // counts below would tell them: none of it, even once the case has
        // come back (the trail shows it its own stretches). Nor has the
        // local authority that reads it through that school alone.
        if (view->plan.school() != view->plan.service() &&
            !view->plan.referral_id().empty() &&
            caller.organisation() != view->plan.service()) {
          ASSIGN_OR_RETURN(bool left, LeftReferral(commands_->log(),
                                                   view->plan.referral_id(),
                                                   view->plan.school()));
          if (left && caller.organisation() == view->plan.school()) {
            return absl::PermissionDeniedError(absl::StrCat(
                "school rule: the intervention's referral moved to another "
                "school; ",
                caller.organisation(), " has no part in it any more"));
          }
          if (left) {
            RETURN_IF_ERROR(MayReadAsParty(commands_->log(), caller,
                                           {view->plan.service()},
                                           "the intervention"));
          }
        }
        response->set_intervention_id(id);
        *response->mutable_plan() = view->plan;
        response->set_state(view->state ==
                                    domain::InterventionView::State::kEnded
                                ? v1::Intervention::ENDED
                                : v1::Intervention::PLANNED);
        response->set_sessions_delivered(view->sessions_delivered);
        response->set_sessions_attended(view->sessions_attended);
        if (view->last_session_at.has_value()) {
          *response->mutable_last_session_at() =
              ToProtoTime(*view->last_session_at);
        }
        // Outcomes are the service's, shown to the school only as reported
        // to it (README, "Who sees what").
        std::vector<domain::Relation> relations;
        if (caller.organisation() == view->plan.service()) {
          relations.push_back(domain::Relation::kRecorder);
        }
        const std::vector<std::string> addressees = domain::AddresseesOf([&] {
          v1::EventPayload p;
          *p.mutable_outcomes_recorded() = view->latest_outcomes;
          return p;
        }());
        if (std::find(addressees.begin(), addressees.end(),
                      caller.organisation()) != addressees.end()) {
          relations.push_back(domain::Relation::kAddressee);
        }
        if (domain::VisibilityFor(v1::EventPayload::kOutcomesRecorded,
                                  relations) >= domain::Visibility::kCodes) {
          *response->mutable_latest_outcomes() = view->latest_outcomes;
        }
        // The worker is the service's staff: named to the service only.
        if (caller.organisation() != view->plan.service()) {
          response->mutable_plan()->clear_worker();
        }
        response->set_version(view->version);
        return absl::OkStatus();
      });
}

// Agreements

grpc::ServerUnaryReactor* AgreementService::Record(
    grpc::CallbackServerContext* context, const v1::AgreementCommand* request,
    v1::CommandResponse* response) {
  return RunOneofCommand(context, pool_, response, request,
                         request->agreement_id(), "command", kNoPersonalData,
                         commands_, &DomainCommands::RecordAgreement);
}

grpc::ServerUnaryReactor* AgreementService::Get(
    grpc::CallbackServerContext* context,
    const v1::GetAgreementRequest* request, v1::Agreement* response) {
  return RunQuery(
      context, *request, pool_,
      [this, request, response](const v1::Actor& caller) -> absl::Status {
        const std::string& id = request->agreement_id();
        if (absl::Status s = domain::ValidId(id, "agreement_id"); !s.ok()) {
          return s;
        }
        absl::StatusOr<domain::AgreementView> view =
            commands_->LoadAgreement(id);
        if (!view.ok()) return view.status();
        if (view->version == 0) {
          return absl::NotFoundError(
              absl::StrCat("agreement ", id, " does not exist"));
        }
        RETURN_IF_ERROR(MayReadAsParty(commands_->log(), caller,
                                       {view->terms.school().organisation(),
                                        view->terms.service().organisation()},
                                       "the agreement"));
        using State = domain::AgreementView::State;
        response->set_agreement_id(id);
        switch (view->state) {
          case State::kDraft:
            response->set_state(v1::Agreement::DRAFT);
            break;
          case State::kInForce:
            response->set_state(v1::Agreement::IN_FORCE);
            break;
          case State::kClosing:
            response->set_state(v1::Agreement::CLOSING);
            break;
          case State::kTerminated:
            response->set_state(v1::Agreement::TERMINATED);
            break;
          case State::kNone:
            break;
        }
        *response->mutable_terms() = view->terms;
        // Contacts are the parties' staff: named to the parties, not to a
        // local authority overseeing them (README, "Who sees what").
        if (caller.organisation() != view->terms.school().organisation() &&
            caller.organisation() != view->terms.service().organisation()) {
          for (v1::Party* party :
               {response->mutable_terms()->mutable_school(),
                response->mutable_terms()->mutable_service()}) {
            party->clear_lead_contact();
            party->clear_alternative_contact();
          }
        }
        response->set_terms_version(view->terms_version);
        for (const std::string& party : view->signed_by) {
          response->add_signed_by(party);
        }
        auto set_time = [](const std::optional<absl::Time>& t,
                           google::protobuf::Timestamp* out) {
          if (t.has_value()) *out = ToProtoTime(*t);
        };
        set_time(view->in_force_since, response->mutable_in_force_since());
        set_time(view->last_reviewed_at, response->mutable_last_reviewed_at());
        set_time(view->ReviewDueAt(), response->mutable_review_due_at());
        set_time(view->closing_period_ends_at,
                 response->mutable_closing_period_ends_at());
        response->set_version(view->version);
        return absl::OkStatus();
      });
}

// Correspondence

grpc::ServerUnaryReactor* AreaService::Assign(
    grpc::CallbackServerContext* context, const v1::AssignAreaRequest* request,
    v1::CommandResponse* response) {
  return RunCommand(context, *request, pool_, response,
                    [this, request](const v1::Actor& caller) {
                      return commands_->AssignArea(
                          caller, request->request_id(), request->assignment());
                    });
}

grpc::ServerUnaryReactor* AreaService::Get(grpc::CallbackServerContext* context,
                                           const v1::GetAreaRequest* request,
                                           v1::Area* response) {
  return RunQuery(
      context, *request, pool_,
      [this, request, response](const v1::Actor&) -> absl::Status {
        RETURN_IF_ERROR(
            domain::ValidId(request->organisation(), "organisation"));
        ASSIGN_OR_RETURN(domain::AreaView view,
                         commands_->LoadArea(request->organisation()));
        response->set_organisation(request->organisation());
        response->set_local_authority(view.local_authority);
        response->set_version(view.version);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* CorrespondenceService::Record(
    grpc::CallbackServerContext* context,
    const v1::CorrespondenceCommand* request, v1::CommandResponse* response) {
  return RunOneofCommand(context, pool_, response, request,
                         request->correspondence_id(), "command",
                         request->personal(), commands_,
                         &DomainCommands::RecordCorrespondence);
}

grpc::ServerUnaryReactor* CorrespondenceService::Get(
    grpc::CallbackServerContext* context,
    const v1::GetCorrespondenceRequest* request,
    v1::CorrespondenceItem* response) {
  return RunPersonalQuery(
      context, *request, pool_, access_,
      [this, request, response](const v1::Actor& caller,
                                ReadAccess* read) -> absl::Status {
        const std::string& id = request->correspondence_id();
        if (absl::Status s = domain::ValidId(id, "correspondence_id");
            !s.ok()) {
          return s;
        }
        absl::StatusOr<domain::CorrespondenceView> view =
            commands_->LoadCorrespondence(id);
        if (!view.ok()) return view.status();
        if (view->version == 0) {
          return absl::NotFoundError(
              absl::StrCat("correspondence ", id, " does not exist"));
        }
        read->Saw(view->received.subject_id());
        RETURN_IF_ERROR(
            MayReadAsParty(commands_->log(), caller,
                           {view->received.from(), view->received.to()},
                           "the correspondence"));
        absl::StatusOr<domain::AgreementView> agreement =
            commands_->LoadAgreement(view->received.agreement_id());
        if (!agreement.ok()) return agreement.status();
        using State = domain::CorrespondenceView::State;
        *response->mutable_received() = view->received;
        response->set_state(view->state == State::kAnswered
                                ? v1::CorrespondenceItem::ANSWERED
                            : view->state == State::kAcknowledged
                                ? v1::CorrespondenceItem::ACKNOWLEDGED
                                : v1::CorrespondenceItem::AWAITING_ANSWER);
        if (view->state != State::kAnswered) {
          *response->mutable_answer_due_at() =
              ToProtoTime(domain::AnswerDueAt(*view, *agreement));
        }
        if (view->answered_at.has_value()) {
          *response->mutable_answered_at() = ToProtoTime(*view->answered_at);
        }
        response->set_version(view->version);
        return absl::OkStatus();
      });
}

// Safeguarding

grpc::ServerUnaryReactor* SafeguardingService::Record(
    grpc::CallbackServerContext* context,
    const v1::SafeguardingCommand* request, v1::CommandResponse* response) {
  return RunOneofCommand(context, pool_, response, request,
                         request->concern_id(), "command", request->personal(),
                         commands_, &DomainCommands::RecordSafeguarding);
}

grpc::ServerUnaryReactor* SafeguardingService::Get(
    grpc::CallbackServerContext* context, const v1::GetConcernRequest* request,
    v1::Concern* response) {
  return RunPersonalQuery(
      context, *request, pool_, access_,
      [this, request, response](const v1::Actor& caller,
                                ReadAccess* read) -> absl::Status {
        const std::string& id = request->concern_id();
        if (absl::Status s = domain::ValidId(id, "concern_id"); !s.ok())
          return s;
        const std::string& raised_by = request->raised_by().empty()
                                           ? caller.organisation()
                                           : request->raised_by();
        absl::StatusOr<domain::ConcernView> view =
            commands_->LoadConcern(raised_by, id);
        if (!view.ok()) return view.status();
        // A concern's existence is confidential: one the caller may not
        // read answers exactly as one that does not exist.
        const absl::Status missing = absl::NotFoundError(absl::StrCat(
            "no concern ", id,
            " that the caller's organisation raised or was referred"));
        if (view->version == 0) return missing;
        // The attempt is logged for auditors, with its outcome.
        read->Saw(view->raised.subject_id());
        // A concern is confidential: for who raised it and whom it was
        // referred to (README, "Who sees what"); auditors read the trail.
        std::vector<domain::Relation> relations;
        if (caller.organisation() == view->raised.organisation()) {
          relations.push_back(domain::Relation::kRecorder);
        }
        if (std::find(view->referred_to.begin(), view->referred_to.end(),
                      caller.organisation()) != view->referred_to.end()) {
          relations.push_back(domain::Relation::kParty);
        }
        if (domain::VisibilityFor(v1::EventPayload::kConcernRaised, relations) <
            domain::Visibility::kCodes) {
          return missing;
        }
        *response->mutable_raised() = view->raised;
        response->set_state(view->state == domain::ConcernView::State::kClosed
                                ? v1::Concern::CLOSED
                                : v1::Concern::OPEN);
        // The DSL is the raiser's staff: named to the raiser only.
        if (caller.organisation() == view->raised.organisation()) {
          response->set_dsl_notified(view->dsl_notified);
        }
        response->set_referred_to_social_care(view->referred_to_social_care);
        response->set_version(view->version);
        return absl::OkStatus();
      });
}

}  // namespace ycr::services
