#pragma once

// A unary call in flight on gRPC's callback API, for tests that hold calls
// waiting on the server. Start it as soon as it is made (the stub's async
// call with `context`, `request`, `response`, and a callback that sets
// `status` and notifies `done`): destroyed, it is cancelled and waited for,
// so that none outlives a test that stops early.

#include <grpcpp/grpcpp.h>

#include "absl/synchronization/notification.h"

namespace ycr::test {

template <typename Request, typename Response>
struct PendingCall {
  grpc::ClientContext context;
  Request request;
  Response response;
  grpc::Status status;
  absl::Notification done;
  ~PendingCall() {
    context.TryCancel();
    done.WaitForNotification();
  }
};

}  // namespace ycr::test
