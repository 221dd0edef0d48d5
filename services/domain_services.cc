// The domain services of domain_services.h for consent, sharing, referrals
// and subjects; the others are in care_services.cc.

#include "services/domain_services.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "domain/field_checks.h"
#include "domain/visibility.h"
#include "services/domain_commands_internal.h"
#include "services/domain_services_internal.h"
#include "services/grpc_status.h"
#include "services/run_query.h"
#include "services/security/area_access.h"
#include "services/security/caller_identity.h"
#include "services/valid_request.h"
#include "services/visibility.h"

namespace ycr::services {
namespace {

using internal::Expected;
using internal::kNoPersonalData;
using internal::RunCommand;
using internal::RunOneofCommand;
using internal::ToPayload;

// Most kept-record reviews one RetentionReviews answer lists.
constexpr uint32_t kMaxRetentionReviews = 1000;

// Consent `view` as `holder`, the record's holder, may read it: folded up
// to the first event recorded while the holder had left the child's case
// with the consent's organisations (a referral moved to another school:
// ReaderView::LeftTheCase), then only the withdrawals recorded once it is
// back on the case (domain::ApplyLaterWithdrawal); nullopt when it had left
// before the consent was given. What the case records after it left is not the
// holder's (README, "A case can leave an organisation").
absl::StatusOr<std::optional<domain::ConsentView>> AsTheHolderSawIt(
    storage::EventLog& log, const domain::ConsentView& view,
    const std::string& holder) {
  v1::Actor reader;
  reader.set_organisation(holder);
  ReaderView readers_view(log, reader);
  domain::ConsentView seen;
  // Whether the fold has met a step the holder may not see.
  bool stopped = false;
  storage::ReadStreamOptions options;
  options.from_version = 1;
  for (;;) {
    ASSIGN_OR_RETURN(storage::StreamSlice slice,
                     log.ReadStream("consent-" + view.consent_id, options));
    for (const v1::RecordedEvent& e : slice.events) {
      std::vector<std::string> organisations =
          domain::OrganisationsNamedBy(e.payload());
      organisations.push_back(e.actor().organisation());
      for (const v1::Recipient& r : seen.terms.recipients()) {
        organisations.push_back(r.organisation());
      }
      ASSIGN_OR_RETURN(bool left,
                       readers_view.LeftTheCase(view.subject_id, organisations,
                                                e.position()));
      if (left) {
        if (seen.version == 0) return std::nullopt;
        stopped = true;
      } else if (stopped) {
        // Back on the case: a later withdrawal, nothing else.
        domain::ApplyLaterWithdrawal(e.payload(), &seen);
      } else {
        RETURN_IF_ERROR(internal::ApplyConsent(e, &seen));
      }
    }
    if (slice.next_version == 0) break;
    options.from_version = slice.next_version;
  }
  return seen;
}

}  // namespace

namespace internal {

// The EventPayload case whose message type is that of the request's set
// `oneof_name` case, with the request's personal part.
absl::StatusOr<v1::EventPayload> ToPayload(
    const google::protobuf::Message& request, const char* oneof_name,
    const v1::PersonalData& personal) {
  const auto* reflection = request.GetReflection();
  const auto* oneof = request.GetDescriptor()->FindOneofByName(oneof_name);
  const auto* set = reflection->GetOneofFieldDescriptor(request, oneof);
  if (set == nullptr) {
    std::string cases;
    for (int i = 0; i < oneof->field_count(); ++i) {
      absl::StrAppend(&cases, i == 0 ? "" : ", ", oneof->field(i)->name());
    }
    return absl::InvalidArgumentError(
        absl::StrCat(oneof_name, ": say which (", cases, ")"));
  }
  v1::EventPayload payload;
  const auto* descriptor = payload.GetDescriptor();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const auto* field = descriptor->field(i);
    if (field->message_type() == set->message_type()) {
      payload.GetReflection()
          ->MutableMessage(&payload, field)
          ->CopyFrom(reflection->GetMessage(request, set));
      *payload.mutable_personal() = personal;
      return payload;
    }
  }
  return absl::InternalError(
      absl::StrCat(set->name(), " has no matching event payload"));
}

const v1::PersonalData& kNoPersonalData = *new v1::PersonalData();

std::optional<uint64_t> Expected(uint64_t expected_version) {
  if (expected_version == 0) return std::nullopt;
  return expected_version;
}

}  // namespace internal

