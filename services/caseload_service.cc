#include "services/caseload_service.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "domain/field_checks.h"
#include "projections/caseloads.h"
#include "services/query_services.h"
#include "services/run_query.h"
#include "services/security/area_access.h"

namespace ycr::services {
namespace {

constexpr char kCaseloads[] = "caseloads";

// A caller reads its own organisation's caseload, a local authority those
// of its area's organisations; auditors anyone's (the scheduler reads
// deadlines only: access_policy.h).
absl::Status MayReadCaseload(storage::EventLog& log, const v1::Actor& caller,
                             const std::string& organisation) {
  RETURN_IF_ERROR(domain::ValidId(organisation, "organisation"));
  if (caller.role() == kAuditorRole) return absl::OkStatus();
  if (organisation == caller.organisation()) return absl::OkStatus();
  ASSIGN_OR_RETURN(bool covered, CoversArea(log, caller, organisation));
  if (covered) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat(
      "organisation: a caller reads its own organisation's caseload (",
      caller.organisation(),
      "), a local authority its area's; only auditors read others'"));
}

}  // namespace

grpc::ServerUnaryReactor* CaseloadService::Counts(
    grpc::CallbackServerContext* context,
    const v1::CaseloadCountsRequest* request, v1::CaseloadCounts* response) {
  const absl::Time deadline = QueryDeadline(*context);
  return RunProjectionQuery(
      context, *request, pool_, host_, kCaseloads, deadline,
      [this, request](const v1::Actor& caller,
                      ReadAccess*) -> absl::StatusOr<uint64_t> {
        RETURN_IF_ERROR(
            MayReadCaseload(host_->log(), caller, request->organisation()));
        return request->min_position();
      },
      [this, request, response](
          const v1::Actor& caller, ReadAccess*,
          const projections::GenerationLease& lease) -> absl::Status {
        ASSIGN_OR_RETURN(*response,
                         projections::Counts(host_->store(), lease.generation(),
                                             request->organisation()));
        // Workers are the organisation's staff: named to itself and to
        // auditors, not to its local authority (README, "Who sees what").
        if (caller.organisation() != request->organisation() &&
            caller.role() != kAuditorRole) {
          response->clear_by_worker();
        }
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* CaseloadService::ListReferrals(
    grpc::CallbackServerContext* context,
    const v1::ListCaseloadReferralsRequest* request,
    v1::ListCaseloadReferralsResponse* response) {
  const absl::Time deadline = QueryDeadline(*context);
  return RunPersonalProjectionQuery(
      context, *request, pool_, access_, host_, kCaseloads, deadline,
      request->min_position(),
      [this, request](const v1::Actor& caller,
                      ReadAccess*) -> absl::StatusOr<uint64_t> {
        RETURN_IF_ERROR(
            MayReadCaseload(host_->log(), caller, request->organisation()));
        RETURN_IF_ERROR(PageSize(request->page_size()).status());
        return request->min_position();
      },
      [this, request, response](
          const v1::Actor&, ReadAccess* read,
          const projections::GenerationLease& lease) -> absl::Status {
        ASSIGN_OR_RETURN(size_t limit, PageSize(request->page_size()));
        std::vector<v1::CaseloadReferral> referrals;
        std::string next;
        RETURN_IF_ERROR(projections::ListReferrals(
            host_->store(), lease.generation(), request->organisation(),
            request->page_token(), limit, &referrals, &next));
        for (v1::CaseloadReferral& referral : referrals) {
          read->Saw(referral.subject_id());
          *response->add_referrals() = std::move(referral);
        }
        response->set_next_page_token(next);
        return absl::OkStatus();
      });
}

}  // namespace ycr::services
