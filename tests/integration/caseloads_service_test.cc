// ycr.v1.Caseloads through a real server: a referral submitted and accepted
// through the API shows in the service's and the school's counts and lists
// (read-your-writes with min_position); a caller reads only its own
// organisation's caseload; requests are checked.

#include "tests/integration/domain_flows_fixture.h"
#include "ycr/v1/queries_service.grpc.pb.h"

namespace ycr::testing {
namespace {

using grpc::StatusCode;

class CaseloadsServiceTest : public DomainFlowsTest {
 protected:
  CaseloadsServiceTest() { caseloads_ = v1::Caseloads::NewStub(channel_); }
  ~CaseloadsServiceTest() override { caseloads_.reset(); }

  grpc::Status Counts(const std::string& organisation, uint64_t min_position,
                      v1::CaseloadCounts* out, const std::string& caller = "",
                      const std::string& role = "school") {
    v1::CaseloadCountsRequest request;
    request.set_organisation(organisation);
    request.set_min_position(min_position);
    grpc::ClientContext context;
    AsCaller(&context, caller.empty() ? organisation : caller, "u-1", role);
    return caseloads_->Counts(&context, request, out);
  }

  grpc::Status List(const v1::ListCaseloadReferralsRequest& request,
                    v1::ListCaseloadReferralsResponse* out,
                    const std::string& caller = "",
                    const std::string& role = "school") {
    grpc::ClientContext context;
    AsCaller(&context, caller.empty() ? request.organisation() : caller, "u-1",
             role);
    return caseloads_->ListReferrals(&context, request, out);
  }

  // r-1 for s-1, submitted by the school (under consent c-1) and accepted by
  // the service; `accepted` is the acceptance's response.
  void SubmitAndAccept(v1::CommandResponse* accepted) {
    ASSERT_NO_FATAL_FAILURE(AddSubject("s-1"));
    ASSERT_TRUE(Ok(Grant(Consent("c-1", "s-1", kService, {v1::PURPOSE_REFERRAL},
                                 {v1::DATA_CATEGORY_IDENTITY}, clock_.Now()),
                         kSchool)));
    ASSERT_TRUE(Ok(Refer(Submit("r-1", "s-1", "c-1"), kSchool)));
    v1::ReferralTransitionRequest accept;
    accept.set_referral_id("r-1");
    accept.mutable_accept();
    ASSERT_TRUE(Ok(Refer(accept, kService, accepted)));
  }

  std::unique_ptr<v1::Caseloads::Stub> caseloads_;
};

TEST_F(CaseloadsServiceTest, AnAcceptedReferralShowsInBothCaseloads) {
  v1::CommandResponse accepted;
  ASSERT_NO_FATAL_FAILURE(SubmitAndAccept(&accepted));
  ASSERT_GT(accepted.position(), 0u);

  // Read-your-writes: the counts wait for the acceptance's position.
  v1::CaseloadCounts service;
  ASSERT_TRUE(Ok(Counts(kService, accepted.position(), &service)));
  ASSERT_EQ(service.by_state_size(), 1);
  EXPECT_EQ(service.by_state().at("REFERRAL_STATE_ACCEPTED"), 1u);
  v1::CaseloadCounts school;
  ASSERT_TRUE(Ok(Counts(kSchool, accepted.position(), &school)));
  EXPECT_EQ(school.referred(), 1u);
  EXPECT_EQ(school.accepted(), 1u);
  EXPECT_EQ(school.closed(), 0u);

  v1::ListCaseloadReferralsRequest request;
  request.set_organisation(kService);
  request.set_min_position(accepted.position());
  v1::ListCaseloadReferralsResponse listed;
  ASSERT_TRUE(Ok(List(request, &listed)));
  ASSERT_EQ(listed.referrals_size(), 1);
  const v1::CaseloadReferral& r = listed.referrals(0);
  EXPECT_EQ(r.referral_id(), "r-1");
  EXPECT_EQ(r.subject_id(), "s-1");
  EXPECT_EQ(r.school(), kSchool);
  EXPECT_EQ(r.service(), kService);
  EXPECT_EQ(r.state(), v1::REFERRAL_STATE_ACCEPTED);
  EXPECT_EQ(r.position(), accepted.position());
  EXPECT_TRUE(listed.next_page_token().empty());
  // The school lists it too.
  request.set_organisation(kSchool);
  v1::ListCaseloadReferralsResponse school_list;
  ASSERT_TRUE(Ok(List(request, &school_list)));
  ASSERT_EQ(school_list.referrals_size(), 1);
  EXPECT_EQ(school_list.referrals(0).SerializeAsString(),
            r.SerializeAsString());
}

TEST_F(CaseloadsServiceTest, ACallerReadsOnlyItsOwnOrganisationsCaseload) {
  v1::CommandResponse accepted;
  ASSERT_NO_FATAL_FAILURE(SubmitAndAccept(&accepted));
  v1::CaseloadCounts counts;
  EXPECT_TRUE(Is(Counts(kService, accepted.position(), &counts, kOtherSchool),
                 StatusCode::PERMISSION_DENIED, "organisation"));
  v1::ListCaseloadReferralsRequest request;
  request.set_organisation(kSchool);
  v1::ListCaseloadReferralsResponse listed;
  EXPECT_TRUE(Is(List(request, &listed, kService),
                 StatusCode::PERMISSION_DENIED, "organisation"));
  // Auditors read anyone's; the scheduler reads deadlines only.
  ASSERT_TRUE(Ok(
      Counts(kService, accepted.position(), &counts, "auditor-1", "auditor")));
  EXPECT_EQ(counts.by_state().at("REFERRAL_STATE_ACCEPTED"), 1u);
  ASSERT_TRUE(Ok(List(request, &listed, "auditor-1", "auditor")));
  EXPECT_EQ(listed.referrals_size(), 1);
  EXPECT_TRUE(Is(List(request, &listed, "council-1", "scheduler"),
                 StatusCode::PERMISSION_DENIED, "may not call"));
}

TEST_F(CaseloadsServiceTest, RequestsAreChecked) {
  v1::ListCaseloadReferralsRequest request;
  request.set_organisation(kService);
  request.set_page_size(5000);
  v1::ListCaseloadReferralsResponse listed;
  EXPECT_TRUE(
      Is(List(request, &listed), StatusCode::INVALID_ARGUMENT, "page_size"));

  request.set_page_size(10);
  request.set_page_token("not-a-token");
  EXPECT_TRUE(
      Is(List(request, &listed), StatusCode::INVALID_ARGUMENT, "page_token"));

  request.clear_page_token();
  request.clear_organisation();
  EXPECT_TRUE(Is(List(request, &listed, kService), StatusCode::INVALID_ARGUMENT,
                 "organisation"));
  v1::CaseloadCounts counts;
  EXPECT_TRUE(Is(Counts("", 0, &counts, kService, "auditor"),
                 StatusCode::INVALID_ARGUMENT, "organisation"));

  // A position not yet written: the call's deadline passes.
  v1::CaseloadCountsRequest ahead;
  ahead.set_organisation(kSchool);
  ahead.set_min_position(Head() + 1000);
  grpc::ClientContext context;
  AsCaller(&context);
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::milliseconds(200));
  EXPECT_EQ(caseloads_->Counts(&context, ahead, &counts).error_code(),
            StatusCode::DEADLINE_EXCEEDED);
}

}  // namespace
}  // namespace ycr::testing
