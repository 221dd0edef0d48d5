// Machine-readable errors over gRPC (issue 15): a real server sends, as the
// status's details, the ErrorInfo reason, BadRequest field violations and
// PreconditionFailure a council system branches on; a client reads them
// with ycr::ParseRpcStatus. And the code fields that take a closed
// vocabulary (issue 14) refuse free text, naming the field.

#include "common/error_details.h"

#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "services/grpc_status.h"
#include "tests/integration/domain_flows_fixture.h"

namespace ycr::testing {
namespace {

struct Received {
  int code = -1;
  std::string message;
  ErrorDetails details;
};

// The details of `status` as a client reads them.
Received DetailsOf(const grpc::Status& status) {
  Received r;
  EXPECT_FALSE(status.ok());
  EXPECT_TRUE(
      ParseRpcStatus(status.error_details(), &r.code, &r.message, &r.details))
      << "no google.rpc.Status in the details of \"" << status.error_message()
      << "\"";
  EXPECT_EQ(r.code, static_cast<int>(status.error_code()));
  EXPECT_EQ(r.message, status.error_message());
  return r;
}

class ErrorDetailsOverGrpcTest : public DomainFlowsTest {};

TEST_F(ErrorDetailsOverGrpcTest, ADisclosureNoConsentCoversIsNotCovered) {
  ASSERT_NO_FATAL_FAILURE(AddSubject("s-1"));
  // Consented for a referral to the service only.
  ASSERT_TRUE(Ok(Grant(Consent("c-1", "s-1", kService, {v1::PURPOSE_REFERRAL},
                               {v1::DATA_CATEGORY_IDENTITY}, clock_.Now()),
                       kSchool)));
  v1::RecordDisclosureRequest share;
  *share.mutable_disclosure() =
      Disclosure("s-1", kSchool, kService, v1::PURPOSE_SUPPORT_IN_SCHOOL,
                 {v1::DATA_CATEGORY_IDENTITY}, "c-1");
  const grpc::Status status = Disclose(share, kSchool);
  ASSERT_TRUE(Is(status, StatusCode::FAILED_PRECONDITION, "does not cover"));
  const Received r = DetailsOf(status);
  EXPECT_EQ(r.details.reason, "NOT_COVERED");
  ASSERT_EQ(r.details.precondition_violations.size(), 1u);
  EXPECT_EQ(r.details.precondition_violations[0].type, "CONSENT");
  EXPECT_EQ(r.details.precondition_violations[0].subject, "consent_id/c-1");
  EXPECT_EQ(r.details.precondition_violations[0].description,
            status.error_message());

  // No basis at all: NOT_COVERED, no lawful basis.
  share.mutable_disclosure()->clear_consent();
  share.mutable_disclosure()->set_disclosure_id(NewUuid());
  const Received none = DetailsOf(Disclose(share, kSchool));
  EXPECT_EQ(none.code, static_cast<int>(StatusCode::FAILED_PRECONDITION));
  EXPECT_EQ(none.details.reason, "NOT_COVERED");
  ASSERT_EQ(none.details.precondition_violations.size(), 1u);
  EXPECT_EQ(none.details.precondition_violations[0].type, "LAWFUL_BASIS");
}

TEST_F(ErrorDetailsOverGrpcTest,
       AReferralCitingAMissingConsentIsAPrecondition) {
  ASSERT_NO_FATAL_FAILURE(AddSubject("s-1"));
  const uint64_t head = Head();
  const grpc::Status status = Refer(Submit("r-1", "s-1", "c-1"), kSchool);
  // Not NOT_FOUND, which would read as "no such referral".
  ASSERT_TRUE(Is(status, StatusCode::FAILED_PRECONDITION,
                 "no consent c-1 about subject"));
  const Received r = DetailsOf(status);
  EXPECT_EQ(r.details.reason, "REFERENCE_NOT_FOUND");
  ASSERT_EQ(r.details.precondition_violations.size(), 1u);
  EXPECT_EQ(r.details.precondition_violations[0].type, "CONSENT");
  EXPECT_EQ(r.details.precondition_violations[0].subject, "consent_id/c-1");
  EXPECT_EQ(Head(), head);
  // The thing the call addresses stays NOT_FOUND.
  v1::ReferralTransitionRequest receive;
  receive.set_referral_id("r-1");
  receive.mutable_receive();
  const grpc::Status missing = Refer(receive, kService);
  EXPECT_TRUE(Is(missing, StatusCode::NOT_FOUND, "r-1"));
  EXPECT_EQ(DetailsOf(missing).details.reason, "NOT_FOUND");
}

TEST_F(ErrorDetailsOverGrpcTest, AnInvalidFieldIsNamedInABadRequest) {
  v1::PutSubjectRecordRequest put;
  *put.mutable_record() = Record("s-1");
  put.mutable_record()->set_date_of_birth("4 March 2012");
  const grpc::Status status = Put(put, kSchool);
  ASSERT_TRUE(Is(status, StatusCode::INVALID_ARGUMENT, "record.date_of_birth"));
  Received r = DetailsOf(status);
  EXPECT_EQ(r.details.reason, "FIELD_INVALID");
  ASSERT_EQ(r.details.field_violations.size(), 1u);
  EXPECT_EQ(r.details.field_violations[0].field, "record.date_of_birth");
  EXPECT_EQ(r.details.field_violations[0].description, "a date, YYYY-MM-DD");

  // A required field, inside an embedded message: the full path.
  ASSERT_NO_FATAL_FAILURE(AddSubject("s-1"));
  v1::ReferralTransitionRequest submit = Submit("r-1", "s-1", "c-1");
  submit.mutable_submit()
      ->mutable_disclosure()
      ->mutable_consent()
      ->set_consent_id("");
  r = DetailsOf(Refer(submit, kSchool));
  EXPECT_EQ(r.code, static_cast<int>(StatusCode::INVALID_ARGUMENT));
  EXPECT_EQ(r.details.reason, "FIELD_REQUIRED");
  ASSERT_EQ(r.details.field_violations.size(), 1u);
  EXPECT_EQ(r.details.field_violations[0].field,
            "submit.disclosure.consent.consent_id");
}

TEST_F(ErrorDetailsOverGrpcTest, AReusedRequestIdIsRequestIdReused) {
  ASSERT_NO_FATAL_FAILURE(AddSubject("s-1"));
  ASSERT_NO_FATAL_FAILURE(AddSubject("s-2"));
  v1::GrantConsentRequest first =
      Consent("c-1", "s-1", kService, {v1::PURPOSE_REFERRAL},
              {v1::DATA_CATEGORY_IDENTITY}, clock_.Now());
  first.set_request_id(NewUuid());
  ASSERT_TRUE(Ok(Grant(first, kSchool)));
  // The same request again is a retry.
  EXPECT_TRUE(Ok(Grant(first, kSchool)));
  v1::GrantConsentRequest other =
      Consent("c-2", "s-2", kService, {v1::PURPOSE_REFERRAL},
              {v1::DATA_CATEGORY_IDENTITY}, clock_.Now());
  other.set_request_id(first.request_id());
  const grpc::Status status = Grant(other, kSchool);
  ASSERT_TRUE(Is(status, StatusCode::ALREADY_EXISTS, "request_id"));
  EXPECT_EQ(DetailsOf(status).details.reason, "REQUEST_ID_REUSED");
}

TEST_F(ErrorDetailsOverGrpcTest, AStaleExpectedVersionIsVersionConflict) {
  ASSERT_NO_FATAL_FAILURE(AddSubject("s-1"));
  ASSERT_NO_FATAL_FAILURE(ReferToService("s-1"));
  v1::ReferralTransitionRequest receive;
  receive.set_referral_id("r-ref-s-1");
  receive.mutable_receive();
  receive.set_expected_version(1);
  ASSERT_TRUE(Ok(Refer(receive, kService)));
  v1::ReferralTransitionRequest accept;
  accept.set_referral_id("r-ref-s-1");
  accept.mutable_accept();
  accept.set_expected_version(1);  // It is at 2 now.
  accept.set_request_id(NewUuid());
  grpc::ClientContext context;
  AsCaller(&context, kService);
  v1::CommandResponse ignored;
  const grpc::Status status =
      referrals_->Transition(&context, accept, &ignored);
  ASSERT_TRUE(Is(status, StatusCode::ABORTED, "expected 1"));
  EXPECT_EQ(DetailsOf(status).details.reason, "VERSION_CONFLICT");
  const auto& trailers = context.GetServerTrailingMetadata();
  auto stream = trailers.find(services::kConflictStreamMetadata);
  auto version = trailers.find(services::kConflictVersionMetadata);
  ASSERT_NE(stream, trailers.end());
  ASSERT_NE(version, trailers.end());
  EXPECT_EQ(std::string(stream->second.data(), stream->second.size()),
            "referral-r-ref-s-1");
  EXPECT_EQ(std::string(version->second.data(), version->second.size()), "2");
}

TEST_F(ErrorDetailsOverGrpcTest, AStepTheStateDoesNotAllowIsInvalidState) {
  ASSERT_NO_FATAL_FAILURE(AddSubject("s-1"));
  ASSERT_NO_FATAL_FAILURE(ReferToService("s-1"));
  v1::ReferralTransitionRequest enrol;
  enrol.set_referral_id("r-ref-s-1");
  enrol.mutable_register_();  // Not assessed yet.
  const grpc::Status status = Refer(enrol, kService);
  ASSERT_TRUE(Is(status, StatusCode::FAILED_PRECONDITION,
                 "cannot register a referral that is submitted"));
  const Received r = DetailsOf(status);
  EXPECT_EQ(r.details.reason, "INVALID_STATE");
  ASSERT_EQ(r.details.precondition_violations.size(), 1u);
  EXPECT_EQ(r.details.precondition_violations[0].type, "REFERRAL");
  EXPECT_EQ(r.details.precondition_violations[0].subject,
            "referral_id/r-ref-s-1");
}

TEST_F(ErrorDetailsOverGrpcTest, OnlyTheHolderIsToldSubjectErased) {
  ASSERT_NO_FATAL_FAILURE(AddSubject("s-1"));
  v1::EraseSubjectRequest erase;
  erase.set_request_id(NewUuid());
  erase.set_subject_id("s-1");
  erase.set_request_ref("sar-1");
  v1::EraseSubjectResponse erased;
  {
    grpc::ClientContext context;
    AsCaller(&context, kSchool);
    ASSERT_TRUE(Ok(subjects_->Erase(&context, erase, &erased)));
    ASSERT_TRUE(erased.erased());
  }
  auto grant = [&](const std::string& org) {
    return Grant(Consent(NewUuid(), "s-1", org, {v1::PURPOSE_REFERRAL},
                         {v1::DATA_CATEGORY_IDENTITY}, clock_.Now()),
                 org);
  };
  const Received holder = DetailsOf(grant(kSchool));
  EXPECT_EQ(holder.details.reason, "SUBJECT_ERASED");
  ASSERT_EQ(holder.details.precondition_violations.size(), 1u);
  EXPECT_EQ(holder.details.precondition_violations[0].type, "SUBJECT");
  EXPECT_EQ(holder.details.precondition_violations[0].subject,
            "subject_id/s-1");
  const Received other = DetailsOf(grant(kOtherSchool));
  EXPECT_EQ(other.code, static_cast<int>(StatusCode::PERMISSION_DENIED));
  EXPECT_EQ(other.details.reason, "PERMISSION_DENIED");
  EXPECT_TRUE(other.details.precondition_violations.empty());
}

// Issue 14: the relationship is a code in the record and in a consent's
// giver; free text is refused naming the field, and nothing is written.
TEST_F(ErrorDetailsOverGrpcTest, ARelationshipIsACodeNotFreeText) {
  const uint64_t head = Head();
  v1::PutSubjectRecordRequest put;
  *put.mutable_record() = Record("s-1");
  put.mutable_record()->mutable_related(0)->set_relationship(
      "mother, who has a terminal diagnosis");
  grpc::Status status = Put(put, kSchool);
  EXPECT_TRUE(Is(status, StatusCode::INVALID_ARGUMENT,
                 "record.related[0].relationship: must be one of mother, "
                 "father, parent, step-parent, guardian, grandparent"));
  Received r = DetailsOf(status);
  ASSERT_EQ(r.details.field_violations.size(), 1u);
  EXPECT_EQ(r.details.field_violations[0].field,
            "record.related[0].relationship");
  EXPECT_EQ(Head(), head);

  ASSERT_NO_FATAL_FAILURE(AddSubject("s-1"));
  v1::GrantConsentRequest grant =
      Consent("c-1", "s-1", kService, {v1::PURPOSE_REFERRAL},
              {v1::DATA_CATEGORY_IDENTITY}, clock_.Now());
  grant.mutable_consent()
      ->mutable_given_by()
      ->mutable_parent()
      ->set_relationship("mother (recently separated, do not call the father)");
  const uint64_t before = Head();
  status = Grant(grant, kSchool);
  EXPECT_TRUE(Is(status, StatusCode::INVALID_ARGUMENT,
                 "given_by.parent.relationship: must be one of"));
  r = DetailsOf(status);
  ASSERT_EQ(r.details.field_violations.size(), 1u);
  // (Paths are relative to the command's event, as every consent refusal.)
  EXPECT_EQ(r.details.field_violations[0].field,
            "given_by.parent.relationship");
  EXPECT_EQ(Head(), before);
  grant.mutable_consent()
      ->mutable_given_by()
      ->mutable_parent()
      ->set_relationship("mother");
  EXPECT_TRUE(Ok(Grant(grant, kSchool)));
}

}  // namespace
}  // namespace ycr::testing
