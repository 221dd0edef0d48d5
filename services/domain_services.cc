#include "services/domain_services.h"

#include "common/proto_time.h"
#include "services/caller_identity.h"
#include "services/grpc_status.h"

namespace ycr::services {
namespace {

// Resolves the caller, then runs `command(caller)` on `pool` and finishes
// the call with its result.
template <typename Command>
grpc::ServerUnaryReactor* RunCommand(grpc::CallbackServerContext* context,
                                     WorkQueue* pool,
                                     v1::CommandResponse* response,
                                     Command command) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<v1::Actor> caller = ResolveCaller(*context);
  if (!caller.ok()) {
    reactor->Finish(ToGrpcStatus(caller.status()));
    return reactor;
  }
  pool->Post([reactor, context, response, caller = *std::move(caller),
              command = std::move(command)]() mutable {
    absl::StatusOr<storage::AppendResult> result = command(caller);
    if (result.ok()) {
      response->set_position(result->last_position);
      response->set_stream_version(result->stream_version);
      response->set_replayed(result->replayed);
    }
    reactor->Finish(ToGrpcStatus(result.status(), context));
  });
  return reactor;
}

// Runs a read `query()` (returning absl::Status) on `pool`, after resolving
// the caller.
template <typename Query>
grpc::ServerUnaryReactor* RunQuery(grpc::CallbackServerContext* context,
                                   WorkQueue* pool, Query query) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (absl::Status s = ResolveCaller(*context).status(); !s.ok()) {
    reactor->Finish(ToGrpcStatus(s));
    return reactor;
  }
  pool->Post([reactor, query = std::move(query)]() mutable {
    reactor->Finish(ToGrpcStatus(query()));
  });
  return reactor;
}

// The EventPayload case whose message type is that of the request's set
// `transition` case.
absl::StatusOr<v1::EventPayload> ToPayload(
    const v1::ReferralTransitionRequest& request) {
  const auto* reflection = request.GetReflection();
  const auto* oneof = request.GetDescriptor()->FindOneofByName("transition");
  const auto* set = reflection->GetOneofFieldDescriptor(request, oneof);
  if (set == nullptr) {
    return absl::InvalidArgumentError(
        "transition: say which transition (submit, receive, accept, ...)");
  }
  v1::EventPayload payload;
  const auto* descriptor = payload.GetDescriptor();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const auto* field = descriptor->field(i);
    if (field->message_type() == set->message_type()) {
      payload.GetReflection()
          ->MutableMessage(&payload, field)
          ->CopyFrom(reflection->GetMessage(request, set));
      return payload;
    }
  }
  return absl::InternalError("transition has no matching event payload");
}

}  // namespace

grpc::ServerUnaryReactor* ConsentService::Grant(
    grpc::CallbackServerContext* context,
    const v1::GrantConsentRequest* request, v1::CommandResponse* response) {
  return RunCommand(context, pool_, response, [this, request](auto& caller) {
    v1::EventPayload event;
    *event.mutable_consent_granted() = request->consent();
    return commands_->RecordConsent(caller, request->request_id(), event);
  });
}

grpc::ServerUnaryReactor* ConsentService::Refuse(
    grpc::CallbackServerContext* context,
    const v1::RefuseConsentRequest* request, v1::CommandResponse* response) {
  return RunCommand(context, pool_, response, [this, request](auto& caller) {
    v1::EventPayload event;
    *event.mutable_consent_refused() = request->consent();
    return commands_->RecordConsent(caller, request->request_id(), event);
  });
}

grpc::ServerUnaryReactor* ConsentService::Vary(
    grpc::CallbackServerContext* context, const v1::VaryConsentRequest* request,
    v1::CommandResponse* response) {
  return RunCommand(context, pool_, response, [this, request](auto& caller) {
    v1::EventPayload event;
    *event.mutable_consent_varied() = request->variation();
    return commands_->RecordConsent(caller, request->request_id(), event);
  });
}

grpc::ServerUnaryReactor* ConsentService::Withdraw(
    grpc::CallbackServerContext* context,
    const v1::WithdrawConsentRequest* request, v1::CommandResponse* response) {
  return RunCommand(context, pool_, response, [this, request](auto& caller) {
    v1::EventPayload event;
    *event.mutable_consent_withdrawn() = request->withdrawal();
    return commands_->RecordConsent(caller, request->request_id(), event);
  });
}

grpc::ServerUnaryReactor* ConsentService::Get(
    grpc::CallbackServerContext* context, const v1::GetConsentRequest* request,
    v1::Consent* response) {
  return RunQuery(context, pool_, [this, request, response]() -> absl::Status {
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
  return RunCommand(context, pool_, response, [this, request](auto& caller) {
    return commands_->RecordDisclosure(caller, request->request_id(),
                                       request->disclosure());
  });
}

grpc::ServerUnaryReactor* ReferralService::Transition(
    grpc::CallbackServerContext* context,
    const v1::ReferralTransitionRequest* request,
    v1::CommandResponse* response) {
  return RunCommand(
      context, pool_, response,
      [this, request](auto& caller) -> absl::StatusOr<storage::AppendResult> {
        absl::StatusOr<v1::EventPayload> event = ToPayload(*request);
        if (!event.ok()) return event.status();
        std::optional<uint64_t> expected;
        if (request->expected_version() > 0) {
          expected = request->expected_version();
        }
        return commands_->RecordReferral(caller, request->request_id(),
                                         request->referral_id(), *event,
                                         expected);
      });
}

grpc::ServerUnaryReactor* ReferralService::Get(
    grpc::CallbackServerContext* context, const v1::GetReferralRequest* request,
    v1::Referral* response) {
  return RunQuery(context, pool_, [this, request, response]() -> absl::Status {
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
    response->set_referral_id(view->referral_id);
    response->set_subject_id(view->subject_id);
    response->set_school(view->school);
    response->set_service(view->service);
    response->set_state(view->state);
    response->set_version(view->version);
    return absl::OkStatus();
  });
}

}  // namespace ycr::services
