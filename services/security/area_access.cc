#include "services/security/area_access.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "domain/area_rules.h"
#include "services/security/access_policy.h"

namespace ycr::services {

absl::StatusOr<bool> CoversArea(storage::EventLog& log, const v1::Actor& caller,
                                const std::string& organisation) {
  if (caller.role() != kLocalAuthorityRole || organisation.empty()) {
    return false;
  }
  ASSIGN_OR_RETURN(std::optional<std::string> area,
                   log.GetRecord(domain::AreaKey(organisation)));
  return area.has_value() && *area == caller.organisation();
}

absl::Status MayReadAsParty(storage::EventLog& log, const v1::Actor& caller,
                            const std::vector<std::string>& organisations,
                            absl::string_view what) {
  for (const std::string& organisation : organisations) {
    if (caller.organisation() == organisation) return absl::OkStatus();
  }
  for (const std::string& organisation : organisations) {
    ASSIGN_OR_RETURN(bool covered, CoversArea(log, caller, organisation));
    if (covered) return absl::OkStatus();
  }
  return absl::PermissionDeniedError(absl::StrCat(
      "only the organisations party to ", what,
      " (or the local authority of their area) may read it; the caller acts "
      "for ",
      caller.organisation()));
}

}  // namespace ycr::services
