#pragma once

// Local authority areas: which local authority's area a school or service
// is in (stream "area-<organisation>", kept in the record store at
// AreaKey(organisation) too, for the reads' checks).

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "ycr/v1/event.pb.h"

namespace ycr::domain {

// Record-store key of an organisation's area: the value is the local
// authority's id; no record: in no area.
std::string AreaKey(const std::string& organisation);

struct AreaView {
  // "" when in no area.
  std::string local_authority;
  uint64_t version = 0;
};

// INVALID_ARGUMENT naming the field unless `assignment` names an
// organisation (an id) and, if any, a local authority (an id, not the
// organisation itself); FAILED_PRECONDITION when `view` already has the
// organisation where the assignment puts it.
absl::Status DecideAreaAssignment(const AreaView& view,
                                  const v1::AreaAssigned& assignment);

absl::Status ApplyAreaEvent(const v1::RecordedEvent& event, AreaView* view);

}  // namespace ycr::domain
