#pragma once

// The domain services (Consents, Sharing, Referrals, Subjects,
// Interventions, Agreements, Correspondence, Safeguarding): thin gRPC layers
// over DomainCommands. Each call resolves the caller, then runs the command
// on the command pool (commands wait for the log) and finishes from there.

#include "services/domain_commands.h"
#include "services/security/access_log.h"
#include "services/work_queue.h"
#include "ycr/v1/agreement_service.grpc.pb.h"
#include "ycr/v1/area_service.grpc.pb.h"
#include "ycr/v1/consent_service.grpc.pb.h"
#include "ycr/v1/correspondence_service.grpc.pb.h"
#include "ycr/v1/intervention_service.grpc.pb.h"
#include "ycr/v1/referral_service.grpc.pb.h"
#include "ycr/v1/safeguarding_service.grpc.pb.h"
#include "ycr/v1/sharing_service.grpc.pb.h"
#include "ycr/v1/subject_service.grpc.pb.h"

namespace ycr::services {

class ConsentService final : public v1::Consents::CallbackService {
 public:
  // Both must outlive the service.
  // All must outlive the service; `access` (may be null: none) records
  // reads of personal data.
  ConsentService(DomainCommands* commands, WorkQueue* pool,
                 AccessRecorder* access = nullptr)
      : commands_(commands), pool_(pool), access_(access) {}

  grpc::ServerUnaryReactor* Grant(grpc::CallbackServerContext* context,
                                  const v1::GrantConsentRequest* request,
                                  v1::CommandResponse* response) override;
  grpc::ServerUnaryReactor* Refuse(grpc::CallbackServerContext* context,
                                   const v1::RefuseConsentRequest* request,
                                   v1::CommandResponse* response) override;
  grpc::ServerUnaryReactor* Vary(grpc::CallbackServerContext* context,
                                 const v1::VaryConsentRequest* request,
                                 v1::CommandResponse* response) override;
  grpc::ServerUnaryReactor* Withdraw(grpc::CallbackServerContext* context,
                                     const v1::WithdrawConsentRequest* request,
                                     v1::CommandResponse* response) override;
  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* context,
                                const v1::GetConsentRequest* request,
                                v1::Consent* response) override;

 private:
  DomainCommands* const commands_;
  WorkQueue* const pool_;
  AccessRecorder* const access_;
};

class SharingService final : public v1::Sharing::CallbackService {
 public:
  SharingService(DomainCommands* commands, WorkQueue* pool)
      : commands_(commands), pool_(pool) {}

  grpc::ServerUnaryReactor* RecordDisclosure(
      grpc::CallbackServerContext* context,
      const v1::RecordDisclosureRequest* request,
      v1::CommandResponse* response) override;
  grpc::ServerUnaryReactor* RecordDecisionNotToShare(
      grpc::CallbackServerContext* context,
      const v1::RecordDecisionNotToShareRequest* request,
      v1::CommandResponse* response) override;

 private:
  DomainCommands* const commands_;
  WorkQueue* const pool_;
};

class ReferralService final : public v1::Referrals::CallbackService {
 public:
  // All must outlive the service; `access` (may be null: none) records
  // reads of personal data.
  ReferralService(DomainCommands* commands, WorkQueue* pool,
                  AccessRecorder* access = nullptr)
      : commands_(commands), pool_(pool), access_(access) {}

  grpc::ServerUnaryReactor* Transition(
      grpc::CallbackServerContext* context,
      const v1::ReferralTransitionRequest* request,
      v1::CommandResponse* response) override;
  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* context,
                                const v1::GetReferralRequest* request,
                                v1::Referral* response) override;

 private:
  DomainCommands* const commands_;
  WorkQueue* const pool_;
  AccessRecorder* const access_;
};

class SubjectService final : public v1::Subjects::CallbackService {
 public:
  // All must outlive the service; `access` (may be null: none) records
  // reads of personal data.
  SubjectService(DomainCommands* commands, WorkQueue* pool,
                 AccessRecorder* access = nullptr)
      : commands_(commands), pool_(pool), access_(access) {}

