#include "common/error_details.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/types/optional.h"
#include "common/not_leader.h"
#include "google/protobuf/any.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace ycr {
namespace {

constexpr char kErrorInfoUrl[] = "type.googleapis.com/google.rpc.ErrorInfo";
constexpr char kBadRequestUrl[] = "type.googleapis.com/google.rpc.BadRequest";
constexpr char kPreconditionUrl[] =
    "type.googleapis.com/google.rpc.PreconditionFailure";

// "scope.purposes[1]": a path of field names, indexes and map keys as the
// rules write them before ": ".
bool LooksLikeFieldPath(absl::string_view s) {
  if (s.empty() || !absl::ascii_islower(static_cast<unsigned char>(s[0]))) {
    return false;
  }
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (!absl::ascii_islower(u) && !absl::ascii_isdigit(u) && c != '_' &&
        c != '.' && c != '[' && c != ']') {
      return false;
    }
  }
  return true;
}

// "is required", "are required (...)": what a rule says of a missing field.
bool IsRequiredText(absl::string_view text) {
  return absl::StartsWith(text, "is required") ||
         absl::StartsWith(text, "are required");
}

void Put(absl::Status* status, const char* url,
         const google::protobuf::Message& message) {
  status->SetPayload(url, absl::Cord(message.SerializeAsString()));
}

template <typename T>
bool Get(const absl::Status& status, const char* url, T* out) {
  absl::optional<absl::Cord> payload = status.GetPayload(url);
  return payload.has_value() && out->ParseFromString(std::string(*payload));
}

void Fill(const google::rpc::ErrorInfo& info, ErrorDetails* details) {
  details->reason = info.reason();
}
void Fill(const google::rpc::BadRequest& bad, ErrorDetails* details) {
  for (const auto& v : bad.field_violations()) {
    details->field_violations.push_back(
        {v.field(), v.description(), v.reason()});
  }
}
void Fill(const google::rpc::PreconditionFailure& failure,
          ErrorDetails* details) {
  for (const auto& v : failure.violations()) {
    details->precondition_violations.push_back(
        {v.type(), v.subject(), v.description()});
  }
}

google::rpc::BadRequest ToBadRequest(
    const std::vector<FieldViolation>& violations) {
  google::rpc::BadRequest bad;
  for (const FieldViolation& v : violations) {
    auto* out = bad.add_field_violations();
    out->set_field(v.field);
    out->set_description(v.description);
    out->set_reason(v.reason);
  }
  return bad;
}

}  // namespace

const std::vector<std::string>& KnownReasons() {
  static const auto* reasons = new std::vector<std::string>{
      reason::kFieldInvalid,      reason::kFieldRequired,
      reason::kUnknownField,      reason::kUnknownEnumValue,
      reason::kTimeOutOfRange,    reason::kTooLong,
      reason::kReferenceNotFound, reason::kNotCovered,
      reason::kInvalidState,      reason::kSubjectErased,
      reason::kVersionConflict,   reason::kRequestIdReused,
      reason::kNotLeader};
  return *reasons;
}

absl::Status FieldError(absl::string_view field, absl::string_view description,
                        absl::string_view reason_code) {
  return FieldErrors({{std::string(field), std::string(description), ""}},
                     reason_code);
}

absl::Status FieldErrors(const std::vector<FieldViolation>& violations,
                         absl::string_view reason_code) {
  std::string message =
      violations.empty()
          ? std::string("invalid request")
          : absl::StrCat(violations[0].field, ": ", violations[0].description);
  if (violations.size() > 1) {
    absl::StrAppend(&message, " (and ", violations.size() - 1,
                    " more: see the BadRequest details)");
  }
  absl::Status status = absl::InvalidArgumentError(message);
  std::vector<FieldViolation> each = violations;
  for (FieldViolation& v : each) {
    if (v.reason.empty()) v.reason = std::string(reason_code);
  }
  Put(&status, kBadRequestUrl, ToBadRequest(each));
  return WithReason(std::move(status), reason_code);
}

absl::Status PreconditionError(absl::StatusCode code, absl::string_view type,
                               absl::string_view subject,
                               absl::string_view description,
                               absl::string_view reason_code) {
  absl::Status status(code, description);
  google::rpc::PreconditionFailure failure;
  auto* v = failure.add_violations();
  v->set_type(std::string(type));
  v->set_subject(std::string(subject));
  v->set_description(std::string(description));
  Put(&status, kPreconditionUrl, failure);
  return WithReason(std::move(status), reason_code);
}

absl::Status WithReason(absl::Status status, absl::string_view reason_code) {
  if (status.ok()) return status;
  google::rpc::ErrorInfo info;
  info.set_reason(std::string(reason_code));
  info.set_domain(kErrorDomain);
  Put(&status, kErrorInfoUrl, info);
  return status;
}

