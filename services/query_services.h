#pragma once

// The query services over the projections: ycr.v1.Deadlines, ycr.v1.Audit
// and ycr.v1.Projections. Each call resolves the caller, waits (within the
// call's deadline) until the projection has applied the request's
// min_position, then reads the generation it was given, on the reader pool.
//
// Who may read what (until the access policy lands): a caller lists what its
// own organisation owes; roles "auditor" and "scheduler" may list anyone's.
// Audit trails are for the subject record's holder and for auditors.
// Rebuilding a projection is for role "admin".

#include "common/clock.h"
#include "common/metrics.h"
#include "projections/host.h"
#include "services/domain_commands.h"
#include "services/security/access_log.h"
#include "services/security/access_policy.h"
#include "services/stream_quota.h"
#include "services/tlog_checkpointer.h"
#include "services/work_queue.h"
#include "storage/access_log_store.h"
#include "storage/event_log.h"
#include "ycr/v1/queries_service.grpc.pb.h"

namespace ycr::services {

// Longest a query waits for min_position when the call has no deadline.
inline constexpr absl::Duration kDefaultQueryWait = absl::Seconds(10);

class DeadlineService final : public v1::Deadlines::CallbackService {
 public:
  // All must outlive the service. `clock` gives ListOverdue's default as_of
  // and decides what is past; `commands` records flags (on `command_pool`);
  // flags are counted in `metrics` (ycr_overdue_flags_total) unless null.
  DeadlineService(projections::ProjectionHost* host, WorkQueue* pool,
                  Clock* clock, DomainCommands* commands,
                  WorkQueue* command_pool, MetricRegistry* metrics = nullptr);

  grpc::ServerUnaryReactor* ListDue(
      grpc::CallbackServerContext* context, const v1::ListDueRequest* request,
      v1::ListDeadlinesResponse* response) override;
  grpc::ServerUnaryReactor* ListOverdue(
      grpc::CallbackServerContext* context,
      const v1::ListOverdueRequest* request,
      v1::ListDeadlinesResponse* response) override;
  grpc::ServerUnaryReactor* FlagOverdue(grpc::CallbackServerContext* context,
                                        const v1::FlagOverdueRequest* request,
                                        v1::CommandResponse* response) override;

 private:
  projections::ProjectionHost* const host_;
  WorkQueue* const pool_;
  Clock* const clock_;
  DomainCommands* const commands_;
  WorkQueue* const command_pool_;
  // Flags recorded, and flags replayed (recorded before); null: not counted.
  Counter* flags_recorded_ = nullptr;
  Counter* flags_replayed_ = nullptr;
};

class AuditService final : public v1::Audit::CallbackService {
 public:
  // All must outlive the service; `access` (may be null: none) records
  // reads of personal data.
  // `streams` (not owned; null: no limit) caps each caller's open
  // streams.
  // `records` (may be null: the pack then has no record) loads a subject's
  // record with its personal part opened.
  using LoadRecord =
      std::function<absl::StatusOr<std::optional<v1::SubjectRecord>>(
          const std::string& subject_id)>;
  AuditService(projections::ProjectionHost* host, storage::EventLog* log,
               WorkQueue* pool, AccessRecorder* access = nullptr,
               StreamQuota* streams = nullptr, LoadRecord records = nullptr)
      : host_(host),
        log_(log),
        pool_(pool),
        access_(access),
        streams_(streams),
        records_(std::move(records)) {}

  grpc::ServerWriteReactor<v1::AuditEntry>* Trail(
      grpc::CallbackServerContext* context,
      const v1::AuditTrailRequest* request) override;
  grpc::ServerWriteReactor<v1::AuditEntry>* OrganisationDisclosures(
      grpc::CallbackServerContext* context,
      const v1::OrganisationDisclosuresRequest* request) override;
  grpc::ServerUnaryReactor* ConsentInForce(
      grpc::CallbackServerContext* context,
      const v1::ConsentInForceRequest* request,
      v1::ConsentInForceResponse* response) override;
  grpc::ServerUnaryReactor* SubjectAccessPack(
      grpc::CallbackServerContext* context,
      const v1::SubjectAccessPackRequest* request,
      v1::SubjectAccessPack* response) override;
  // The transparency tree (tlog_service.cc).
  grpc::ServerUnaryReactor* Checkpoint(grpc::CallbackServerContext* context,
                                       const v1::CheckpointRequest* request,
                                       v1::SignedCheckpoint* response) override;
  grpc::ServerUnaryReactor* InclusionProof(
      grpc::CallbackServerContext* context,
      const v1::InclusionProofRequest* request,
      v1::InclusionProofResponse* response) override;
  grpc::ServerUnaryReactor* InclusionProofs(
      grpc::CallbackServerContext* context,
      const v1::InclusionProofsRequest* request,
      v1::InclusionProofsResponse* response) override;
  grpc::ServerUnaryReactor* ConsistencyProof(
      grpc::CallbackServerContext* context,
      const v1::ConsistencyProofRequest* request,
      v1::ConsistencyProofResponse* response) override;

  // Serves checkpoints and proofs from `checkpointer` (not owned; set
  // before serving). Without one they are UNAVAILABLE.
  void SetCheckpointer(Checkpointer* checkpointer) {
    checkpointer_ = checkpointer;
  }

 private:
  // A receipt (leaf hash only) for each disclosure of `pack`'s trail
  // (tlog_service.cc); none without a checkpointer.
  absl::Status AddReceipts(v1::SubjectAccessPack* pack);

  projections::ProjectionHost* const host_;
  storage::EventLog* const log_;
  WorkQueue* const pool_;
  AccessRecorder* const access_;
  Checkpointer* checkpointer_ = nullptr;
  StreamQuota* const streams_;
  const LoadRecord records_;
};

class ProjectionAdminService final : public v1::Projections::CallbackService {
 public:
  ProjectionAdminService(projections::ProjectionHost* host,
                         storage::EventLog* log, WorkQueue* pool)
      : host_(host), log_(log), pool_(pool) {}

  grpc::ServerUnaryReactor* Status(
      grpc::CallbackServerContext* context,
      const v1::ProjectionStatusRequest* request,
      v1::ProjectionStatusResponse* response) override;
  grpc::ServerUnaryReactor* Rebuild(
      grpc::CallbackServerContext* context,
      const v1::RebuildProjectionRequest* request,
      v1::RebuildProjectionResponse* response) override;

 private:
  projections::ProjectionHost* const host_;
  storage::EventLog* const log_;
  WorkQueue* const pool_;
};

// The deadline a query waits until: the call's, or kDefaultQueryWait.
absl::Time QueryDeadline(const grpc::CallbackServerContext& context);

// The most entries one page holds.
inline constexpr size_t kMaxPageSize = 1000;

// page_size: 0 -> 100; above kMaxPageSize -> INVALID_ARGUMENT.
absl::StatusOr<size_t> PageSize(uint32_t page_size);

}  // namespace ycr::services
