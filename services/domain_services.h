#pragma once

// ycr.v1.Consents, ycr.v1.Sharing and ycr.v1.Referrals: thin gRPC layers
// over DomainCommands. Each call resolves the caller, then runs the command
// on the command pool (commands wait for the log) and finishes from there.

#include "services/domain_commands.h"
#include "services/work_queue.h"
#include "ycr/v1/consent_service.grpc.pb.h"
#include "ycr/v1/referral_service.grpc.pb.h"
#include "ycr/v1/sharing_service.grpc.pb.h"

namespace ycr::services {

class ConsentService final : public v1::Consents::CallbackService {
 public:
  // Both must outlive the service.
  ConsentService(DomainCommands* commands, WorkQueue* pool)
      : commands_(commands), pool_(pool) {}

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
};

class SharingService final : public v1::Sharing::CallbackService {
 public:
  SharingService(DomainCommands* commands, WorkQueue* pool)
      : commands_(commands), pool_(pool) {}

  grpc::ServerUnaryReactor* RecordDisclosure(
      grpc::CallbackServerContext* context,
      const v1::RecordDisclosureRequest* request,
      v1::CommandResponse* response) override;

 private:
  DomainCommands* const commands_;
  WorkQueue* const pool_;
};

class ReferralService final : public v1::Referrals::CallbackService {
 public:
  ReferralService(DomainCommands* commands, WorkQueue* pool)
      : commands_(commands), pool_(pool) {}

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
};

}  // namespace ycr::services
