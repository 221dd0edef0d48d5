#include "common/not_leader.h"

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "common/error_details.h"
#include "google/protobuf/any.pb.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace ycr {

absl::Status NotLeaderError(absl::string_view message,
                            absl::string_view leader) {
  absl::Status status = absl::UnavailableError(message);
  google::rpc::ErrorInfo info;
  info.set_reason(reason::kNotLeader);
  info.set_domain(kErrorDomain);
  if (!leader.empty()) {
    (*info.mutable_metadata())[kLeaderMetadataKey] = std::string(leader);
  }
  status.SetPayload("type.googleapis.com/google.rpc.ErrorInfo",
                    absl::Cord(info.SerializeAsString()));
  return status;
}

absl::Status NotLeaderRefusal(absl::string_view leader) {
  return NotLeaderError(
      absl::StrCat(
          "not the leader: send commands to the leader",
          leader.empty() ? " (none known yet; retry shortly)"
                         : absl::StrCat(" at ", leader),
          "; the outcome of an unacknowledged append is unknown: retry it with "
          "the same event ids"),
      leader);
}

bool IsNotLeader(const absl::Status& status, std::string* leader) {
  auto payload = status.GetPayload("type.googleapis.com/google.rpc.ErrorInfo");
  google::rpc::ErrorInfo info;
  if (!payload.has_value() || !info.ParseFromString(std::string(*payload)) ||
      info.reason() != reason::kNotLeader) {
    return false;
  }
  auto it = info.metadata().find(kLeaderMetadataKey);
  *leader = it == info.metadata().end() ? "" : it->second;
  return true;
}

bool ParseNotLeader(const std::string& rpc_status, std::string* leader) {
  google::rpc::Status status;
  if (rpc_status.empty() || !status.ParseFromString(rpc_status)) return false;
  for (const google::protobuf::Any& any : status.details()) {
    google::rpc::ErrorInfo info;
    if (!any.UnpackTo(&info) || info.reason() != reason::kNotLeader) continue;
    auto it = info.metadata().find(kLeaderMetadataKey);
    *leader = it == info.metadata().end() ? "" : it->second;
    return true;
  }
  return false;
}

}  // namespace ycr
