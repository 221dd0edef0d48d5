#pragma once

// Validation derived from the contract: one check of any ycr.v1 message,
// driven by its descriptor, that every RPC runs on its request before
// anything else (after the caller is known). It walks every field that is
// set (singular, repeated, map, oneof, nested to any depth) and refuses:
//
// - a field number the contract does not have (UNKNOWN_FIELD): a client on
//   a newer contract must not believe a field was stored;
// - an enum number its enum does not define (UNKNOWN_ENUM_VALUE);
// - a google.protobuf.Timestamp with nanos outside [0, 1e9) or seconds
//   outside [kEarliestTime, kLatestTime) (1900-01-01 to 2200-01-01 UTC),
//   tighter where the field says so (kTimeBounds), and a
//   google.protobuf.Duration longer than that range or with nanos out of
//   range or of the wrong sign (TIME_OUT_OF_RANGE);
// - a string that is not UTF-8 or holds a control character (C0, DEL, C1;
//   free text, classes PERSONAL and OPERATIONAL, may hold tab, line feed and
//   carriage return) (FIELD_INVALID);
// - a string or bytes longer than its field's class allows, or a repeated
//   field with more elements than allowed (TOO_LONG).
//
// The bounds are static (no clock): a value the validator accepts today it
// accepts tomorrow, so whatever the store holds can be validated again.
// Bounds relative to now (an effective date at most two years ahead, a date
// of birth not in the future) are the domain rules'.
//
// Each refusal names the field's path as the rules write it:
// "consent.terms.purposes[1]", "giver.parent.person_ref", a map entry as
// "by_state[\"key\"]", an unknown field by its number ("consent.9999").

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"

namespace ycr::domain {

// Every Timestamp: [kEarliestTime, kLatestTime), Unix seconds.
inline constexpr int64_t kEarliestTime = -2208988800;  // 1900-01-01T00:00:00Z
inline constexpr int64_t kLatestTime = 7258118400;     // 2200-01-01T00:00:00Z

// Bytes of an identifier, a code or a time written as text (classes
// IDENTIFIER, CODE, TIME), unless kFieldLengths says otherwise.
inline constexpr size_t kMaxCodeBytes = 256;
// Bytes of free text (classes PERSONAL and OPERATIONAL strings): as
// field_checks.h's kMaxTextBytes.
inline constexpr size_t kMaxFreeTextBytes = 16 * 1024;
// Bytes of an OPERATIONAL bytes field (an opaque event payload, a digest):
// the largest --max_payload_bytes the server accepts (64 MiB); the log
// enforces the configured per-event limit (64 KiB by default), and gRPC the
// message size (--max_message_mb, 8 MiB by default).
inline constexpr size_t kMaxOperationalBytes = 64 << 20;
// Elements of a repeated field, unless kFieldLengths says otherwise.
inline constexpr size_t kMaxRepeated = 1000;
// Violations reported for one request; the walk stops there.
inline constexpr size_t kMaxViolations = 20;

struct MessageViolation {
  std::string field;
  std::string description;
  // One of ycr::reason (common/error_details.h).
  std::string reason;
};

// Every violation of `message` (at most `max`), in field order. Paths are
// prefixed with `prefix` ("" for a request).
std::vector<MessageViolation> FindViolations(
    const google::protobuf::Message& message, absl::string_view prefix = "",
    size_t max = kMaxViolations);

// OK, or INVALID_ARGUMENT with a BadRequest naming every violation (at most
// kMaxViolations), each with its description ("99 is not a value of
// ycr.v1.Purpose") and its own reason (UNKNOWN_ENUM_VALUE), and an ErrorInfo
// with the first one's reason.
absl::Status ValidateMessage(const google::protobuf::Message& message);

}  // namespace ycr::domain
