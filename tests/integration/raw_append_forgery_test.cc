// Domain events only through commands (issue 14, item 4): the forgeries an
// operator could once write with a raw EventStore.Append, each refused by a
// real server with INVALID_ARGUMENT naming the field, with nothing written
// and none of the harm that followed: the forged event on its domain stream
// (refused for the stream) and the same event on an operator's ops- stream
// (refused for its typed payload, which the projections would otherwise
// file under the subject whatever the stream).

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "services/raw_log.h"
#include "tests/integration/domain_flows_fixture.h"
#include "ycr/v1/queries_service.grpc.pb.h"

namespace ycr::testing {
namespace {

constexpr char kOperator[] = "ops";

class RawAppendForgeryTest : public DomainFlowsTest {
 protected:
  // Appends one event with `payload` to `stream` as the operator.
  grpc::Status RawAppend(const std::string& stream, v1::EventPayload payload) {
    v1::AppendRequest request = AppendOne(stream, "unused");
    *request.mutable_events(0)->mutable_payload() = std::move(payload);
    grpc::ClientContext context;
    AsCaller(&context, kOperator, "operator-1");
    v1::AppendResponse response;
    return server_.stub().Append(&context, request, &response);
  }

  // `payload` is refused both on `domain_stream` (naming the stream) and on
  // an operator's stream (naming the payload's case); the head stays.
  void ExpectRefusedEverywhere(const std::string& domain_stream,
                               const v1::EventPayload& payload,
                               const std::string& case_name) {
    const uint64_t head = Head();
    EXPECT_TRUE(Is(RawAppend(domain_stream, payload),
                   StatusCode::INVALID_ARGUMENT, "stream: "));
    EXPECT_TRUE(Is(RawAppend("ops-forgery", payload),
                   StatusCode::INVALID_ARGUMENT,
                   "events[0].payload." + case_name + ": "));
    EXPECT_EQ(Head(), head);
  }

  // Every event of the log, as an auditor reads it.
  std::vector<v1::RecordedEvent> AllEvents() {
    std::vector<v1::RecordedEvent> all;
    v1::ReadAllRequest request;
    request.set_from_position(1);
    for (;;) {
      grpc::ClientContext context;
      AsCaller(&context, "auditor-1");
      v1::ReadAllResponse page;
      EXPECT_TRUE(Ok(server_.stub().ReadAll(&context, request, &page)));
      if (page.events().empty()) break;
      all.insert(all.end(), page.events().begin(), page.events().end());
      request.set_from_position(page.next_position());
    }
    return all;
  }

  // The log keeps the two apart: typed events only outside the operators'
  // namespace, only opaque ones in it.
  void ExpectDomainAndRawApart() {
    for (const v1::RecordedEvent& e : AllEvents()) {
      EXPECT_EQ(absl::StartsWith(e.stream(), services::kRawStreamPrefix),
                e.payload().has_opaque())
          << e.stream() << " " << e.event_type();
    }
  }

