#include "clients/follow_leader.h"

#include "common/not_leader.h"

namespace ycr::clients {

std::string LeaderNamedBy(const grpc::Status& status) {
  std::string leader;
  if (status.error_code() != grpc::StatusCode::UNAVAILABLE ||
      !ParseNotLeader(status.error_details(), &leader)) {
    return "";
  }
  return leader;
}

}  // namespace ycr::clients