  grpc::ServerUnaryReactor* PutRecord(
      grpc::CallbackServerContext* context,
      const v1::PutSubjectRecordRequest* request,
      v1::CommandResponse* response) override;
  grpc::ServerUnaryReactor* GetRecord(
      grpc::CallbackServerContext* context,
      const v1::GetSubjectRecordRequest* request,
      v1::SubjectRecord* response) override;
  grpc::ServerUnaryReactor* IdentifyYoungCarer(
      grpc::CallbackServerContext* context,
      const v1::IdentifyYoungCarerRequest* request,
      v1::CommandResponse* response) override;
  grpc::ServerUnaryReactor* Erase(grpc::CallbackServerContext* context,
                                  const v1::EraseSubjectRequest* request,
                                  v1::EraseSubjectResponse* response) override;
  grpc::ServerUnaryReactor* PlaceLegalHold(
      grpc::CallbackServerContext* context,
      const v1::PlaceLegalHoldRequest* request,
      v1::CommandResponse* response) override;
  grpc::ServerUnaryReactor* LiftLegalHold(
      grpc::CallbackServerContext* context,
      const v1::LiftLegalHoldRequest* request,
      v1::CommandResponse* response) override;
  grpc::ServerUnaryReactor* RetentionReviews(
      grpc::CallbackServerContext* context,
      const v1::RetentionReviewsRequest* request,
      v1::RetentionReviewsResponse* response) override;
  grpc::ServerUnaryReactor* ReviewRetention(
      grpc::CallbackServerContext* context,
      const v1::ReviewRetentionRequest* request,
      v1::CommandResponse* response) override;

 private:
  DomainCommands* const commands_;
  WorkQueue* const pool_;
  AccessRecorder* const access_;
};

class InterventionService final : public v1::Interventions::CallbackService {
 public:
  // All must outlive the service; `access` (may be null: none) records
  // reads of personal data.
  InterventionService(DomainCommands* commands, WorkQueue* pool,
                      AccessRecorder* access = nullptr)
      : commands_(commands), pool_(pool), access_(access) {}

  grpc::ServerUnaryReactor* Record(grpc::CallbackServerContext* context,
                                   const v1::InterventionCommand* request,
                                   v1::CommandResponse* response) override;
  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* context,
                                const v1::GetInterventionRequest* request,
                                v1::Intervention* response) override;

 private:
  DomainCommands* const commands_;
  WorkQueue* const pool_;
  AccessRecorder* const access_;
};

class AgreementService final : public v1::Agreements::CallbackService {
 public:
  AgreementService(DomainCommands* commands, WorkQueue* pool)
      : commands_(commands), pool_(pool) {}

  grpc::ServerUnaryReactor* Record(grpc::CallbackServerContext* context,
                                   const v1::AgreementCommand* request,
                                   v1::CommandResponse* response) override;
  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* context,
                                const v1::GetAgreementRequest* request,
                                v1::Agreement* response) override;

 private:
  DomainCommands* const commands_;
  WorkQueue* const pool_;
};

// Local authority areas: assigned by operators, read by anyone.
class AreaService final : public v1::Areas::CallbackService {
 public:
  AreaService(DomainCommands* commands, WorkQueue* pool)
      : commands_(commands), pool_(pool) {}

  grpc::ServerUnaryReactor* Assign(grpc::CallbackServerContext* context,
                                   const v1::AssignAreaRequest* request,
                                   v1::CommandResponse* response) override;
  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* context,
                                const v1::GetAreaRequest* request,
                                v1::Area* response) override;

 private:
  DomainCommands* const commands_;
  WorkQueue* const pool_;
};

class CorrespondenceService final : public v1::Correspondence::CallbackService {
 public:
  // All must outlive the service; `access` (may be null: none) records
  // reads of personal data.
  CorrespondenceService(DomainCommands* commands, WorkQueue* pool,
                        AccessRecorder* access = nullptr)
      : commands_(commands), pool_(pool), access_(access) {}

  grpc::ServerUnaryReactor* Record(grpc::CallbackServerContext* context,
                                   const v1::CorrespondenceCommand* request,
                                   v1::CommandResponse* response) override;
  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* context,
                                const v1::GetCorrespondenceRequest* request,
                                v1::CorrespondenceItem* response) override;

 private:
  DomainCommands* const commands_;
  WorkQueue* const pool_;
  AccessRecorder* const access_;
};

class SafeguardingService final : public v1::Safeguarding::CallbackService {
 public:
  // All must outlive the service; `access` (may be null: none) records
  // reads of personal data.
  SafeguardingService(DomainCommands* commands, WorkQueue* pool,
                      AccessRecorder* access = nullptr)
      : commands_(commands), pool_(pool), access_(access) {}

  grpc::ServerUnaryReactor* Record(grpc::CallbackServerContext* context,
                                   const v1::SafeguardingCommand* request,
                                   v1::CommandResponse* response) override;
  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* context,
                                const v1::GetConcernRequest* request,
                                v1::Concern* response) override;

 private:
  DomainCommands* const commands_;
  WorkQueue* const pool_;
  AccessRecorder* const access_;
};

}  // namespace ycr::services