grpc::ServerUnaryReactor* ConsentService::Grant(
    grpc::CallbackServerContext* context,
    const v1::GrantConsentRequest* request, v1::CommandResponse* response) {
  return RunCommand(
      context, *request, pool_, response, [this, request](auto& caller) {
        v1::EventPayload event;
        *event.mutable_consent_granted() = request->consent();
        *event.mutable_personal() = request->personal();
        return commands_->RecordConsent(caller, request->request_id(), event);
      });
}

grpc::ServerUnaryReactor* ConsentService::Refuse(
    grpc::CallbackServerContext* context,
    const v1::RefuseConsentRequest* request, v1::CommandResponse* response) {
  return RunCommand(
      context, *request, pool_, response, [this, request](auto& caller) {
        v1::EventPayload event;
        *event.mutable_consent_refused() = request->consent();
        *event.mutable_personal() = request->personal();
        return commands_->RecordConsent(caller, request->request_id(), event);
      });
}

grpc::ServerUnaryReactor* ConsentService::Vary(
    grpc::CallbackServerContext* context, const v1::VaryConsentRequest* request,
    v1::CommandResponse* response) {
  return RunCommand(
      context, *request, pool_, response, [this, request](auto& caller) {
        v1::EventPayload event;
        *event.mutable_consent_varied() = request->variation();
        *event.mutable_personal() = request->personal();
        return commands_->RecordConsent(caller, request->request_id(), event);
      });
}

grpc::ServerUnaryReactor* ConsentService::Withdraw(
    grpc::CallbackServerContext* context,
    const v1::WithdrawConsentRequest* request, v1::CommandResponse* response) {
  return RunCommand(
      context, *request, pool_, response, [this, request](auto& caller) {
        v1::EventPayload event;
        *event.mutable_consent_withdrawn() = request->withdrawal();
        *event.mutable_personal() = request->personal();
        return commands_->RecordConsent(caller, request->request_id(), event);
      });
}

