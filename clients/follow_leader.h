#pragma once

// Following a cluster's leader: a follower refuses a command with
// UNAVAILABLE and a NOT_LEADER ErrorInfo naming the leader
// (common/not_leader.h); nothing of the call was written, so the client
// sends it once more to the leader it names, with its own identity (never
// further: a leader that moved again is the caller's to retry). The `ycr`
// command line and `ycr-scheduler` both follow it this way.

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/functional/function_ref.h"

namespace ycr::clients {

// A channel to another node (host:port) with the caller's own security.
using Redial =
    std::function<std::shared_ptr<grpc::Channel>(const std::string& address)>;

// The leader's address a NOT_LEADER refusal names; "" when `status` is not
// one, or names none.
std::string LeaderNamedBy(const grpc::Status& status);

// Calls `call` on `channel`; when it sets `*leader` (the leader a
// NOT_LEADER refusal named) and `redial` is set, tells `on_follow` and calls
// it once more on redial(leader). The last call's result.
template <typename Result>
Result FollowLeaderOnce(
    const std::shared_ptr<grpc::Channel>& channel, const Redial& redial,
    absl::FunctionRef<Result(const std::shared_ptr<grpc::Channel>&,
                             std::string* leader)>
        call,
    absl::FunctionRef<void(const std::string& leader)> on_follow) {
  std::string leader;
  Result result = call(channel, &leader);
  if (leader.empty() || !redial) return result;
  on_follow(leader);
  std::string again;
  return call(redial(leader), &again);
}

}  // namespace ycr::clients
