// Each view of PersonalDataViews() other than those access_log_test.cc
// covers (all but Correspondence.Get, whose setup needs an agreement) leaves
// one access log entry per subject it shows, with its view name; views without
// personal data (Caseloads.Counts here) leave none. The domain-flow
// fixture's real server and store.

#include "domain/safeguarding_rules.h"
#include "domain/sharing_rules.h"
#include "services/security/access_log.h"
#include "tests/integration/domain_flows_fixture.h"
#include "ycr/v1/access_log_service.grpc.pb.h"
#include "ycr/v1/queries_service.grpc.pb.h"

namespace ycr::testing {
namespace {

class AccessLogViewsTest : public DomainFlowsTest {
 protected:
  // The views of the entries `organisation`'s dsl-1 left, oldest first,
  // after a flush; every one about `subject`.
  std::vector<std::string> ViewsBy(const std::string& organisation,
                                   const std::string& subject = "s-1") {
    EXPECT_TRUE(server_.server().access_recorder()->Flush().ok());
    auto access = v1::AccessLog::NewStub(channel_);
    v1::ListAccessByReaderRequest request;
    request.set_reader_organisation(organisation);
    request.set_reader_user("dsl-1");
    grpc::ClientContext context;
    AsCaller(&context, "auditor-1");
    v1::AccessLogPage page;
    grpc::Status status = access->ListByReader(&context, request, &page);
    EXPECT_TRUE(status.ok()) << status.error_message();
    std::vector<std::string> views;
    for (const v1::AccessLogEntry& e : page.entries()) {
      EXPECT_EQ(e.subject_id(), subject);
      views.push_back(e.view());
    }
    return views;
  }
};

TEST_F(AccessLogViewsTest, EachDomainGetLeavesOneEntryNamedForItsView) {
  ASSERT_NO_FATAL_FAILURE(AddSubject("s-1"));
  ASSERT_TRUE(Ok(Grant(Consent("c-1", "s-1", kService, {v1::PURPOSE_REFERRAL},
                               {v1::DATA_CATEGORY_IDENTITY}, clock_.Now()),
                       kSchool)));
  v1::CommandResponse referred;
  ASSERT_TRUE(Ok(Refer(Submit("r-1", "s-1", "c-1"), kSchool, &referred)));
  ASSERT_TRUE(Ok(Intervene(
      Plan("i-1", "s-1", v1::INTERVENTION_TYPE_ONE_TO_ONE, clock_.Now()),
      kService)));
  ASSERT_TRUE(Ok(Safeguard(Raise("g-1", "s-1", "bruise on arm"), kSchool)));
  EXPECT_TRUE(ViewsBy(kSchool).empty());  // commands leave nothing

  v1::GetConsentRequest consent;
  consent.set_consent_id("c-1");
  v1::Consent consent_out;
  ASSERT_TRUE(Ok(
      Query(consents_.get(), &v1::Consents::Stub::Get, consent, &consent_out)));
  v1::GetReferralRequest referral;
  referral.set_referral_id("r-1");
  v1::Referral referral_out;
  ASSERT_TRUE(Ok(Query(referrals_.get(), &v1::Referrals::Stub::Get, referral,
                       &referral_out)));
  v1::GetInterventionRequest intervention;
  intervention.set_intervention_id("i-1");
  v1::Intervention intervention_out;
  ASSERT_TRUE(Ok(Query(interventions_.get(), &v1::Interventions::Stub::Get,
                       intervention, &intervention_out)));
  v1::GetConcernRequest concern;
  concern.set_concern_id("g-1");
  v1::Concern concern_out;
  ASSERT_TRUE(Ok(Query(safeguarding_.get(), &v1::Safeguarding::Stub::Get,
                       concern, &concern_out)));

  auto audit = v1::Audit::NewStub(channel_);
  const v1::ConsentInForceRequest in_force =
      InForce("s-1", kService, v1::PURPOSE_REFERRAL, v1::DATA_CATEGORY_IDENTITY,
              clock_.Now(), referred.position());
  v1::ConsentInForceResponse in_force_out;
  ASSERT_TRUE(Ok(Query(audit.get(), &v1::Audit::Stub::ConsentInForce, in_force,
                       &in_force_out)));

  {
    v1::OrganisationDisclosuresRequest disclosures;
    disclosures.set_organisation(kSchool);
    disclosures.set_min_position(referred.position());
    grpc::ClientContext context;
    AsCaller(&context);
    auto reader = audit->OrganisationDisclosures(&context, disclosures);
    v1::AuditEntry entry;
    int read = 0;
    while (reader->Read(&entry)) ++read;
    ASSERT_TRUE(Ok(reader->Finish()));
    ASSERT_GE(read, 1);
  }

  auto caseloads = v1::Caseloads::NewStub(channel_);
  v1::ListCaseloadReferralsRequest list;
  list.set_organisation(kSchool);
  list.set_min_position(referred.position());
  v1::ListCaseloadReferralsResponse list_out;
  ASSERT_TRUE(Ok(Query(caseloads.get(), &v1::Caseloads::Stub::ListReferrals,
                       list, &list_out)));
  ASSERT_EQ(list_out.referrals_size(), 1);
  v1::CaseloadCountsRequest counts;
  counts.set_organisation(kSchool);
  counts.set_min_position(referred.position());
  v1::CaseloadCounts counts_out;
  ASSERT_TRUE(Ok(Query(caseloads.get(), &v1::Caseloads::Stub::Counts, counts,
                       &counts_out)));

  EXPECT_EQ(ViewsBy(kSchool),
            (std::vector<std::string>{"consent", "referral", "intervention",
                                      "concern", "consent_in_force",
                                      "disclosures", "caseload"}));
}

TEST_F(AccessLogViewsTest, RawStreamReadsAndSubscriptionsLogTheirSubjects) {
  ASSERT_NO_FATAL_FAILURE(AddSubject("s-1"));
  ASSERT_TRUE(Ok(Safeguard(Raise("g-1", "s-1", "bruise on arm"), kSchool)));
  auto store = v1::EventStore::NewStub(channel_);
  {
    v1::ReadStreamRequest request;
    request.set_stream(domain::ConcernStream(kSchool, "g-1"));
    v1::ReadStreamResponse response;
    grpc::ClientContext context;
    AsCaller(&context, "auditor-1", "dsl-1");
    ASSERT_TRUE(Ok(store->ReadStream(&context, request, &response)));
    ASSERT_GE(response.events_size(), 1);
  }
  {
    v1::SubscribeRequest request;
    request.set_from_position(1);
    grpc::ClientContext context;
    AsCaller(&context, "auditor-1", "dsl-1");
    auto reader = store->Subscribe(&context, request);
    v1::SubscribeResponse message;
    while (reader->Read(&message) && !message.has_caught_up()) {
    }
    context.TryCancel();
    reader->Finish().IgnoreError();
  }
  EXPECT_EQ(ViewsBy("auditor-1"),
            (std::vector<std::string>{"raw_events", "raw_events"}));
}

}  // namespace
}  // namespace ycr::testing
