#pragma once

// Reads by area: a local authority reads what the schools and services of
// its area (domain/area_rules.h) are party to.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "storage/event_log.h"
#include "ycr/v1/event.pb.h"

namespace ycr::services {

// Whether `caller` is a local authority whose area holds `organisation`.
absl::StatusOr<bool> CoversArea(storage::EventLog& log, const v1::Actor& caller,
                                const std::string& organisation);

// OK when `caller` acts for one of `organisations`, or is the local
// authority of the area one of them is in; otherwise PERMISSION_DENIED
// naming `what` ("the referral").
absl::Status MayReadAsParty(storage::EventLog& log, const v1::Actor& caller,
                            const std::vector<std::string>& organisations,
                            absl::string_view what);

}  // namespace ycr::services
