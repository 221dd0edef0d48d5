#include "services/testing_service.h"

#include "common/error_details.h"
#include "common/proto_time.h"
#include "services/grpc_status.h"
#include "services/security/caller_identity.h"
#include "services/valid_request.h"

namespace ycr::services {

grpc::ServerUnaryReactor* TestingService::AdvanceTime(
    grpc::CallbackServerContext* context, const v1::AdvanceTimeRequest* request,
    v1::TimeResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::Status status = ResolveValidCaller(*context, *request).status();
  const absl::Duration by = absl::Seconds(request->by().seconds()) +
                            absl::Nanoseconds(request->by().nanos());
  if (status.ok() && by < absl::ZeroDuration()) {
    status = PreconditionError(absl::StatusCode::kFailedPrecondition, "CLOCK",
                               "by", "by: the clock only moves forwards",
                               reason::kInvalidState);
  }
  if (status.ok()) {
    clock_->Advance(by);
    *response->mutable_now() = ToProtoTime(clock_->Now());
  }
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

grpc::ServerUnaryReactor* TestingService::GetTime(
    grpc::CallbackServerContext* context, const v1::GetTimeRequest* request,
    v1::TimeResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::Status status = ResolveValidCaller(*context, *request).status();
  if (status.ok()) *response->mutable_now() = ToProtoTime(clock_->Now());
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

}  // namespace ycr::services