  // The event types of `subject`'s audit trail (as an auditor reads it),
  // each with its stream: "stream event_type".
  std::vector<std::string> Trail(const std::string& subject) {
    auto audit = v1::Audit::NewStub(channel_);
    v1::AuditTrailRequest request;
    request.set_subject_id(subject);
    request.set_min_position(Head());
    grpc::ClientContext context;
    AsCaller(&context, "auditor-1");
    auto reader = audit->Trail(&context, request);
    std::vector<std::string> entries;
    v1::AuditEntry entry;
    while (reader->Read(&entry)) {
      entries.push_back(entry.event().stream() + " " +
                        entry.event().event_type());
    }
    EXPECT_TRUE(Ok(reader->Finish()));
    return entries;
  }
};

// An admin-appended consent_granted was cited by a school's disclosure,
// Consents.Get said GRANTED and Audit.ConsentInForce said covered.
TEST_F(RawAppendForgeryTest, ForgedConsentIsRefusedAndCoversNothing) {
  ASSERT_NO_FATAL_FAILURE(AddSubject("s-1"));
  v1::EventPayload forged;
  *forged.mutable_consent_granted() =
      Consent("c-forged", "s-1", kService, {v1::PURPOSE_REFERRAL},
              {v1::DATA_CATEGORY_IDENTITY}, clock_.Now())
          .consent();
  ExpectRefusedEverywhere("consent-c-forged", forged, "consent_granted");

  // No such consent: the school cannot cite it ...
  v1::RecordDisclosureRequest disclose;
  *disclose.mutable_disclosure() =
      Disclosure("s-1", kSchool, kService, v1::PURPOSE_REFERRAL,
                 {v1::DATA_CATEGORY_IDENTITY}, "c-forged");
  EXPECT_TRUE(Is(Disclose(disclose, kSchool), StatusCode::FAILED_PRECONDITION,
                 "no consent c-forged about subject"));
  EXPECT_TRUE(Is(Refer(Submit("r-1", "s-1", "c-forged"), kSchool),
                 StatusCode::FAILED_PRECONDITION,
                 "no consent c-forged about subject"));
  // ... Consents.Get does not know it ...
  v1::GetConsentRequest get;
  get.set_consent_id("c-forged");
  v1::Consent consent;
  EXPECT_TRUE(
      Is(Query(consents_.get(), &v1::Consents::Stub::Get, get, &consent),
         StatusCode::NOT_FOUND));
  // ... and the audit finds nothing in force.
  auto audit = v1::Audit::NewStub(channel_);
  const v1::ConsentInForceRequest in_force =
      InForce("s-1", kService, v1::PURPOSE_REFERRAL, v1::DATA_CATEGORY_IDENTITY,
              clock_.Now(), Head());
  v1::ConsentInForceResponse covered;
  ASSERT_TRUE(Ok(Query(audit.get(), &v1::Audit::Stub::ConsentInForce, in_force,
                       &covered)));
  EXPECT_FALSE(covered.covered());
  EXPECT_TRUE(covered.consent_id().empty());
  ExpectDomainAndRawApart();
}

// A raw referral_submitted on an existing referral's stream remapped its
// audit trail to another child.
TEST_F(RawAppendForgeryTest, ForgedSubmissionCannotMoveAReferralsTrail) {
  ASSERT_NO_FATAL_FAILURE(AddSubject("s-1"));
  ASSERT_NO_FATAL_FAILURE(AddSubject("s-2"));
  ASSERT_NO_FATAL_FAILURE(ReferToService("s-1"));  // referral r-ref-s-1
  const std::string stream = "referral-r-ref-s-1";
  v1::EventPayload forged;
  // The same referral, now about another child.
  *forged.mutable_referral_submitted() =
      Submit("r-ref-s-1", "s-2", "c-ref-s-1").submit();
  ExpectRefusedEverywhere(stream, forged, "referral_submitted");
  EXPECT_EQ(Events(stream).size(), 1u);

  // The referral's next step is still filed under its own child.
  v1::ReferralTransitionRequest receive;
  receive.set_referral_id("r-ref-s-1");
  receive.mutable_receive();
  ASSERT_TRUE(Ok(Refer(receive, kService)));
  const std::vector<std::string> s1 = Trail("s-1");
  EXPECT_NE(std::find(s1.begin(), s1.end(), stream + " referral_received"),
            s1.end());
  for (const std::string& entry : Trail("s-2")) {
    EXPECT_FALSE(absl::StartsWith(entry, stream)) << entry;
    EXPECT_FALSE(absl::StartsWith(entry, "ops-")) << entry;
  }
  v1::GetReferralRequest get;
  get.set_referral_id("r-ref-s-1");
  v1::Referral referral;
  ASSERT_TRUE(
      Ok(Query(referrals_.get(), &v1::Referrals::Stub::Get, get, &referral)));
  EXPECT_EQ(referral.subject_id(), "s-1");
  EXPECT_EQ(referral.state(), v1::REFERRAL_STATE_RECEIVED);
  ExpectDomainAndRawApart();
}

// A raw opaque event on consent-<id> bricked that consent: its fold met an
// event it did not know.
TEST_F(RawAppendForgeryTest, OpaqueEventOnAConsentStreamIsRefused) {
  ASSERT_NO_FATAL_FAILURE(AddSubject("s-1"));
  ASSERT_TRUE(Ok(Grant(Consent("c-1", "s-1", kService, {v1::PURPOSE_REFERRAL},
                               {v1::DATA_CATEGORY_IDENTITY}, clock_.Now()),
                       kSchool)));
  const uint64_t head = Head();
  grpc::ClientContext context;
  AsCaller(&context, kOperator, "operator-1");
  v1::AppendResponse response;
  EXPECT_TRUE(Is(
      server_.stub().Append(&context, AppendOne("consent-c-1", "x"), &response),
      StatusCode::INVALID_ARGUMENT, "stream: "));
  EXPECT_EQ(Head(), head);
  EXPECT_EQ(Events("consent-c-1").size(), 1u);

  // The consent still reads, is still cited, and can still be withdrawn.
  v1::GetConsentRequest get;
  get.set_consent_id("c-1");
  v1::Consent consent;
  ASSERT_TRUE(
      Ok(Query(consents_.get(), &v1::Consents::Stub::Get, get, &consent)));
  EXPECT_EQ(consent.decision(), v1::Consent::GRANTED);
  EXPECT_EQ(consent.version(), 1u);
  v1::RecordDisclosureRequest disclose;
  *disclose.mutable_disclosure() =
      Disclosure("s-1", kSchool, kService, v1::PURPOSE_REFERRAL,
                 {v1::DATA_CATEGORY_IDENTITY}, "c-1");
  EXPECT_TRUE(Ok(Disclose(disclose, kSchool)));
  v1::WithdrawConsentRequest withdraw;
  withdraw.mutable_withdrawal()->set_consent_id("c-1");
  *withdraw.mutable_withdrawal()->mutable_effective_at() = At(clock_.Now());
  EXPECT_TRUE(Ok(Send(consents_.get(), &v1::Consents::Stub::Withdraw, withdraw,
                      kSchool, nullptr)));
  ExpectDomainAndRawApart();
}

// A raw subject_erased claimed an erasure that destroyed no key (and then
// stopped the real one).
TEST_F(RawAppendForgeryTest, ForgedErasureIsRefusedAndTheRealOneStillWorks) {
  ASSERT_NO_FATAL_FAILURE(AddSubject("s-1"));
  v1::EventPayload forged;
  forged.mutable_subject_erased()->set_subject_id("s-1");
  forged.mutable_subject_erased()->set_holder(kSchool);
  forged.mutable_subject_erased()->set_request_ref("forged-request");
  ExpectRefusedEverywhere("subject-s-1", forged, "subject_erased");

  // Nobody believes the subject erased: the record reads in full, the
  // school still records about it, and its trail has no erasure.
  v1::SubjectRecord record;
  ASSERT_TRUE(Ok(GetRecord("s-1", &record)));
  EXPECT_FALSE(record.erased());
  EXPECT_EQ(record.given_name(), "Given");
  v1::IdentifyYoungCarerRequest identify;
  identify.mutable_identification()->set_subject_id("s-1");
  identify.mutable_identification()->set_census_code(
      v1::CENSUS_CODE_IDENTIFIED_BY_SCHOOL);
  EXPECT_TRUE(Ok(Identify(identify, kSchool)));
  for (const std::string& entry : Trail("s-1")) {
    EXPECT_FALSE(absl::EndsWith(entry, " subject_erased")) << entry;
  }

  // The holder's erasure is the one erasure, and it destroys the key.
  v1::EraseSubjectRequest erase;
  erase.set_request_id(NewUuid());
  erase.set_subject_id("s-1");
  erase.set_request_ref("erasure-request-1");
  v1::EraseSubjectResponse erased;
  {
    grpc::ClientContext context;
    AsCaller(&context, kSchool);
    ASSERT_TRUE(Ok(subjects_->Erase(&context, erase, &erased)));
  }
  EXPECT_TRUE(erased.erased());
  ASSERT_TRUE(Ok(GetRecord("s-1", &record)));
  EXPECT_TRUE(record.erased());
  EXPECT_TRUE(record.given_name().empty());
  int erasures = 0;
  for (const v1::RecordedEvent& e : AllEvents()) {
    erasures += e.payload().has_subject_erased();
  }
  EXPECT_EQ(erasures, 1);
  ExpectDomainAndRawApart();
}

}  // namespace
}  // namespace ycr::testing
