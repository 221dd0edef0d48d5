// ycr.v1.Consents, Sharing and Referrals through a real server on
// 127.0.0.1:0.

#include "gtest/gtest.h"
#include "services/grpc_status.h"
#include "tests/integration/test_server.h"
#include "ycr/v1/consent_service.grpc.pb.h"
#include "ycr/v1/referral_service.grpc.pb.h"
#include "ycr/v1/sharing_service.grpc.pb.h"
#include "ycr/v1/subject_service.grpc.pb.h"

namespace ycr::testing {
namespace {

google::protobuf::Timestamp At(absl::Time t) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(absl::ToUnixSeconds(t));
  return ts;
}

class DomainServicesTest : public ::testing::Test {
 protected:
  DomainServicesTest() {
    channel_ = grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(server_.server().port()),
        grpc::InsecureChannelCredentials());
    consents_ = v1::Consents::NewStub(channel_);
    sharing_ = v1::Sharing::NewStub(channel_);
    referrals_ = v1::Referrals::NewStub(channel_);
    subjects_ = v1::Subjects::NewStub(channel_);
    v1::PutSubjectRecordRequest put;
    put.set_request_id(NewUuid());
    put.mutable_record()->set_subject_id("s-1");
    put.mutable_record()->set_given_name("Given");
    put.mutable_record()->set_family_name("Family");
    put.mutable_record()->set_date_of_birth("2012-03-04");
    grpc::ClientContext context;
    AsCaller(&context);
    v1::CommandResponse response;
    grpc::Status status = subjects_->PutRecord(&context, put, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
  }

  grpc::Status GrantConsent(const std::string& consent_id) {
    v1::GrantConsentRequest request;
    request.set_request_id(NewUuid());
    auto* c = request.mutable_consent();
    c->set_consent_id(consent_id);
    c->set_subject_id("s-1");
    c->mutable_given_by()->mutable_parent()->set_person_ref("parent-1");
    auto* t = c->mutable_terms();
    t->add_purposes(v1::PURPOSE_REFERRAL);
    t->add_recipients()->set_organisation("service-7");
    t->add_categories(v1::DATA_CATEGORY_IDENTITY);
    *t->mutable_valid_from() = At(absl::Now() - absl::Hours(1));
    *t->mutable_valid_until() = At(absl::Now() + absl::Hours(24));
    grpc::ClientContext context;
    AsCaller(&context);
    v1::CommandResponse response;
    return consents_->Grant(&context, request, &response);
  }

  grpc::Status Share(const std::string& consent_id,
                     v1::CommandResponse* response) {
    v1::RecordDisclosureRequest request;
    request.set_request_id(NewUuid());
    auto* d = request.mutable_disclosure();
    d->set_disclosure_id(NewUuid());
    d->set_subject_id("s-1");
    d->mutable_from()->set_organisation("school-100001");
    d->mutable_to()->set_organisation("service-7");
    d->add_categories(v1::DATA_CATEGORY_IDENTITY);
    d->set_purpose(v1::PURPOSE_REFERRAL);
    d->mutable_consent()->set_consent_id(consent_id);
    grpc::ClientContext context;
    AsCaller(&context);
    return sharing_->RecordDisclosure(&context, request, response);
  }

  grpc::Status Transition(v1::ReferralTransitionRequest request,
                          const std::string& organisation,
                          v1::CommandResponse* response) {
    request.set_request_id(NewUuid());
    request.set_referral_id("r-1");
    grpc::ClientContext context;
    AsCaller(&context, organisation);
    return referrals_->Transition(&context, request, response);
  }

