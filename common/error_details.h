#pragma once

// Machine-readable errors. An absl::Status made here carries, as payloads,
// the google.rpc details a council system branches on without parsing the
// message: ErrorInfo (a stable reason code), BadRequest (which fields are
// wrong) and PreconditionFailure (what must hold first). The gRPC layer
// (services/grpc_status.h) sends them as the status's details; a status made
// elsewhere still gets an ErrorInfo whose reason is derived from its code,
// and an INVALID_ARGUMENT whose message starts "<field path>: " a BadRequest
// naming that field (every rule writes its refusals that way), with reason
// FIELD_REQUIRED when the text after the field is "is required"; and a
// FAILED_PRECONDITION without a PreconditionFailure one of type "STATE" with
// its message.
//
// The reasons are a contract: README "Errors a client can branch on" lists
// them, and tests/unit/error_details_test.cc checks the list is complete.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace ycr {

// ErrorInfo.domain of every ycr error.
inline constexpr char kErrorDomain[] = "ycr.v1";

// Stable reasons (ErrorInfo.reason). Codes without a reason of their own get
// the code's name ("PERMISSION_DENIED", "NOT_FOUND", ...).
namespace reason {
// INVALID_ARGUMENT: a field's value is refused (BadRequest names it).
inline constexpr char kFieldInvalid[] = "FIELD_INVALID";
// INVALID_ARGUMENT: a required field is missing or blank.
inline constexpr char kFieldRequired[] = "FIELD_REQUIRED";
// INVALID_ARGUMENT: a field number this server's contract does not have.
inline constexpr char kUnknownField[] = "UNKNOWN_FIELD";
// INVALID_ARGUMENT: an enum number the contract does not define.
inline constexpr char kUnknownEnumValue[] = "UNKNOWN_ENUM_VALUE";
// INVALID_ARGUMENT: a time outside the range its field allows.
inline constexpr char kTimeOutOfRange[] = "TIME_OUT_OF_RANGE";
// INVALID_ARGUMENT: a value longer, or a list longer, than allowed.
inline constexpr char kTooLong[] = "TOO_LONG";
// FAILED_PRECONDITION: something the command refers to (a consent, an
// agreement, a referral, a concern) does not exist or is not the caller's to
// cite (PreconditionFailure names it).
inline constexpr char kReferenceNotFound[] = "REFERENCE_NOT_FOUND";
// FAILED_PRECONDITION: no consent (or lawful basis) in force covers it.
inline constexpr char kNotCovered[] = "NOT_COVERED";
// FAILED_PRECONDITION: the thing is not in a state that allows this step.
inline constexpr char kInvalidState[] = "INVALID_STATE";
// FAILED_PRECONDITION: the subject's personal data has been erased.
inline constexpr char kSubjectErased[] = "SUBJECT_ERASED";
// ABORTED: expected_version is not the stream's version (trailing metadata
// ycr-conflict-stream / ycr-conflict-version say which and what).
inline constexpr char kVersionConflict[] = "VERSION_CONFLICT";
// ALREADY_EXISTS: the request id was used by this organisation for a
// different command.
inline constexpr char kRequestIdReused[] = "REQUEST_ID_REUSED";
}  // namespace reason

// Every reason above, for the README table's test.
const std::vector<std::string>& KnownReasons();

struct FieldViolation {
  std::string field;
  std::string description;
  // A stable reason (above); "" takes the status's.
  std::string reason;
};

struct PreconditionViolation {
  std::string type;
  std::string subject;
  std::string description;
};

// INVALID_ARGUMENT "<field>: <description>" with a BadRequest naming `field`
// and ErrorInfo `reason_code`.
absl::Status FieldError(absl::string_view field, absl::string_view description,
                        absl::string_view reason_code = reason::kFieldInvalid);

// INVALID_ARGUMENT listing every violation (the message names the first and
// how many more); `violations` must not be empty.
absl::Status FieldErrors(const std::vector<FieldViolation>& violations,
                         absl::string_view reason_code = reason::kFieldInvalid);

// `code` (FAILED_PRECONDITION, usually) with message `description`, a
// PreconditionFailure {type, subject, description} and ErrorInfo
// `reason_code`.
absl::Status PreconditionError(absl::StatusCode code, absl::string_view type,
                               absl::string_view subject,
                               absl::string_view description,
                               absl::string_view reason_code);

// `status` with ErrorInfo reason `reason_code` (replacing any before). OK
// stays OK.
absl::Status WithReason(absl::Status status, absl::string_view reason_code);

// `status` with "<prefix>." before its message and before each BadRequest
// field (an embedded message's refusal, named from the outer request); its
// reason and other details kept. OK stays OK.
absl::Status WithFieldPrefix(const absl::Status& status,
                             absl::string_view prefix);

// What a status carries, explicit or derived as described at the top.
struct ErrorDetails {
  std::string reason;
  std::vector<FieldViolation> field_violations;
  std::vector<PreconditionViolation> precondition_violations;
};
ErrorDetails DetailsOf(const absl::Status& status);

// The serialized google.rpc.Status for `status` (code, message, and the
// details above as Any), as gRPC's grpc-status-details-bin carries it. Empty
// for OK.
std::string SerializedRpcStatus(const absl::Status& status);

// Reads a serialized google.rpc.Status back (a client's side). False if
// `bytes` is not one.
bool ParseRpcStatus(const std::string& bytes, int* code, std::string* message,
                    ErrorDetails* details);

// A serialized google.rpc.Status as one line of protobuf JSON (details
// expanded, "@type" naming each); "" if `bytes` is not one.
std::string RpcStatusJson(const std::string& bytes);

// Lines "  reason: R", "  field F: D", "  precondition T S: D" for a person
// reading a refusal; "" when there are no details.
std::string DescribeDetails(const ErrorDetails& details);

}  // namespace ycr
