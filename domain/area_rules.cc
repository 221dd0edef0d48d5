#include "domain/area_rules.h"

#include "absl/strings/str_cat.h"
#include "domain/field_checks.h"
#include "domain/refusals.h"

namespace ycr::domain {

std::string AreaKey(const std::string& organisation) {
  return "area/" + organisation;
}

absl::Status DecideAreaAssignment(const AreaView& view,
                                  const v1::AreaAssigned& assignment) {
  if (absl::Status s =
          ValidId(assignment.organisation(), "assignment.organisation");
      !s.ok()) {
    return s;
  }
  const std::string& authority = assignment.local_authority();
  if (!authority.empty()) {
    if (absl::Status s = ValidId(authority, "assignment.local_authority");
        !s.ok()) {
      return s;
    }
    if (authority == assignment.organisation()) {
      return absl::InvalidArgumentError(
          "assignment.local_authority: an organisation is not in its own "
          "area");
    }
  }
  if (authority == view.local_authority) {
    return InvalidState(
        "AREA", Cited("organisation", assignment.organisation()),
        authority.empty()
            ? absl::StrCat("area rule: ", assignment.organisation(),
                           " is already in no area")
            : absl::StrCat("area rule: ", assignment.organisation(),
                           " is already in the area of ", authority));
  }
  return absl::OkStatus();
}

absl::Status ApplyAreaEvent(const v1::RecordedEvent& event, AreaView* view) {
  if (!event.payload().has_area_assigned()) {
    return absl::InvalidArgumentError("payload: is not an area event");
  }
  view->local_authority = event.payload().area_assigned().local_authority();
  view->version = event.stream_version();
  return absl::OkStatus();
}

}  // namespace ycr::domain