grpc::ServerUnaryReactor* ConsentService::Get(
    grpc::CallbackServerContext* context, const v1::GetConsentRequest* request,
    v1::Consent* response) {
  return RunPersonalQuery(
      context, *request, pool_, access_,
      // The parties to a consent: the organisation that recorded it, the
      // holder of its subject's record and the recipients it names.
      [this, request, response](const v1::Actor& caller,
                                ReadAccess* read) -> absl::Status {
        if (request->consent_id().empty()) {
          return absl::InvalidArgumentError("consent_id: is required");
        }
        absl::StatusOr<domain::ConsentView> view =
            commands_->LoadConsent(request->consent_id());
        if (!view.ok()) return view.status();
        if (view->decision == domain::ConsentView::Decision::kNone) {
          return absl::NotFoundError("consent " + request->consent_id() +
                                     " does not exist");
        }
        read->Saw(view->subject_id);
        // Its parties read it; a local authority only that of the area of
        // who recorded it or of the record's holder, not of every recipient
        // named (README, "Who sees what").
        std::vector<std::string> answerable = {view->recorded_by};
        ASSIGN_OR_RETURN(std::optional<v1::SubjectRecord> record,
                         commands_->LoadSubjectRecord(view->subject_id));
        if (record.has_value()) answerable.push_back(record->holder());
        // A refused consent names whom the family said no to: like the
        // organisation a decision not to share withholds from, no party.
        bool party = false;
        if (view->decision == domain::ConsentView::Decision::kGranted) {
          for (const v1::Recipient& r : view->terms.recipients()) {
            party = party || r.organisation() == caller.organisation();
          }
        }
        if (!party) {
          RETURN_IF_ERROR(MayReadAsParty(commands_->log(), caller, answerable,
                                         "the consent"));
        }
        // A reader entitled through the record's holder alone (the holder,
        // or the local authority of its area) reads the consent as the
        // holder may: nothing of it recorded after the holder had left the
        // child's case with the consent's organisations.
        if (!party && record.has_value() &&
            caller.organisation() != view->recorded_by) {
          ASSIGN_OR_RETURN(
              bool via_recorder,
              CoversArea(commands_->log(), caller, view->recorded_by));
          if (!via_recorder) {
            ASSIGN_OR_RETURN(
                std::optional<domain::ConsentView> seen,
                AsTheHolderSawIt(commands_->log(), *view, record->holder()));
            if (!seen.has_value()) {
              return MayReadAsParty(commands_->log(), caller,
                                    {view->recorded_by}, "the consent");
            }
            *view = *std::move(seen);
          }
        }
        response->set_consent_id(view->consent_id);
        response->set_subject_id(view->subject_id);
        response->set_decision(view->decision ==
                                       domain::ConsentView::Decision::kGranted
                                   ? v1::Consent::GRANTED
                                   : v1::Consent::REFUSED);
        *response->mutable_terms() = view->terms;
        if (view->withdrawn_at.has_value()) {
          *response->mutable_withdrawn_at() = ToProtoTime(*view->withdrawn_at);
        }
        response->set_version(view->version);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* SharingService::RecordDisclosure(
    grpc::CallbackServerContext* context,
    const v1::RecordDisclosureRequest* request, v1::CommandResponse* response) {
  return RunCommand(
      context, *request, pool_, response, [this, request](auto& caller) {
        return commands_->RecordDisclosure(caller, request->request_id(),
                                           request->disclosure(),
                                           request->personal());
      });
}

grpc::ServerUnaryReactor* SharingService::RecordDecisionNotToShare(
    grpc::CallbackServerContext* context,
    const v1::RecordDecisionNotToShareRequest* request,
    v1::CommandResponse* response) {
  return RunCommand(context, *request, pool_, response,
                    [this, request](auto& caller) {
                      return commands_->RecordDecisionNotToShare(
                          caller, request->request_id(), request->decision(),
                          request->personal());
                    });
}

grpc::ServerUnaryReactor* ReferralService::Transition(
    grpc::CallbackServerContext* context,
    const v1::ReferralTransitionRequest* request,
    v1::CommandResponse* response) {
  return RunOneofCommand(
      context, pool_, response, request, request->referral_id(), "transition",
      request->personal(), commands_, &DomainCommands::RecordReferral);
}

grpc::ServerUnaryReactor* ReferralService::Get(
    grpc::CallbackServerContext* context, const v1::GetReferralRequest* request,
    v1::Referral* response) {
  return RunPersonalQuery(
      context, *request, pool_, access_,
      [this, request, response](const v1::Actor& caller,
                                ReadAccess* read) -> absl::Status {
        if (request->referral_id().empty()) {
          return absl::InvalidArgumentError("referral_id: is required");
        }
        absl::StatusOr<domain::ReferralView> view =
            commands_->LoadReferral(request->referral_id());
        if (!view.ok()) return view.status();
        if (view->version == 0) {
          return absl::NotFoundError("referral " + request->referral_id() +
                                     " does not exist");
        }
        read->Saw(view->subject_id);
        // A referral entered in error gives its service no part in the
        // child (as for its commands): the service reads it no more.
        std::vector<std::string> parties = {view->school};
        if (view->state != v1::REFERRAL_STATE_ENTERED_IN_ERROR) {
          parties.push_back(view->service);
        }
        RETURN_IF_ERROR(
            MayReadAsParty(commands_->log(), caller, parties, "the referral"));
        response->set_referral_id(view->referral_id);
        response->set_subject_id(view->subject_id);
        response->set_school(view->school);
        response->set_service(view->service);
        response->set_state(view->state);
        response->set_version(view->version);
        return absl::OkStatus();
      });
}

// Subjects

grpc::ServerUnaryReactor* SubjectService::PutRecord(
    grpc::CallbackServerContext* context,
    const v1::PutSubjectRecordRequest* request, v1::CommandResponse* response) {
  return RunCommand(context, *request, pool_, response,
                    [this, request](auto& caller) {
                      return commands_->PutSubjectRecord(
                          caller, request->request_id(), request->record(),
                          Expected(request->expected_revision()));
                    });
}

grpc::ServerUnaryReactor* SubjectService::GetRecord(
    grpc::CallbackServerContext* context,
    const v1::GetSubjectRecordRequest* request, v1::SubjectRecord* response) {
  return RunPersonalQuery(
      context, *request, pool_, access_,
      [this, request, response](const v1::Actor& caller,
                                ReadAccess* read) -> absl::Status {
        if (absl::Status s =
                domain::ValidId(request->subject_id(), "subject_id");
            !s.ok()) {
          return s;
        }
        absl::StatusOr<std::optional<v1::SubjectRecord>> record =
            commands_->LoadSubjectRecord(request->subject_id());
        if (!record.ok()) return record.status();
        if (!record->has_value()) {
          return absl::NotFoundError(absl::StrCat(
              "subject ", request->subject_id(), " does not exist"));
        }
        read->Saw(request->subject_id());
        RETURN_IF_ERROR(MayReadAsParty(commands_->log(), caller,
                                       {(*record)->holder()},
                                       "the subject record (its holder)"));
        *response = **record;
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* SubjectService::IdentifyYoungCarer(
    grpc::CallbackServerContext* context,
    const v1::IdentifyYoungCarerRequest* request,
    v1::CommandResponse* response) {
  return RunCommand(
      context, *request, pool_, response, [this, request](auto& caller) {
        v1::EventPayload event;
        *event.mutable_young_carer_identified() = request->identification();
        *event.mutable_personal() = request->personal();
        return commands_->IdentifyYoungCarer(caller, request->request_id(),
                                             event);
      });
}

grpc::ServerUnaryReactor* SubjectService::Erase(
    grpc::CallbackServerContext* context,
    const v1::EraseSubjectRequest* request,
    v1::EraseSubjectResponse* response) {
  return RunCommand(context, *request, pool_, response->mutable_command(),
                    [this, request, response](
                        auto& caller) -> absl::StatusOr<storage::AppendResult> {
                      absl::StatusOr<DomainCommands::ErasureOutcome> outcome =
                          commands_->EraseSubject(caller, request->request_id(),
                                                  request->subject_id(),
                                                  request->request_ref(),
                                                  request->refuse_on());
                      if (!outcome.ok()) return outcome.status();
                      response->set_erased(outcome->erased);
                      response->set_refused_on(outcome->refused_on);
                      return outcome->append;
                    });
}

grpc::ServerUnaryReactor* SubjectService::PlaceLegalHold(
    grpc::CallbackServerContext* context,
    const v1::PlaceLegalHoldRequest* request, v1::CommandResponse* response) {
  return RunCommand(
      context, *request, pool_, response, [this, request](auto& caller) {
        return commands_->PlaceLegalHold(caller, request->request_id(),
                                         request->hold(), request->personal());
      });
}

grpc::ServerUnaryReactor* SubjectService::LiftLegalHold(
    grpc::CallbackServerContext* context,
    const v1::LiftLegalHoldRequest* request, v1::CommandResponse* response) {
  return RunCommand(
      context, *request, pool_, response, [this, request](auto& caller) {
        return commands_->LiftLegalHold(caller, request->request_id(),
                                        request->subject_id(),
                                        request->hold_id());
      });
}

grpc::ServerUnaryReactor* SubjectService::RetentionReviews(
    grpc::CallbackServerContext* context,
    const v1::RetentionReviewsRequest* request,
    v1::RetentionReviewsResponse* response) {
  return RunPersonalQuery(
      context, *request, pool_, access_,
      [this, request, response](const v1::Actor& caller,
                                ReadAccess* read) -> absl::Status {
        if (request->limit() > kMaxRetentionReviews) {
          return absl::InvalidArgumentError(absl::StrCat(
              "limit: at most ", kMaxRetentionReviews, " (0: 100)"));
        }
        const uint32_t limit = request->limit() == 0 ? 100 : request->limit();
        const absl::Time as_of = request->has_as_of()
                                     ? FromProtoTime(request->as_of())
                                     : commands_->clock().Now();
        ASSIGN_OR_RETURN(*response,
                         commands_->ListRetentionReviews(caller, as_of, limit));
        // The review date derives from the date of birth: each subject
        // shown is a read of its personal data.
        for (const v1::RetentionReview& review : response->reviews()) {
          read->Saw(review.subject_id());
        }
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* SubjectService::ReviewRetention(
    grpc::CallbackServerContext* context,
    const v1::ReviewRetentionRequest* request, v1::CommandResponse* response) {
  return RunCommand(
      context, *request, pool_, response, [this, request](auto& caller) {
        v1::ChildProtectionReviewed review;
        review.set_subject_id(request->subject_id());
        review.set_decision(request->decision());
        if (request->has_next_review_at()) {
          *review.mutable_next_review_at() = request->next_review_at();
        }
        review.set_keep_reason(request->keep_reason());
        return commands_->ReviewRetention(caller, request->request_id(),
                                          std::move(review));
      });
}

}  // namespace ycr::services
