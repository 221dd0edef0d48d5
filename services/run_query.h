#pragma once

// The shape every unary read takes: resolve the caller once, then run the
// query on a worker pool (queries may wait and read storage) and finish the
// call with its status.

#include <grpcpp/grpcpp.h>

#include <utility>

#include "services/caller_identity.h"
#include "services/grpc_status.h"
#include "services/work_queue.h"

namespace ycr::services {

// `query(const v1::Actor& caller)` returns absl::Status and fills the
// response it captured.
template <typename Query>
grpc::ServerUnaryReactor* RunQuery(grpc::CallbackServerContext* context,
                                   WorkQueue* pool, Query query) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<v1::Actor> caller = ResolveCaller(*context);
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

}  // namespace ycr::services
