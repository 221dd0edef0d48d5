#pragma once

// Checks of an append request against the log's limits, before anything is
// queued. Plain functions: no storage engine involved.

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/event_log.h"

namespace ycr::storage {

// OK when `stream` is 1..max_bytes of [A-Za-z0-9._:/@+-]. Otherwise
// INVALID_ARGUMENT naming `field`.
absl::Status ValidateStreamId(absl::string_view stream, size_t max_bytes,
                              absl::string_view field);

// The event type of a payload: the name of its oneof case, or for an opaque
// payload its declared type. INVALID_ARGUMENT (naming `field`) when no case
// is set or an opaque type is malformed or claims a typed case's name.
absl::StatusOr<std::string> EventTypeOf(const v1::EventPayload& payload,
                                        absl::string_view field);

// Validates `request` and normalises it in place (event ids to lower case).
// INVALID_ARGUMENT names the first offending field, e.g. "events[2].event_id".
absl::Status ValidateAppend(AppendRequest* request, const LogLimits& limits);

}  // namespace ycr::storage
