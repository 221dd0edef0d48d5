#pragma once

// Shared by the files of the domain services (domain_services.h): running a
// command on the work queue and answering with its result, and a request's
// oneof of events as the event's payload. Internal to services.

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "google/protobuf/message.h"
#include "services/domain_commands.h"
#include "services/grpc_status.h"
#include "services/valid_request.h"
#include "services/work_queue.h"
#include "ycr/v1/commands.pb.h"
#include "ycr/v1/event.pb.h"

namespace ycr::services {
namespace internal {

// The EventPayload case whose message type is that of the request's set
// `oneof_name` case, with the request's personal part.
absl::StatusOr<v1::EventPayload> ToPayload(
    const google::protobuf::Message& request, const char* oneof_name,
    const v1::PersonalData& personal);

std::optional<uint64_t> Expected(uint64_t expected_version);

// No personal part: for commands that carry none.
extern const v1::PersonalData& kNoPersonalData;

// Resolves the caller and validates the request, then runs `command(caller)` on
// `pool` and finishes the call with its result.
template <typename Command>
grpc::ServerUnaryReactor* RunCommand(grpc::CallbackServerContext* context,
                                     const google::protobuf::Message& request,
                                     WorkQueue* pool,
                                     v1::CommandResponse* response,
                                     Command command) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<v1::Actor> caller = ResolveValidCaller(*context, request);
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

// A command request with a `oneof_name` of event payloads, run as
// `(commands->*record)(caller, request_id, id, event, expected_version)`.
template <typename Request>
grpc::ServerUnaryReactor* RunOneofCommand(
    grpc::CallbackServerContext* context, WorkQueue* pool,
    v1::CommandResponse* response, const Request* request,
    const std::string& id, const char* oneof_name,
    const v1::PersonalData& personal, DomainCommands* commands,
    absl::StatusOr<storage::AppendResult> (DomainCommands::*record)(
        const v1::Actor&, const std::string&, const std::string&,
        v1::EventPayload, std::optional<uint64_t>)) {
  return RunCommand(context, *request, pool, response,
                    [=, &id, &personal](
                        auto& caller) -> absl::StatusOr<storage::AppendResult> {
                      absl::StatusOr<v1::EventPayload> event =
                          ToPayload(*request, oneof_name, personal);
                      if (!event.ok()) return event.status();
                      return (commands->*record)(
                          caller, request->request_id(), id, *std::move(event),
                          Expected(request->expected_version()));
                    });
}

}  // namespace internal
}  // namespace ycr::services