  TempDir dir_;
  TestServer server_{dir_.path()};
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Consents::Stub> consents_;
  std::unique_ptr<v1::Subjects::Stub> subjects_;
  std::unique_ptr<v1::Sharing::Stub> sharing_;
  std::unique_ptr<v1::Referrals::Stub> referrals_;
};

TEST_F(DomainServicesTest,
       ShareIsAllowedUnderConsentAndRefusedAfterWithdrawal) {
  ASSERT_TRUE(GrantConsent("c-1").ok());
  v1::CommandResponse shared;
  grpc::Status status = Share("c-1", &shared);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_GT(shared.position(), 0u);

  v1::WithdrawConsentRequest withdraw;
  withdraw.set_request_id(NewUuid());
  withdraw.mutable_withdrawal()->set_consent_id("c-1");
  grpc::ClientContext context;
  AsCaller(&context);
  v1::CommandResponse withdrawn;
  ASSERT_TRUE(consents_->Withdraw(&context, withdraw, &withdrawn).ok());

  v1::CommandResponse refused;
  status = Share("c-1", &refused);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(status.error_message().find("withdrawn"), std::string::npos)
      << status.error_message();

  grpc::ClientContext get_context;
  AsCaller(&get_context);
  v1::GetConsentRequest get;
  get.set_consent_id("c-1");
  v1::Consent consent;
  ASSERT_TRUE(consents_->Get(&get_context, get, &consent).ok());
  EXPECT_EQ(consent.decision(), v1::Consent::GRANTED);
  EXPECT_TRUE(consent.has_withdrawn_at());
  EXPECT_EQ(consent.version(), 2u);
}

TEST_F(DomainServicesTest, ShareWithoutAnyConsentIsRefused) {
  v1::CommandResponse response;
  grpc::Status status = Share("c-missing", &response);
  // Cited, not addressed: FAILED_PRECONDITION (REFERENCE_NOT_FOUND).
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(status.error_message().find("no consent c-missing about subject"),
            std::string::npos);
}

TEST_F(DomainServicesTest, ReferralMovesThroughItsStatesAndRefusesTheRest) {
  v1::ReferralTransitionRequest submit;
  auto* s = submit.mutable_submit();
  s->set_referral_id("r-1");
  s->set_subject_id("s-1");
  s->set_school("school-100001");
  s->set_service("service-7");
  auto* d = s->mutable_disclosure();
  d->set_disclosure_id(NewUuid());
  d->set_subject_id("s-1");
  d->mutable_from()->set_organisation("school-100001");
  d->mutable_to()->set_organisation("service-7");
  d->add_categories(v1::DATA_CATEGORY_IDENTITY);
  d->set_purpose(v1::PURPOSE_REFERRAL);
  d->mutable_consent()->set_consent_id("c-ref");
  ASSERT_TRUE(GrantConsent("c-ref").ok());
  v1::CommandResponse response;
  // A school cannot submit as another school.
  EXPECT_EQ(Transition(submit, "school-999", &response).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(Transition(submit, "school-100001", &response).ok());

  v1::ReferralTransitionRequest register_request;
  register_request.mutable_register_();
  grpc::Status status = Transition(register_request, "service-7", &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(status.error_message().find("cannot register a referral that is "
                                        "submitted"),
            std::string::npos)
      << status.error_message();

  v1::ReferralTransitionRequest accept;
  accept.mutable_accept();
  accept.set_expected_version(1);
  ASSERT_TRUE(Transition(accept, "service-7", &response).ok());
  EXPECT_EQ(response.stream_version(), 2u);
  // Another caller who also saw version 1 loses.
  v1::ReferralTransitionRequest decline;
  decline.mutable_decline();
  decline.mutable_personal()->set_reason("not eligible");
  decline.set_expected_version(1);
  EXPECT_EQ(Transition(decline, "service-7", &response).error_code(),
            grpc::StatusCode::ABORTED);

  v1::ReferralTransitionRequest empty;
  EXPECT_EQ(Transition(empty, "service-7", &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  grpc::ClientContext context;
  AsCaller(&context);
  v1::GetReferralRequest get;
  get.set_referral_id("r-1");
  v1::Referral referral;
  ASSERT_TRUE(referrals_->Get(&context, get, &referral).ok());
  EXPECT_EQ(referral.state(), v1::REFERRAL_STATE_ACCEPTED);
  EXPECT_EQ(referral.version(), 2u);
}

TEST_F(DomainServicesTest, CommandsNeedAnIdentity) {
  grpc::ClientContext context;
  v1::GrantConsentRequest request;
  v1::CommandResponse response;
  EXPECT_EQ(consents_->Grant(&context, request, &response).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

// A caller reads only what its organisation is party to.
TEST_F(DomainServicesTest, ReadsAreForTheOrganisationsPartyToThem) {
  v1::GetSubjectRecordRequest get;
  get.set_subject_id("s-1");
  v1::SubjectRecord record;
  {
    grpc::ClientContext context;
    AsCaller(&context);  // The holder.
    grpc::Status status = subjects_->GetRecord(&context, get, &record);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(record.given_name(), "Given");
  }
  {
    grpc::ClientContext context;
    AsCaller(&context, "school-999");
    grpc::Status status = subjects_->GetRecord(&context, get, &record);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }
  // Unknown is NOT_FOUND; a malformed id INVALID_ARGUMENT.
  get.set_subject_id("s-unknown");
  {
    grpc::ClientContext context;
    AsCaller(&context);
    EXPECT_EQ(subjects_->GetRecord(&context, get, &record).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }
  get.set_subject_id("has spaces");
  {
    grpc::ClientContext context;
    AsCaller(&context);
    EXPECT_EQ(subjects_->GetRecord(&context, get, &record).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
}

}  // namespace
}  // namespace ycr::testing
