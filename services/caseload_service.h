#pragma once

// ycr.v1.Caseloads: an organisation's caseload counts and its open
// referrals, read from the caseloads projection. Each call resolves the
// caller, waits (within the call's deadline) until the projection has applied
// the request's min_position, then reads the generation it was given, on the
// reader pool.
//
// Who may read what: a caller reads its own organisation's caseload; roles
// "auditor" and "scheduler" may read anyone's.

#include "projections/host.h"
#include "services/security/access_log.h"
#include "services/work_queue.h"
#include "ycr/v1/queries_service.grpc.pb.h"

namespace ycr::services {

class CaseloadService final : public v1::Caseloads::CallbackService {
 public:
  // All must outlive the service; `access` (may be null: none) records
  // reads of personal data.
  CaseloadService(projections::ProjectionHost* host, WorkQueue* pool,
                  AccessRecorder* access = nullptr)
      : host_(host), pool_(pool), access_(access) {}

  grpc::ServerUnaryReactor* Counts(grpc::CallbackServerContext* context,
                                   const v1::CaseloadCountsRequest* request,
                                   v1::CaseloadCounts* response) override;
  grpc::ServerUnaryReactor* ListReferrals(
      grpc::CallbackServerContext* context,
      const v1::ListCaseloadReferralsRequest* request,
      v1::ListCaseloadReferralsResponse* response) override;

 private:
  projections::ProjectionHost* const host_;
  WorkQueue* const pool_;
  AccessRecorder* const access_;
};

}  // namespace ycr::services