absl::Status WithFieldPrefix(const absl::Status& status,
                             absl::string_view prefix) {
  if (status.ok() || prefix.empty()) return status;
  absl::Status out(status.code(), absl::StrCat(prefix, ".", status.message()));
  status.ForEachPayload(
      [&out](absl::string_view url, const absl::Cord& payload) {
        out.SetPayload(url, payload);
      });
  google::rpc::BadRequest bad;
  if (Get(status, kBadRequestUrl, &bad)) {
    for (auto& v : *bad.mutable_field_violations()) {
      v.set_field(absl::StrCat(prefix, ".", v.field()));
    }
    Put(&out, kBadRequestUrl, bad);
  }
  return out;
}

ErrorDetails DetailsOf(const absl::Status& status) {
  ErrorDetails details;
  if (status.ok()) return details;
  google::rpc::ErrorInfo info;
  if (Get(status, kErrorInfoUrl, &info)) {
    Fill(info, &details);
  } else {
    details.reason = absl::StatusCodeToString(status.code());
  }
  google::rpc::BadRequest bad;
  if (Get(status, kBadRequestUrl, &bad)) {
    Fill(bad, &details);
  } else if (status.code() == absl::StatusCode::kInvalidArgument) {
    const absl::string_view message = status.message();
    const size_t colon = message.find(": ");
    if (colon != absl::string_view::npos &&
        LooksLikeFieldPath(message.substr(0, colon))) {
      details.field_violations.push_back(
          {std::string(message.substr(0, colon)),
           std::string(message.substr(colon + 2)), ""});
    }
    if (!Get(status, kErrorInfoUrl, &info)) {
      details.reason = colon != absl::string_view::npos &&
                               IsRequiredText(message.substr(colon + 2))
                           ? reason::kFieldRequired
                           : reason::kFieldInvalid;
    }
  }
  google::rpc::PreconditionFailure failure;
  if (Get(status, kPreconditionUrl, &failure)) {
    Fill(failure, &details);
  } else if (status.code() == absl::StatusCode::kFailedPrecondition) {
    // Every FAILED_PRECONDITION says what must hold: one made without a
    // PreconditionFailure gets its message as the description.
    details.precondition_violations.push_back(
        {"STATE", "", std::string(status.message())});
  }
  return details;
}

std::string SerializedRpcStatus(const absl::Status& status) {
  if (status.ok()) return "";
  const ErrorDetails details = DetailsOf(status);
  google::rpc::Status out;
  out.set_code(static_cast<int>(status.code()));
  out.set_message(std::string(status.message()));
  // The status's own ErrorInfo, with its metadata (NOT_LEADER's leader),
  // when it carries one.
  google::rpc::ErrorInfo info;
  if (!Get(status, kErrorInfoUrl, &info) || info.reason() != details.reason) {
    info.Clear();
  }
  info.set_reason(details.reason);
  info.set_domain(kErrorDomain);
  out.add_details()->PackFrom(info);
  if (!details.field_violations.empty()) {
    std::vector<FieldViolation> each = details.field_violations;
    for (FieldViolation& v : each) {
      if (v.reason.empty()) v.reason = details.reason;
    }
    out.add_details()->PackFrom(ToBadRequest(each));
  }
  if (!details.precondition_violations.empty()) {
    google::rpc::PreconditionFailure failure;
    for (const PreconditionViolation& v : details.precondition_violations) {
      auto* p = failure.add_violations();
      p->set_type(v.type);
      p->set_subject(v.subject);
      p->set_description(v.description);
    }
    out.add_details()->PackFrom(failure);
  }
  return out.SerializeAsString();
}

bool ParseRpcStatus(const std::string& bytes, int* code, std::string* message,
                    ErrorDetails* details) {
  google::rpc::Status status;
  if (bytes.empty() || !status.ParseFromString(bytes)) return false;
  *code = status.code();
  *message = status.message();
  *details = ErrorDetails();
  for (const google::protobuf::Any& any : status.details()) {
    google::rpc::ErrorInfo info;
    google::rpc::BadRequest bad;
    google::rpc::PreconditionFailure failure;
    if (any.UnpackTo(&info)) {
      Fill(info, details);
    } else if (any.UnpackTo(&bad)) {
      Fill(bad, details);
    } else if (any.UnpackTo(&failure)) {
      Fill(failure, details);
    }
  }
  return true;
}

std::string RpcStatusJson(const std::string& bytes) {
  google::rpc::Status status;
  if (bytes.empty() || !status.ParseFromString(bytes)) return "";
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(status, &json).ok()) {
    return "";
  }
  return json;
}

std::string DescribeDetails(const ErrorDetails& details) {
  std::string out;
  if (!details.reason.empty()) {
    absl::StrAppend(&out, "  reason: ", details.reason, "\n");
  }
  for (const FieldViolation& v : details.field_violations) {
    absl::StrAppend(&out, "  field ", v.field, ": ", v.description,
                    v.reason.empty() ? "" : absl::StrCat(" (", v.reason, ")"),
                    "\n");
  }
  for (const PreconditionViolation& v : details.precondition_violations) {
    absl::StrAppend(&out, "  precondition ", v.type, " ", v.subject, ": ",
                    v.description, "\n");
  }
  return out;
}

}  // namespace ycr
