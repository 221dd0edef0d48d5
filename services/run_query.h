#pragma once

// The shape every unary read takes: resolve the caller once and validate
// the request (services/valid_request.h), then run the query on a worker
// pool (queries may wait and read storage) and finish the
// call with its status.

#include <grpcpp/grpcpp.h>

#include <utility>

#include "services/access_log.h"
#include "services/caller_identity.h"
#include "services/grpc_status.h"
#include "services/valid_request.h"
#include "services/work_queue.h"

namespace ycr::services {

// `query(const v1::Actor& caller)` returns absl::Status and fills the
// response it captured.
template <typename Query>
grpc::ServerUnaryReactor* RunQuery(grpc::CallbackServerContext* context,
                                   const google::protobuf::Message& request,
                                   WorkQueue* pool, Query query) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<v1::Actor> caller = ResolveValidCaller(*context, request);
  if (!caller.ok()) {
    reactor->Finish(ToGrpcStatus(caller.status()));
    return reactor;
  }
  pool->Post([reactor, caller = *std::move(caller),
              query = std::move(query)]() mutable {
    reactor->Finish(ToGrpcStatus(query(caller)));
  });
  return reactor;
}

// As RunQuery, for a read of subjects' personal data (a view of
// PersonalDataViews()): `query(const v1::Actor& caller, ReadAccess* read)`
// calls read->Saw(subject) for each subject it reaches; the call finishes
// only after their access log entries are queued, and with UNAVAILABLE
// (without the data) when the access log refuses them. `access` may be null
// (no access log).
template <typename Query>
grpc::ServerUnaryReactor* RunPersonalQuery(
    grpc::CallbackServerContext* context,
    const google::protobuf::Message& request, WorkQueue* pool,
    AccessRecorder* access, Query query) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<v1::Actor> caller = ResolveValidCaller(*context, request);
  if (!caller.ok()) {
    reactor->Finish(ToGrpcStatus(caller.status()));
    return reactor;
  }
  absl::StatusOr<ReadAccess> read = ReadAccess::Begin(access, *context);
  if (!read.ok()) {
    reactor->Finish(ToGrpcStatus(read.status()));
    return reactor;
  }
  pool->Post([reactor, caller = *std::move(caller), read = *std::move(read),
              query = std::move(query)]() mutable {
    absl::Status result = query(caller, &read);
    reactor->Finish(ToGrpcStatus(read.Commit(caller, std::move(result))));
  });
  return reactor;
}

}  // namespace ycr::services
