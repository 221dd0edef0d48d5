// End-to-end flows of the domain services (Subjects, Agreements,
// Correspondence, Interventions, Safeguarding, Sharing, Referrals) through a
// real server on 127.0.0.1:0 over a real RocksDB store, with injected time.

#include <thread>

#include "absl/strings/match.h"
#include "domain/safeguarding_rules.h"
#include "domain/sharing_rules.h"
#include "tests/integration/domain_flows_fixture.h"

namespace ycr::testing {
namespace {

// ---------------------------------------------------------------------------
// Subjects

TEST_F(DomainFlowsTest, SubjectRecordIsHeldByItsCreatorAndVersioned) {
  v1::PutSubjectRecordRequest put;
  *put.mutable_record() = Record("s-1");
  put.mutable_record()->set_holder("someone-else");  // Server-set: ignored.
  v1::CommandResponse created;
  ASSERT_TRUE(Ok(Put(put, kSchool, &created)));
  EXPECT_GT(created.position(), 0u);
  EXPECT_EQ(created.stream_version(), 1u);
  EXPECT_FALSE(created.replayed());

  v1::SubjectRecord record;
  ASSERT_TRUE(Ok(GetRecord("s-1", &record)));
  EXPECT_EQ(record.subject_id(), "s-1");
  EXPECT_EQ(record.given_name(), "Given");
  EXPECT_EQ(record.date_of_birth(), "2012-03-04");
  EXPECT_EQ(record.holder(), kSchool);
  EXPECT_EQ(record.revision(), 1u);
  EXPECT_EQ(TimeOf(record.updated_at()), kStart);
  ASSERT_EQ(record.related_size(), 1);
  EXPECT_EQ(record.related(0).person_ref(), "parent-1");

  // Another organisation cannot replace it.
  v1::PutSubjectRecordRequest hijack;
  *hijack.mutable_record() = Record("s-1", "Other");
  EXPECT_TRUE(Is(Put(hijack, kService), StatusCode::PERMISSION_DENIED));

  // The holder replaces it at the revision it saw.
  clock_.Advance(absl::Hours(1));
  v1::PutSubjectRecordRequest update;
  *update.mutable_record() = Record("s-1", "Renamed");
  update.set_expected_revision(1);
  v1::CommandResponse updated;
  ASSERT_TRUE(Ok(Put(update, kSchool, &updated)));
  EXPECT_EQ(updated.stream_version(), 2u);
  ASSERT_TRUE(Ok(GetRecord("s-1", &record)));
  EXPECT_EQ(record.given_name(), "Renamed");
  EXPECT_EQ(record.revision(), 2u);
  EXPECT_EQ(record.holder(), kSchool);
  EXPECT_EQ(TimeOf(record.updated_at()), kStart + absl::Hours(1));

  // A stale revision is refused and changes nothing.
  v1::PutSubjectRecordRequest stale;
  *stale.mutable_record() = Record("s-1", "Stale");
  stale.set_expected_revision(1);
  EXPECT_TRUE(Is(Put(stale, kSchool), StatusCode::ABORTED, "revision 2"));
  ASSERT_TRUE(Ok(GetRecord("s-1", &record)));
  EXPECT_EQ(record.given_name(), "Renamed");

  EXPECT_TRUE(Is(GetRecord("s-unknown", &record), StatusCode::NOT_FOUND));
}

TEST_F(DomainFlowsTest, BadDateOfBirthIsRefusedNamingTheField) {
  for (const std::string dob :
       {"2012-13-01", "2012-02-30", "12-03-2012", "2012-3-4", ""}) {
    v1::PutSubjectRecordRequest put;
    *put.mutable_record() = Record("s-1");
    put.mutable_record()->set_date_of_birth(dob);
    EXPECT_TRUE(Is(Put(put, kSchool), StatusCode::INVALID_ARGUMENT,
                   "record.date_of_birth"))
        << dob;
  }
  // Born tomorrow, by the server's clock.
  v1::PutSubjectRecordRequest future;
  *future.mutable_record() = Record("s-1");
  future.mutable_record()->set_date_of_birth(
      absl::FormatTime("%Y-%m-%d", kStart + 2 * kDay, absl::UTCTimeZone()));
  EXPECT_TRUE(Is(Put(future, kSchool), StatusCode::INVALID_ARGUMENT,
                 "record.date_of_birth: cannot be in the future"));
  v1::SubjectRecord record;
  EXPECT_TRUE(Is(GetRecord("s-1", &record), StatusCode::NOT_FOUND));
  EXPECT_TRUE(Events("subject-s-1").empty());
}

TEST_F(DomainFlowsTest, SchoolIdentifiesAYoungCarerWithItsCensusCode) {
  v1::IdentifyYoungCarerRequest identify;
  auto* id = identify.mutable_identification();
  id->set_subject_id("s-1");
  id->set_census_code(v1::CENSUS_CODE_IDENTIFIED_BY_SCHOOL);
  id->set_cares_for_ref("parent-1");
  EXPECT_TRUE(Is(Identify(identify, kSchool), StatusCode::NOT_FOUND, "s-1"));

  ASSERT_NO_FATAL_FAILURE(AddSubject("s-1"));
  v1::IdentifyYoungCarerRequest as_other = identify;
  as_other.mutable_identification()->set_school(kOtherSchool);
  EXPECT_TRUE(Is(Identify(as_other, kSchool), StatusCode::PERMISSION_DENIED));

  v1::IdentifyYoungCarerRequest unknown_person = identify;
  unknown_person.mutable_identification()->set_cares_for_ref("nobody");
  EXPECT_TRUE(Is(Identify(unknown_person, kSchool),
                 StatusCode::INVALID_ARGUMENT, "identification.cares_for_ref"));

  v1::IdentifyYoungCarerRequest no_code = identify;
  no_code.mutable_identification()->clear_census_code();
  EXPECT_TRUE(Is(Identify(no_code, kSchool), StatusCode::INVALID_ARGUMENT,
                 "identification.census_code"));

  v1::CommandResponse response;
  ASSERT_TRUE(Ok(Identify(identify, kSchool, &response)));
  EXPECT_EQ(response.stream_version(), 2u);
  std::vector<v1::RecordedEvent> events = Events("subject-s-1");
  ASSERT_EQ(events.size(), 2u);
  ASSERT_TRUE(events[1].payload().has_young_carer_identified());
  const auto& recorded = events[1].payload().young_carer_identified();
  EXPECT_EQ(recorded.school(), kSchool);  // Filled in by the server.
  EXPECT_EQ(recorded.census_code(), v1::CENSUS_CODE_IDENTIFIED_BY_SCHOOL);
  EXPECT_EQ(recorded.cares_for_ref(), "parent-1");
  EXPECT_EQ(events[1].actor().organisation(), kSchool);
}

TEST_F(DomainFlowsTest, SubjectEventsCarryNoNameOrDateOfBirth) {
  v1::PutSubjectRecordRequest put;
  *put.mutable_record() = Record("s-1", "Zephyrine");
  put.mutable_record()->set_family_name("Quillfeather");
  put.mutable_record()->set_date_of_birth("2011-07-15");
  v1::ContactDetail contact;
  contact.set_kind("email");
  contact.set_value("zq@example.org");
  *put.mutable_record()->add_contacts() = contact;
  ASSERT_TRUE(Ok(Put(put, kSchool)));
  *put.mutable_record() = Record("s-1", "Zephyrina");
  put.mutable_record()->set_family_name("Quillfeather");
  put.mutable_record()->set_date_of_birth("2011-07-15");
  *put.mutable_record()->add_contacts() = contact;
  put.clear_request_id();
  ASSERT_TRUE(Ok(Put(put, kSchool)));

  std::vector<v1::RecordedEvent> events = Events("subject-s-1");
  ASSERT_EQ(events.size(), 2u);
  for (const v1::RecordedEvent& event : events) {
    ASSERT_TRUE(event.payload().has_subject_record_changed());
    EXPECT_EQ(event.payload().subject_record_changed().subject_id(), "s-1");
    EXPECT_EQ(event.payload().subject_record_changed().holder(), kSchool);
    EXPECT_FALSE(event.payload().has_personal());
    const std::string bytes = event.SerializeAsString();
    for (const char* secret : {"Zephyrin", "Quillfeather", "2011-07-15",
                               "zq@example.org", "Parent Person"}) {
      EXPECT_EQ(bytes.find(secret), std::string::npos)
          << secret << " is in event " << event.stream_version();
    }
  }
  // Only which parts changed.
  const auto& first = events[0].payload().subject_record_changed().changed();
  EXPECT_EQ(std::vector<std::string>(first.begin(), first.end()),
            (std::vector<std::string>{"given_name", "family_name",
                                      "date_of_birth", "contacts", "related"}));
  const auto& second = events[1].payload().subject_record_changed().changed();
  EXPECT_EQ(std::vector<std::string>(second.begin(), second.end()),
            std::vector<std::string>{"given_name"});
}

// ---------------------------------------------------------------------------
// Agreements

TEST_F(DomainFlowsTest, AgreementIsSignedAmendedReviewedAndTerminated) {
  const v1::AgreementTerms terms = Terms(/*response_time_days=*/0,
                                         /*acknowledgement_allowed=*/false,
                                         /*max_promised_days=*/0,
                                         /*closing_period_days=*/30);
  EXPECT_TRUE(Is(Agree(Sign("a-1"), kSchool), StatusCode::NOT_FOUND));
  EXPECT_TRUE(Is(Agree(Draft("a-1", terms), kOtherSchool),
                 StatusCode::PERMISSION_DENIED));
  ASSERT_TRUE(Ok(Agree(Draft("a-1", terms), kService)));
  v1::Agreement agreement = GetAgreement("a-1");
  EXPECT_EQ(agreement.state(), v1::Agreement::DRAFT);
  EXPECT_EQ(agreement.terms_version(), 1u);
  EXPECT_EQ(agreement.terms().response_time_days(), 14u);  // The default.
  EXPECT_EQ(agreement.version(), 1u);

  // A third organisation cannot sign; each party signs once.
  EXPECT_TRUE(
      Is(Agree(Sign("a-1"), kOtherSchool), StatusCode::PERMISSION_DENIED));
  v1::AgreementCommand sign_for_other = Sign("a-1");
  sign_for_other.mutable_sign()->set_party(kService);
  EXPECT_TRUE(
      Is(Agree(sign_for_other, kSchool), StatusCode::PERMISSION_DENIED));
  clock_.Advance(absl::Hours(2));
  ASSERT_TRUE(Ok(Agree(Sign("a-1"), kSchool)));
  EXPECT_TRUE(Is(Agree(Sign("a-1"), kSchool), StatusCode::FAILED_PRECONDITION,
                 "already signed"));
  EXPECT_EQ(GetAgreement("a-1").state(), v1::Agreement::DRAFT);
  clock_.Advance(absl::Hours(1));
  const absl::Time in_force_at = clock_.Now();
  ASSERT_TRUE(Ok(Agree(Sign("a-1"), kService)));
  agreement = GetAgreement("a-1");
  EXPECT_EQ(agreement.state(), v1::Agreement::IN_FORCE);
  EXPECT_EQ(std::vector<std::string>(agreement.signed_by().begin(),
                                     agreement.signed_by().end()),
            (std::vector<std::string>{kSchool, kService}));
  EXPECT_EQ(TimeOf(agreement.in_force_since()), in_force_at);
  EXPECT_EQ(TimeOf(agreement.review_due_at()),
            absl::FromCivil(absl::CivilSecond(2027, 5, 28, 23, 26, 40),
                            absl::UTCTimeZone()));
  EXPECT_TRUE(Is(Agree(Sign("a-1"), kService), StatusCode::FAILED_PRECONDITION,
                 "cannot sign an agreement that is in force"));

  // An amendment is a new version of the terms; it stays in force.
  clock_.Advance(10 * kDay);
  v1::AgreementTerms amended = terms;
  amended.set_response_time_days(21);
  ASSERT_TRUE(Ok(Agree(Amend("a-1", amended), kSchool)));
  agreement = GetAgreement("a-1");
  EXPECT_EQ(agreement.state(), v1::Agreement::IN_FORCE);
  EXPECT_EQ(agreement.terms_version(), 2u);
  EXPECT_EQ(agreement.terms().response_time_days(), 21u);
  // An amendment cannot swap a party.
  v1::AgreementTerms other_parties = amended;
  *other_parties.mutable_school() = Party(kOtherSchool);
  EXPECT_TRUE(Is(Agree(Amend("a-1", other_parties), kSchool),
                 StatusCode::FAILED_PRECONDITION, "parties"));

  // A review (at now by default) moves the next review.
  clock_.Advance(30 * kDay);
  const absl::Time reviewed_at = clock_.Now();
  v1::AgreementCommand review;
  review.set_agreement_id("a-1");
  review.mutable_review()->set_review_outcome(v1::REVIEW_OUTCOME_CONTINUE);
  ASSERT_TRUE(Ok(Agree(review, kService)));
  agreement = GetAgreement("a-1");
  EXPECT_EQ(TimeOf(agreement.last_reviewed_at()), reviewed_at);
  EXPECT_EQ(TimeOf(agreement.review_due_at()),
            absl::FromCivil(absl::CivilSecond(2027, 7, 7, 23, 26, 40),
                            absl::UTCTimeZone()));
  v1::AgreementCommand future_review = review;
  *future_review.mutable_review()->mutable_reviewed_at() =
      At(clock_.Now() + kDay);
  EXPECT_TRUE(Is(Agree(future_review, kService), StatusCode::INVALID_ARGUMENT,
                 "review.reviewed_at"));

  // Notice: the closing period runs closing_period_days from now.
  EXPECT_TRUE(Is(Agree(GiveNotice("a-1"), kOtherSchool),
                 StatusCode::PERMISSION_DENIED));
  const absl::Time notice_at = clock_.Now();
  ASSERT_TRUE(Ok(Agree(GiveNotice("a-1"), kSchool)));
  agreement = GetAgreement("a-1");
  EXPECT_EQ(agreement.state(), v1::Agreement::CLOSING);
  EXPECT_EQ(TimeOf(agreement.closing_period_ends_at()), notice_at + 30 * kDay);
  std::vector<v1::RecordedEvent> events = Events("agreement-a-1");
  ASSERT_TRUE(events.back().payload().has_agreement_notice_given());
  EXPECT_EQ(events.back().payload().agreement_notice_given().party(), kSchool);
  EXPECT_TRUE(Is(Agree(Amend("a-1", terms), kSchool),
                 StatusCode::FAILED_PRECONDITION,
                 "cannot amend an agreement that is in its closing period"));

  v1::AgreementCommand terminate;
  terminate.set_agreement_id("a-1");
  terminate.mutable_terminate();
  clock_.Advance(30 * kDay - absl::Seconds(1));
  EXPECT_TRUE(Is(Agree(terminate, kService), StatusCode::FAILED_PRECONDITION,
                 "closing period runs until"));
  EXPECT_EQ(GetAgreement("a-1").state(), v1::Agreement::CLOSING);
  clock_.Advance(absl::Seconds(1));
  ASSERT_TRUE(Ok(Agree(terminate, kService)));
  agreement = GetAgreement("a-1");
  EXPECT_EQ(agreement.state(), v1::Agreement::TERMINATED);
  EXPECT_EQ(agreement.version(), 7u);
  EXPECT_TRUE(Is(Agree(terminate, kService), StatusCode::FAILED_PRECONDITION,
                 "terminated"));
}

TEST_F(DomainFlowsTest, ConcurrentAgreementCommandsOnOneVersionHaveOneWinner) {
  ASSERT_NO_FATAL_FAILURE(MakeInForce("a-1", Terms()));
  const uint64_t seen = GetAgreement("a-1").version();
  ASSERT_EQ(seen, 3u);

  // Both parties give notice having seen the same version.
  grpc::Status by_school, by_service;
  v1::CommandResponse school_response, service_response;
  v1::AgreementCommand school_notice =
      GiveNotice("a-1", v1::NOTICE_REASON_SERVICE_CHANGED);
  school_notice.set_expected_version(seen);
  v1::AgreementCommand service_notice =
      GiveNotice("a-1", v1::NOTICE_REASON_OTHER);
  service_notice.set_expected_version(seen);
  std::thread school(
      [&] { by_school = Agree(school_notice, kSchool, &school_response); });
  std::thread service(
      [&] { by_service = Agree(service_notice, kService, &service_response); });
  school.join();
  service.join();

  ASSERT_NE(by_school.ok(), by_service.ok())
      << by_school.error_message() << " / " << by_service.error_message();
  const grpc::Status& loser = by_school.ok() ? by_service : by_school;
  EXPECT_TRUE(Is(loser, StatusCode::ABORTED));
  const std::string winner = by_school.ok() ? kSchool : kService;
  EXPECT_EQ(
      (by_school.ok() ? school_response : service_response).stream_version(),
      seen + 1);
  std::vector<v1::RecordedEvent> events = Events("agreement-a-1");
  ASSERT_EQ(events.size(), seen + 1);
  EXPECT_EQ(events.back().payload().agreement_notice_given().party(), winner);

  // A command on a version the caller no longer sees is refused too.
  v1::AgreementCommand review;
  review.set_agreement_id("a-1");
  review.set_expected_version(seen);
  review.mutable_review()->set_review_outcome(v1::REVIEW_OUTCOME_CONTINUE);
  EXPECT_TRUE(Is(Agree(review, kSchool), StatusCode::ABORTED, "version 4"));
  review.set_expected_version(seen + 1);
  EXPECT_TRUE(Ok(Agree(review, kSchool)));
}

// ---------------------------------------------------------------------------
// Correspondence

TEST_F(DomainFlowsTest, CorrespondenceIsDueWithinTheResponseTimeAndAnswered) {
  ASSERT_NO_FATAL_FAILURE(MakeInForce("a-1", Terms()));
  clock_.Advance(3 * kDay);
  const absl::Time received_at = clock_.Now() - absl::Hours(5);
  v1::CommandResponse response;
  ASSERT_TRUE(Ok(Correspond(Receive("k-1", "a-1", kService, received_at),
                            kSchool, &response)));
  EXPECT_EQ(response.stream_version(), 1u);

  v1::CorrespondenceItem item = GetCorrespondence("k-1");
  EXPECT_EQ(item.state(), v1::CorrespondenceItem::AWAITING_ANSWER);
  EXPECT_EQ(TimeOf(item.answer_due_at()), received_at + 14 * kDay);
  EXPECT_EQ(item.received().to(), kSchool);
  EXPECT_EQ(item.received().agreement_version(), 3u);
  EXPECT_EQ(TimeOf(item.received().due_at()), received_at + 14 * kDay);
  EXPECT_EQ(item.version(), 1u);

  // Only the receiving party records the answer.
  EXPECT_TRUE(
      Is(Correspond(Answer("k-1"), kService), StatusCode::PERMISSION_DENIED));
  EXPECT_TRUE(
      Is(Correspond(Answer("k-missing"), kSchool), StatusCode::NOT_FOUND));
  clock_.Advance(2 * kDay);
  ASSERT_TRUE(Ok(Correspond(Answer("k-1"), kSchool)));
  item = GetCorrespondence("k-1");
  EXPECT_EQ(item.state(), v1::CorrespondenceItem::ANSWERED);
  EXPECT_EQ(TimeOf(item.answered_at()), clock_.Now());
  EXPECT_FALSE(item.has_answer_due_at());
  EXPECT_TRUE(Is(Correspond(Answer("k-1"), kSchool),
                 StatusCode::FAILED_PRECONDITION, "already answered"));
}

TEST_F(DomainFlowsTest, CorrespondenceNeedsAnAgreementInForceBetweenParties) {
  const absl::Time now = clock_.Now();
  // The agreement is cited, not addressed: FAILED_PRECONDITION.
  EXPECT_TRUE(Is(Correspond(Receive("k-1", "a-none", kService, now), kSchool),
                 StatusCode::FAILED_PRECONDITION,
                 "receive.agreement_id: agreement a-none does not exist"));

  // Drafted (even signed by one party) is not in force.
  ASSERT_TRUE(Ok(Agree(Draft("a-1", Terms()), kSchool)));
  ASSERT_TRUE(Ok(Agree(Sign("a-1"), kSchool)));
  EXPECT_TRUE(Is(Correspond(Receive("k-1", "a-1", kService, now), kSchool),
                 StatusCode::FAILED_PRECONDITION, "no agreement in force"));

  clock_.Advance(kDay);
  ASSERT_TRUE(Ok(Agree(Sign("a-1"), kService)));
  const absl::Time in_force = clock_.Now();
  clock_.Advance(absl::Hours(1));
  // From an organisation that is not the other party.
  EXPECT_TRUE(
      Is(Correspond(Receive("k-1", "a-1", kOtherSchool, in_force), kSchool),
         StatusCode::FAILED_PRECONDITION, "no agreement in force"));
  // Received by an organisation that is no party.
  EXPECT_TRUE(
      Is(Correspond(Receive("k-1", "a-1", kService, in_force), kOtherSchool),
         StatusCode::PERMISSION_DENIED, "only a party to agreement a-1"));
  // Received before the agreement came into force.
  EXPECT_TRUE(Is(
      Correspond(Receive("k-1", "a-1", kService, in_force - absl::Seconds(1)),
                 kSchool),
      StatusCode::FAILED_PRECONDITION, "no agreement in force"));
  // Received in the future.
  EXPECT_TRUE(Is(
      Correspond(Receive("k-1", "a-1", kService, clock_.Now() + absl::Hours(1)),
                 kSchool),
      StatusCode::INVALID_ARGUMENT, "receive.received_at"));
  EXPECT_TRUE(Events("correspondence-k-1").empty());

  // Either party receives from the other.
  EXPECT_TRUE(
      Ok(Correspond(Receive("k-1", "a-1", kService, in_force), kSchool)));
  EXPECT_TRUE(
      Ok(Correspond(Receive("k-2", "a-1", kSchool, in_force), kService)));
  EXPECT_EQ(GetCorrespondence("k-2").received().to(), kService);
}

TEST_F(DomainFlowsTest, CorrespondenceAboutNoPupilCarriesNoPersonalData) {
  ASSERT_NO_FATAL_FAILURE(MakeInForce("a-1", Terms()));
  v1::CorrespondenceCommand general =
      Receive("k-1", "a-1", kService, clock_.Now());
  general.mutable_personal()->set_notes("Jo's mum called about Jo");
  EXPECT_TRUE(Is(Correspond(general, kSchool), StatusCode::INVALID_ARGUMENT,
                 "personal"));
  EXPECT_TRUE(Events("correspondence-k-1").empty());

  v1::CorrespondenceCommand about_pupil = general;
  about_pupil.mutable_receive()->set_subject_id("s-1");
  EXPECT_TRUE(
      Is(Correspond(about_pupil, kSchool), StatusCode::NOT_FOUND, "s-1"));
  ASSERT_NO_FATAL_FAILURE(AddSubject("s-1"));
  ASSERT_TRUE(Ok(Correspond(about_pupil, kSchool)));
  std::vector<v1::RecordedEvent> events = Events("correspondence-k-1");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].payload().personal().subject_id(), "s-1");
  EXPECT_EQ(events[0].payload().personal().notes(), "Jo's mum called about Jo");
}

// Correspondence received while an agreement was in force is recorded even
// after the agreement is terminated.
TEST_F(DomainFlowsTest, CorrespondenceReceivedBeforeTerminationIsRecorded) {
  ASSERT_NO_FATAL_FAILURE(MakeInForce("a-1", Terms(0, false, 0, 10)));
  clock_.Advance(kDay);
  const absl::Time received_at = clock_.Now();
  ASSERT_TRUE(Ok(Agree(GiveNotice("a-1"), kSchool)));
  clock_.Advance(10 * kDay);
  v1::AgreementCommand terminate;
  terminate.set_agreement_id("a-1");
  terminate.mutable_terminate();
  ASSERT_TRUE(Ok(Agree(terminate, kSchool)));
  ASSERT_EQ(GetAgreement("a-1").state(), v1::Agreement::TERMINATED);
  // Received a day after the agreement came into force; recorded late.
  EXPECT_TRUE(
      Ok(Correspond(Receive("k-1", "a-1", kService, received_at), kSchool)));
  // After the closing period ended, nothing is in force.
  EXPECT_TRUE(
      Is(Correspond(Receive("k-2", "a-1", kService, clock_.Now()), kSchool),
         StatusCode::FAILED_PRECONDITION, "no agreement in force"));
}

TEST_F(DomainFlowsTest, CorrespondenceDuringTheClosingPeriodIsStillDue) {
  ASSERT_NO_FATAL_FAILURE(MakeInForce("a-1", Terms(0, false, 0, 10)));
  ASSERT_TRUE(Ok(Agree(GiveNotice("a-1"), kService)));
  const absl::Time ends = TimeOf(GetAgreement("a-1").closing_period_ends_at());
  clock_.Advance(5 * kDay);
  EXPECT_TRUE(
      Ok(Correspond(Receive("k-1", "a-1", kService, clock_.Now()), kSchool)));
  EXPECT_EQ(TimeOf(GetCorrespondence("k-1").answer_due_at()),
            clock_.Now() + 14 * kDay);
  clock_.Advance(5 * kDay);
  ASSERT_EQ(clock_.Now(), ends);
  EXPECT_TRUE(Is(Correspond(Receive("k-2", "a-1", kService, ends), kSchool),
                 StatusCode::FAILED_PRECONDITION, "no agreement in force"));
}

TEST_F(DomainFlowsTest, AmendingADraftNeedsBothSignaturesAgain) {
  ASSERT_TRUE(Ok(Agree(Draft("a-1", Terms()), kSchool)));
  ASSERT_TRUE(Ok(Agree(Sign("a-1"), kSchool)));
  ASSERT_TRUE(Ok(Agree(Amend("a-1", Terms(21)), kService)));
  v1::Agreement agreement = GetAgreement("a-1");
  EXPECT_EQ(agreement.state(), v1::Agreement::DRAFT);
  EXPECT_EQ(agreement.terms_version(), 2u);
  EXPECT_EQ(agreement.signed_by_size(), 0);
  ASSERT_TRUE(Ok(Agree(Sign("a-1"), kService)));
  EXPECT_EQ(GetAgreement("a-1").state(), v1::Agreement::DRAFT);
  ASSERT_TRUE(Ok(Agree(Sign("a-1"), kSchool)));
  agreement = GetAgreement("a-1");
  EXPECT_EQ(agreement.state(), v1::Agreement::IN_FORCE);
  EXPECT_EQ(agreement.terms().response_time_days(), 21u);
}

TEST_F(DomainFlowsTest, AcknowledgementOnlyWhereTheAgreementAllowsIt) {
  ASSERT_NO_FATAL_FAILURE(MakeInForce("a-strict", Terms()));
  const absl::Time received_at = clock_.Now();
  ASSERT_TRUE(Ok(
      Correspond(Receive("k-1", "a-strict", kService, received_at), kSchool)));
  EXPECT_TRUE(
      Is(Correspond(Acknowledge("k-1", received_at + 20 * kDay), kSchool),
         StatusCode::FAILED_PRECONDITION, "does not allow acknowledgement"));
  EXPECT_EQ(GetCorrespondence("k-1").state(),
            v1::CorrespondenceItem::AWAITING_ANSWER);
}

TEST_F(DomainFlowsTest, AcknowledgementMovesTheDueDateWithinTheLimit) {
  ASSERT_NO_FATAL_FAILURE(MakeInForce(
      "a-1", Terms(/*response_time_days=*/10, /*acknowledgement_allowed=*/true,
                   /*max_promised_days=*/30)));
  const absl::Time received_at = clock_.Now();
  ASSERT_TRUE(
      Ok(Correspond(Receive("k-1", "a-1", kService, received_at), kSchool)));
  ASSERT_TRUE(
      Ok(Correspond(Receive("k-2", "a-1", kService, received_at), kSchool)));
  EXPECT_EQ(TimeOf(GetCorrespondence("k-1").answer_due_at()),
            received_at + 10 * kDay);

  clock_.Advance(2 * kDay);
  EXPECT_TRUE(Is(
      Correspond(Acknowledge("k-1", received_at + 30 * kDay + absl::Seconds(1)),
                 kSchool),
      StatusCode::FAILED_PRECONDITION, "at most 30 days"));
  EXPECT_TRUE(
      Is(Correspond(Acknowledge("k-1", received_at + 20 * kDay), kService),
         StatusCode::PERMISSION_DENIED));
  EXPECT_TRUE(
      Is(Correspond(Acknowledge("k-1", clock_.Now() - absl::Hours(1)), kSchool),
         StatusCode::INVALID_ARGUMENT, "acknowledge.promised_by"));
  const absl::Time promised = received_at + 30 * kDay;
  ASSERT_TRUE(Ok(Correspond(Acknowledge("k-1", promised), kSchool)));
  v1::CorrespondenceItem item = GetCorrespondence("k-1");
  EXPECT_EQ(item.state(), v1::CorrespondenceItem::ACKNOWLEDGED);
  EXPECT_EQ(TimeOf(item.answer_due_at()), promised);
  EXPECT_TRUE(Is(Correspond(Acknowledge("k-1", promised), kSchool),
                 StatusCode::FAILED_PRECONDITION, "already acknowledged"));

  // Too late to acknowledge once the response time has passed.
  clock_.Advance(8 * kDay + absl::Seconds(1));
  EXPECT_TRUE(
      Is(Correspond(Acknowledge("k-2", received_at + 20 * kDay), kSchool),
         StatusCode::FAILED_PRECONDITION, "within the response time"));

  ASSERT_TRUE(Ok(Correspond(Answer("k-1"), kSchool)));
  EXPECT_EQ(GetCorrespondence("k-1").state(), v1::CorrespondenceItem::ANSWERED);
}

// A letter's answer is due by the agreement version in force when it was
// received: an amendment applies to letters received after it.
TEST_F(DomainFlowsTest, AnAmendmentLeavesEarlierLettersDueDates) {
  ASSERT_NO_FATAL_FAILURE(
      MakeInForce("a-1", Terms(0, /*acknowledgement_allowed=*/true)));
  const absl::Time received_at = clock_.Now();
  ASSERT_TRUE(
      Ok(Correspond(Receive("k-1", "a-1", kService, received_at), kSchool)));
  EXPECT_EQ(TimeOf(GetCorrespondence("k-1").answer_due_at()),
            received_at + 14 * kDay);

  // Shortened from 14 days to 7: k-1 does not become overdue at once.
  clock_.Advance(8 * kDay);
  ASSERT_TRUE(
      Ok(Agree(Amend("a-1", Terms(/*response_time_days=*/7, true)), kService)));
  v1::CorrespondenceItem item = GetCorrespondence("k-1");
  EXPECT_EQ(TimeOf(item.answer_due_at()), received_at + 14 * kDay);
  EXPECT_EQ(item.received().agreement_version(), 3u);
  EXPECT_EQ(TimeOf(item.received().due_at()), received_at + 14 * kDay);
  // Still within the response time it arrived under: it can be
  // acknowledged.
  ASSERT_TRUE(
      Ok(Correspond(Acknowledge("k-1", received_at + 20 * kDay), kSchool)));

  // A letter received after the amendment is due by the amended terms.
  const absl::Time later = clock_.Now();
  ASSERT_TRUE(Ok(Correspond(Receive("k-2", "a-1", kService, later), kSchool)));
  item = GetCorrespondence("k-2");
  EXPECT_EQ(TimeOf(item.answer_due_at()), later + 7 * kDay);
  EXPECT_EQ(item.received().agreement_version(), 4u);
}

// ---------------------------------------------------------------------------
// Interventions

TEST_F(DomainFlowsTest, ServicePlansDeliversAndEndsAnIntervention) {
  const absl::Time starts = clock_.Now();
  v1::InterventionCommand plan =
      Plan("i-1", "s-1", v1::INTERVENTION_TYPE_ONE_TO_ONE, starts);
  EXPECT_TRUE(Is(Intervene(plan, kService), StatusCode::NOT_FOUND, "s-1"));
  ASSERT_NO_FATAL_FAILURE(AddSubject("s-1"));
  // A service works only with young carers referred to it.
  EXPECT_TRUE(Is(Intervene(plan, kService), StatusCode::PERMISSION_DENIED,
                 "service rule: a service records only about young carers "
                 "referred to it"));
  ASSERT_NO_FATAL_FAILURE(ReferToService("s-1"));
  // The school cannot plan as the delivering service.
  v1::InterventionCommand as_service = plan;
  as_service.mutable_plan()->set_service(kService);
  EXPECT_TRUE(
      Is(Intervene(as_service, kSchool), StatusCode::PERMISSION_DENIED));
  plan.mutable_personal()->set_notes("needs quiet time after school");
  ASSERT_TRUE(Ok(Intervene(plan, kService)));

  v1::Intervention intervention = GetIntervention("i-1");
  EXPECT_EQ(intervention.state(), v1::Intervention::PLANNED);
  EXPECT_EQ(intervention.plan().service(), kService);  // Filled in.
  std::vector<v1::RecordedEvent> events = Events("intervention-i-1");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].payload().personal().subject_id(), "s-1");
  EXPECT_EQ(events[0].payload().personal().notes(),
            "needs quiet time after school");

  auto session = [](absl::Time at, bool attended) {
    v1::InterventionCommand c;
    c.set_intervention_id("i-1");
    *c.mutable_record_session()->mutable_delivered_at() = At(at);
    c.mutable_record_session()->set_duration_minutes(45);
    c.mutable_record_session()->set_attended(attended);
    return c;
  };
  clock_.Advance(7 * kDay);
  EXPECT_TRUE(
      Is(Intervene(session(clock_.Now() + absl::Hours(1), true), kService),
         StatusCode::INVALID_ARGUMENT, "record_session.delivered_at"));
  EXPECT_TRUE(Is(Intervene(session(clock_.Now(), true), kSchool),
                 StatusCode::PERMISSION_DENIED));
  ASSERT_TRUE(Ok(Intervene(session(starts + kDay, true), kService)));
  ASSERT_TRUE(Ok(Intervene(session(starts + 6 * kDay, false), kService)));

  v1::InterventionCommand end;
  end.set_intervention_id("i-1");
  end.mutable_end();
  end.mutable_personal()->set_reason("support plan complete");
  ASSERT_TRUE(Ok(Intervene(end, kService)));
  EXPECT_TRUE(Is(Intervene(session(clock_.Now(), true), kService),
                 StatusCode::FAILED_PRECONDITION, "ended"));

  v1::InterventionCommand outcomes;
  outcomes.set_intervention_id("i-1");
  outcomes.mutable_record_outcomes()->set_attendance(
      v1::OUTCOME_CHANGE_IMPROVED);
  outcomes.mutable_record_outcomes()->set_wellbeing(
      v1::OUTCOME_CHANGE_NO_CHANGE);
  ASSERT_TRUE(Ok(Intervene(outcomes, kService)));

  intervention = GetIntervention("i-1");
  EXPECT_EQ(intervention.state(), v1::Intervention::ENDED);
  EXPECT_EQ(intervention.sessions_delivered(), 2u);
  EXPECT_EQ(intervention.sessions_attended(), 1u);
  EXPECT_EQ(TimeOf(intervention.last_session_at()), starts + 6 * kDay);
  // Outcomes not reported to the school stay with the service.
  EXPECT_FALSE(intervention.has_latest_outcomes());
  EXPECT_EQ(intervention.version(), 5u);
  EXPECT_EQ(GetIntervention("i-1", kService).latest_outcomes().attendance(),
            v1::OUTCOME_CHANGE_IMPROVED);
}

class OutcomeReportTest : public DomainFlowsTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(AddSubject("s-1"));
    ASSERT_NO_FATAL_FAILURE(ReferToService("s-1"));
    ASSERT_TRUE(Ok(Intervene(
        Plan("i-1", "s-1", v1::INTERVENTION_TYPE_MENTORING, clock_.Now()),
        kService)));
    clock_.Advance(kDay);
  }

  // Attendance and wellbeing outcomes, reported to the school under
  // `consent_id`.
  v1::InterventionCommand Report(const std::string& consent_id) {
    v1::InterventionCommand c;
    c.set_intervention_id("i-1");
    auto* o = c.mutable_record_outcomes();
    o->set_attendance(v1::OUTCOME_CHANGE_IMPROVED);
    o->set_wellbeing(v1::OUTCOME_CHANGE_IMPROVED);
    *o->mutable_report() =
        Disclosure("s-1", kService, kSchool, v1::PURPOSE_IMPACT_REPORTING,
                   {v1::DATA_CATEGORY_ATTENDANCE, v1::DATA_CATEGORY_WELLBEING},
                   consent_id);
    return c;
  }

  // Refused with FAILED_PRECONDITION, and nothing is written.
  void ExpectRefused(const v1::InterventionCommand& command,
                     const std::string& fragment) {
    const uint64_t head = Head();
    EXPECT_TRUE(Is(Intervene(command, kService),
                   StatusCode::FAILED_PRECONDITION, fragment));
    EXPECT_EQ(Head(), head);
    EXPECT_EQ(Events("intervention-i-1").size(), 1u);
  }
};

TEST_F(OutcomeReportTest, CoveredReportRecordsTheConsentVersion) {
  ASSERT_TRUE(Ok(
      Grant(Consent("c-impact", "s-1", kSchool, {v1::PURPOSE_IMPACT_REPORTING},
                    {v1::DATA_CATEGORY_ATTENDANCE, v1::DATA_CATEGORY_WELLBEING,
                     v1::DATA_CATEGORY_ATTAINMENT},
                    clock_.Now()),
            kService)));
  v1::CommandResponse response;
  ASSERT_TRUE(Ok(Intervene(Report("c-impact"), kService, &response)));
  std::vector<v1::RecordedEvent> events = Events("intervention-i-1");
  ASSERT_EQ(events.size(), 2u);
  ASSERT_TRUE(events[1].payload().has_outcomes_recorded());
  const auto& report = events[1].payload().outcomes_recorded().report();
  EXPECT_EQ(report.consent().consent_id(), "c-impact");
  EXPECT_EQ(report.consent().consent_version(), 1u);
  EXPECT_EQ(report.to().organisation(), kSchool);
  EXPECT_EQ(GetIntervention("i-1")
                .latest_outcomes()
                .report()
                .consent()
                .consent_version(),
            1u);
}

TEST_F(OutcomeReportTest, ReportNotCoveredByConsentIsRefusedAndNotWritten) {
  // No such consent.
  {
    // An unknown consent is FAILED_PRECONDITION (cited, not addressed),
    // and nothing is written.
    const uint64_t head = Head();
    EXPECT_TRUE(Is(Intervene(Report("c-missing"), kService),
                   StatusCode::FAILED_PRECONDITION,
                   "no consent c-missing about subject"));
    EXPECT_EQ(Head(), head);
  }
  // Consented for referral, not impact reporting.
  ASSERT_TRUE(Ok(
      Grant(Consent("c-referral", "s-1", kSchool, {v1::PURPOSE_REFERRAL},
                    {v1::DATA_CATEGORY_ATTENDANCE, v1::DATA_CATEGORY_WELLBEING},
                    clock_.Now()),
            kService)));
  ExpectRefused(Report("c-referral"), "PURPOSE_IMPACT_REPORTING");
  // Impact reporting, but not of wellbeing.
  ASSERT_TRUE(Ok(Grant(
      Consent("c-attendance", "s-1", kSchool, {v1::PURPOSE_IMPACT_REPORTING},
              {v1::DATA_CATEGORY_ATTENDANCE}, clock_.Now()),
      kService)));
  ExpectRefused(Report("c-attendance"), "DATA_CATEGORY_WELLBEING");
  // To another recipient.
  ASSERT_TRUE(Ok(
      Grant(Consent("c-elsewhere", "s-1", kOtherSchool,
                    {v1::PURPOSE_IMPACT_REPORTING},
                    {v1::DATA_CATEGORY_ATTENDANCE, v1::DATA_CATEGORY_WELLBEING},
                    clock_.Now()),
            kService)));
  ExpectRefused(Report("c-elsewhere"), "recipient");

  // A report that does not list a measured category is malformed.
  v1::InterventionCommand unlisted = Report("c-attendance");
  unlisted.mutable_record_outcomes()->mutable_report()->clear_categories();
  unlisted.mutable_record_outcomes()->mutable_report()->add_categories(
      v1::DATA_CATEGORY_ATTENDANCE);
  EXPECT_TRUE(Is(Intervene(unlisted, kService), StatusCode::INVALID_ARGUMENT,
                 "DATA_CATEGORY_WELLBEING"));
  EXPECT_EQ(Events("intervention-i-1").size(), 1u);
}

TEST_F(DomainFlowsTest, WholeSchoolInterventionCannotCarryPersonalData) {
  v1::InterventionCommand assembly =
      Plan("i-assembly", "", v1::INTERVENTION_TYPE_ASSEMBLY_OR_PSE_LESSON,
           clock_.Now());
  v1::InterventionCommand with_notes = assembly;
  with_notes.mutable_personal()->set_notes("Jo cried during the assembly");
  EXPECT_TRUE(Is(Intervene(with_notes, kService), StatusCode::INVALID_ARGUMENT,
                 "personal"));
  v1::InterventionCommand with_subject = assembly;
  with_subject.mutable_plan()->set_subject_id("s-1");
  EXPECT_TRUE(Is(Intervene(with_subject, kService),
                 StatusCode::INVALID_ARGUMENT, "plan.subject_id"));
  EXPECT_TRUE(Events("intervention-i-assembly").empty());

  ASSERT_TRUE(Ok(Intervene(assembly, kService)));
  // Its later steps cannot carry personal data either.
  clock_.Advance(kDay);
  v1::InterventionCommand session;
  session.set_intervention_id("i-assembly");
  *session.mutable_record_session()->mutable_delivered_at() = At(clock_.Now());
  session.mutable_record_session()->set_duration_minutes(30);
  session.mutable_record_session()->set_attended(true);
  session.mutable_personal()->set_notes("Sam talked about caring for dad");
  EXPECT_TRUE(Is(Intervene(session, kService), StatusCode::INVALID_ARGUMENT,
                 "personal"));
  session.clear_personal();
  EXPECT_TRUE(Ok(Intervene(session, kService)));
  for (const v1::RecordedEvent& e : Events("intervention-i-assembly")) {
    EXPECT_FALSE(e.payload().has_personal());
  }
}

// ---------------------------------------------------------------------------
// Safeguarding

TEST_F(DomainFlowsTest, ConcernIsRaisedEscalatedAndReferredToSocialCare) {
  EXPECT_TRUE(Is(Safeguard(Raise("g-1", "s-1", "bruise on arm"), kSchool),
                 StatusCode::NOT_FOUND, "s-1"));
  ASSERT_NO_FATAL_FAILURE(AddSubject("s-1"));
  EXPECT_TRUE(Is(Safeguard(Raise("g-1", "s-1", ""), kSchool),
                 StatusCode::INVALID_ARGUMENT, "personal.facts"));
  v1::SafeguardingCommand raise = Raise("g-1", "s-1", "bruise on left arm");
  raise.mutable_personal()->set_childs_words("I fell over at home");
  ASSERT_TRUE(Ok(Safeguard(raise, kSchool)));
  v1::Concern concern = GetConcern("g-1");
  EXPECT_EQ(concern.state(), v1::Concern::OPEN);
  EXPECT_EQ(concern.raised().organisation(), kSchool);
  EXPECT_EQ(concern.raised().subject_id(), "s-1");
  std::vector<v1::RecordedEvent> events =
      Events(domain::ConcernStream(kSchool, "g-1"));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].payload().personal().subject_id(), "s-1");
  EXPECT_EQ(events[0].payload().personal().facts(), "bruise on left arm");

  // Only the raising organisation records its handling; to anyone else the
  // concern answers as one that does not exist.
  EXPECT_TRUE(Is(Safeguard(NotifyDsl("g-1"), kService), StatusCode::NOT_FOUND,
                 "does not exist"));
  EXPECT_TRUE(Is(Safeguard(ReferToSocialCare("g-1", "s-1"), kOtherSchool),
                 StatusCode::NOT_FOUND, "does not exist"));
  v1::SafeguardingCommand close;
  close.set_concern_id("g-1");
  close.mutable_close();
  close.mutable_personal()->set_outcome("no further action");
  EXPECT_TRUE(Is(Safeguard(close, kService), StatusCode::NOT_FOUND));
  EXPECT_TRUE(
      Is(Safeguard(NotifyDsl("g-missing"), kSchool), StatusCode::NOT_FOUND));

  clock_.Advance(absl::Minutes(10));
  ASSERT_TRUE(Ok(Safeguard(NotifyDsl("g-1"), kSchool)));
  events = Events(domain::ConcernStream(kSchool, "g-1"));
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(TimeOf(events[1].payload().dsl_notified().notified_at()),
            clock_.Now());

  // A referral to social care must be for safeguarding.
  v1::SafeguardingCommand wrong_purpose = ReferToSocialCare("g-1", "s-1");
  wrong_purpose.mutable_refer_to_social_care()
      ->mutable_disclosure()
      ->set_purpose(v1::PURPOSE_REFERRAL);
  EXPECT_TRUE(Is(Safeguard(wrong_purpose, kSchool),
                 StatusCode::FAILED_PRECONDITION, "PURPOSE_SAFEGUARDING"));
  // The safeguarding basis must say why the family is not told.
  v1::SafeguardingCommand unexplained = ReferToSocialCare("g-1", "s-1");
  unexplained.mutable_personal()->clear_not_told_reason();
  EXPECT_TRUE(Is(Safeguard(unexplained, kSchool),
                 StatusCode::FAILED_PRECONDITION, "not_told_reason"));

  v1::SafeguardingCommand refer = ReferToSocialCare("g-1", "s-1");
  refer.mutable_refer_to_social_care()->set_reference("LA-2026-0042");
  ASSERT_TRUE(Ok(Safeguard(refer, kSchool)));
  events = Events(domain::ConcernStream(kSchool, "g-1"));
  ASSERT_EQ(events.size(), 3u);
  ASSERT_TRUE(events[2].payload().has_social_care_referral_made());
  const auto& made = events[2].payload().social_care_referral_made();
  EXPECT_EQ(made.disclosure().safeguarding().concern_id(), "g-1");
  EXPECT_EQ(made.disclosure().to().organisation(), kSocialCare);
  EXPECT_EQ(made.reference(), "LA-2026-0042");

  concern = GetConcern("g-1");
  EXPECT_EQ(concern.dsl_notified(), "dsl-1");
  EXPECT_TRUE(concern.referred_to_social_care());
  EXPECT_EQ(concern.version(), 3u);
  ASSERT_TRUE(Ok(Safeguard(close, kSchool)));
  EXPECT_EQ(GetConcern("g-1").state(), v1::Concern::CLOSED);
  EXPECT_TRUE(Is(Safeguard(NotifyDsl("g-1"), kSchool),
                 StatusCode::FAILED_PRECONDITION, "closed concern"));
}

TEST_F(DomainFlowsTest, DecisionNotToShareIsRecordedOnTheSharingStream) {
  ASSERT_NO_FATAL_FAILURE(AddSubject("s-1"));
  ASSERT_TRUE(Ok(Safeguard(Raise("g-1", "s-1", "missed school"), kSchool)));
  v1::RecordDecisionNotToShareRequest decline;
  auto* d = decline.mutable_decision();
  d->set_subject_id("s-1");
  d->mutable_to()->set_organisation(kService);
  d->set_decision_maker("dsl-1");
  d->set_concern_id("g-1");
  d->add_categories(v1::DATA_CATEGORY_CARED_FOR_HEALTH);
  decline.mutable_personal()->set_reason("sharing would not reduce the risk");
  decline.mutable_personal()->set_notes("discussed with the head teacher");

  v1::RecordDecisionNotToShareRequest for_other = decline;
  for_other.mutable_decision()->set_organisation(kOtherSchool);
  EXPECT_TRUE(
      Is(DeclineToShare(for_other, kSchool), StatusCode::PERMISSION_DENIED));
  v1::RecordDecisionNotToShareRequest unknown = decline;
  unknown.mutable_decision()->set_subject_id("s-unknown");
  EXPECT_TRUE(Is(DeclineToShare(unknown, kSchool), StatusCode::NOT_FOUND));
  v1::RecordDecisionNotToShareRequest no_reason = decline;
  no_reason.mutable_personal()->clear_reason();
  EXPECT_TRUE(Is(DeclineToShare(no_reason, kSchool),
                 StatusCode::INVALID_ARGUMENT, "personal.reason"));

  v1::CommandResponse response;
  ASSERT_TRUE(Ok(DeclineToShare(decline, kSchool, &response)));
  std::vector<v1::RecordedEvent> events =
      Events(domain::ConfidentialSharingStream("s-1", kSchool));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].position(), response.position());
  ASSERT_TRUE(events[0].payload().has_sharing_declined());
  const auto& recorded = events[0].payload().sharing_declined();
  EXPECT_EQ(recorded.organisation(), kSchool);
  EXPECT_EQ(recorded.concern_id(), "g-1");
  EXPECT_EQ(recorded.to().organisation(), kService);
  EXPECT_EQ(events[0].payload().personal().subject_id(), "s-1");
  // The reason is sealed with the rest of the personal part; an auditor's
  // read opens it.
  EXPECT_FALSE(events[0].payload().has_encrypted_personal() &&
               !events[0].payload().has_personal());
  EXPECT_EQ(events[0].payload().personal().reason(),
            "sharing would not reduce the risk");
}

// ---------------------------------------------------------------------------
// Idempotency

TEST_F(DomainFlowsTest, RetriedCommandsAreReplayedEvenWhenTheServerFilledIn) {
  // Sends `request` (with its fixed request id) twice, the clock moving in
  // between: the retry writes nothing and returns the original position.
  auto expect_replay = [&](const std::string& what, auto send) {
    SCOPED_TRACE(what);
    v1::CommandResponse first, again;
    const grpc::Status sent = send(&first);
    ASSERT_TRUE(Ok(sent));
    EXPECT_FALSE(first.replayed());
    clock_.Advance(absl::Minutes(7));
    const uint64_t head = Head();
    ASSERT_TRUE(Ok(send(&again)));
    EXPECT_TRUE(again.replayed());
    EXPECT_EQ(again.position(), first.position());
    EXPECT_EQ(again.stream_version(), first.stream_version());
    EXPECT_EQ(Head(), head);
  };
  auto with_id = [](auto request) {
    request.set_request_id(NewUuid());
    return request;
  };

  v1::PutSubjectRecordRequest put = with_id(v1::PutSubjectRecordRequest());
  *put.mutable_record() = Record("s-1");
  expect_replay("put record", [&](auto* r) { return Put(put, kSchool, r); });

  v1::IdentifyYoungCarerRequest identify =
      with_id(v1::IdentifyYoungCarerRequest());
  identify.mutable_identification()->set_subject_id("s-1");
  identify.mutable_identification()->set_census_code(
      v1::CENSUS_CODE_IDENTIFIED_BY_PARENT);
  expect_replay("identify",
                [&](auto* r) { return Identify(identify, kSchool, r); });

  v1::GrantConsentRequest grant =
      with_id(Consent("c-1", "s-1", kService, {v1::PURPOSE_REFERRAL},
                      {v1::DATA_CATEGORY_IDENTITY}, clock_.Now()));
  expect_replay("grant", [&](auto* r) { return Grant(grant, kSchool, r); });

  v1::RecordDisclosureRequest disclose = with_id(v1::RecordDisclosureRequest());
  *disclose.mutable_disclosure() =
      Disclosure("s-1", kSchool, kService, v1::PURPOSE_REFERRAL,
                 {v1::DATA_CATEGORY_IDENTITY}, "c-1");
  expect_replay("disclosure",
                [&](auto* r) { return Disclose(disclose, kSchool, r); });

  v1::ReferralTransitionRequest submit = with_id(Submit("r-1", "s-1", "c-1"));
  expect_replay("referral submit",
                [&](auto* r) { return Refer(submit, kSchool, r); });

  v1::AgreementCommand draft = with_id(Draft("a-1", Terms()));
  expect_replay("draft", [&](auto* r) { return Agree(draft, kSchool, r); });
  v1::AgreementCommand school_sign = with_id(Sign("a-1"));
  expect_replay("school signs",
                [&](auto* r) { return Agree(school_sign, kSchool, r); });
  v1::AgreementCommand service_sign = with_id(Sign("a-1"));
  expect_replay("service signs",
                [&](auto* r) { return Agree(service_sign, kService, r); });

  v1::CorrespondenceCommand receive =
      with_id(Receive("k-1", "a-1", kService, clock_.Now()));
  expect_replay("receive",
                [&](auto* r) { return Correspond(receive, kSchool, r); });
  v1::CorrespondenceCommand answer = with_id(Answer("k-1"));
  expect_replay("answer",
                [&](auto* r) { return Correspond(answer, kSchool, r); });

  v1::AgreementCommand notice = with_id(GiveNotice("a-1"));
  expect_replay("give notice",
                [&](auto* r) { return Agree(notice, kService, r); });

  v1::SafeguardingCommand raise =
      with_id(Raise("g-1", "s-1", "hungry every morning"));
  expect_replay("raise", [&](auto* r) { return Safeguard(raise, kSchool, r); });
  v1::SafeguardingCommand notify = with_id(NotifyDsl("g-1"));
  expect_replay("notify DSL",
                [&](auto* r) { return Safeguard(notify, kSchool, r); });
  v1::SafeguardingCommand refer = with_id(ReferToSocialCare("g-1", "s-1"));
  expect_replay("refer to social care",
                [&](auto* r) { return Safeguard(refer, kSchool, r); });

  v1::InterventionCommand plan = with_id(
      Plan("i-1", "s-1", v1::INTERVENTION_TYPE_ONE_TO_ONE, clock_.Now()));
  expect_replay("plan", [&](auto* r) { return Intervene(plan, kService, r); });

  v1::RecordDecisionNotToShareRequest decline =
      with_id(v1::RecordDecisionNotToShareRequest());
  decline.mutable_decision()->set_subject_id("s-1");
  decline.mutable_decision()->mutable_to()->set_organisation(kService);
  decline.mutable_decision()->set_decision_maker("dsl-1");
  decline.mutable_personal()->set_reason("not needed");
  expect_replay("decline to share",
                [&](auto* r) { return DeclineToShare(decline, kSchool, r); });

  // The same request id with other content is refused, and writes nothing.
  const uint64_t head = Head();
  v1::AgreementCommand other_notice = notice;
  other_notice.mutable_give_notice()->set_notice_reason(
      v1::NOTICE_REASON_OTHER);
  EXPECT_TRUE(Is(Agree(other_notice, kService), StatusCode::ALREADY_EXISTS,
                 notice.request_id()));
  v1::SafeguardingCommand other_facts = raise;
  other_facts.mutable_personal()->set_facts("other facts");
  EXPECT_TRUE(Is(Safeguard(other_facts, kSchool), StatusCode::ALREADY_EXISTS));
  v1::CorrespondenceCommand other_topic = receive;
  other_topic.mutable_receive()->set_topic_code(v1::CORRESPONDENCE_TOPIC_OTHER);
  EXPECT_TRUE(Is(Correspond(other_topic, kSchool), StatusCode::ALREADY_EXISTS));
  v1::AgreementCommand reused_id = with_id(Sign("a-2"));
  reused_id.set_request_id(school_sign.request_id());
  EXPECT_TRUE(Is(Agree(reused_id, kSchool), StatusCode::ALREADY_EXISTS));
  // Another organisation sending someone else's request id sends its own
  // request: never ALREADY_EXISTS, never the other's position.
  v1::CommandResponse theirs;
  const grpc::Status borrowed = Agree(service_sign, kSchool, &theirs);
  EXPECT_NE(borrowed.error_code(), StatusCode::ALREADY_EXISTS)
      << borrowed.error_message();
  EXPECT_FALSE(theirs.replayed());
  v1::IdentifyYoungCarerRequest other_code = identify;
  other_code.mutable_identification()->set_census_code(
      v1::CENSUS_CODE_NOT_DECLARED);
  EXPECT_TRUE(Is(Identify(other_code, kSchool), StatusCode::ALREADY_EXISTS));
  EXPECT_EQ(Head(), head);

  // A request id must be a UUID.
  v1::AgreementCommand bad_id = Draft("a-3", Terms());
  bad_id.set_request_id("retry-1");
  EXPECT_TRUE(
      Is(Agree(bad_id, kSchool), StatusCode::INVALID_ARGUMENT, "request_id"));
}

// Request ids are a namespace of the caller's organisation: a colleague's
// retry is the same request; another organisation's request with the same id
// is its own, and cannot spend or probe the first.
TEST_F(DomainFlowsTest, RequestIdsAreTheOrganisationsOwn) {
  ASSERT_NO_FATAL_FAILURE(MakeInForce("a-1", Terms(10, true)));
  const std::string id = NewUuid();
  auto send = [&](v1::CorrespondenceCommand command, const std::string& org,
                  const std::string& user, v1::CommandResponse* out) {
    command.set_request_id(id);
    grpc::ClientContext context;
    AsCaller(&context, org, user);
    return correspondence_->Record(&context, command, out);
  };
  // Another organisation spends the id first, on its own command.
  v1::CommandResponse other;
  ASSERT_TRUE(Ok(
      send(Receive("m-2", "a-1", kService, kStart), kSchool, "dsl-1", &other)));
  v1::CommandResponse first;
  ASSERT_TRUE(Ok(send(Receive("m-1", "a-1", kSchool, kStart), kService,
                      "worker-1", &first)));
  EXPECT_FALSE(first.replayed());
  EXPECT_NE(first.position(), other.position());
  // A colleague retries it: the original result.
  const uint64_t head = Head();
  v1::CommandResponse again;
  ASSERT_TRUE(Ok(send(Receive("m-1", "a-1", kSchool, kStart), kService,
                      "worker-2", &again)));
  EXPECT_TRUE(again.replayed());
  EXPECT_EQ(again.position(), first.position());
  EXPECT_EQ(Head(), head);
  // The same id for another command of the organisation: refused, without
  // a log position.
  v1::CommandResponse refused;
  const grpc::Status reused = send(Receive("m-3", "a-1", kSchool, kStart),
                                   kService, "worker-2", &refused);
  EXPECT_TRUE(Is(reused, StatusCode::ALREADY_EXISTS, id));
  EXPECT_FALSE(absl::StrContains(reused.error_message(), "position"))
      << reused.error_message();
  EXPECT_EQ(Head(), head);
}

// A request id reused for a different record is ALREADY_EXISTS, not a
// silent replay (the event holds a salted digest of the record).
TEST_F(DomainFlowsTest, PutRecordRetryWithOtherContentIsRefused) {
  v1::PutSubjectRecordRequest put;
  put.set_request_id(NewUuid());
  *put.mutable_record() = Record("s-1", "First");
  ASSERT_TRUE(Ok(Put(put, kSchool)));
  v1::PutSubjectRecordRequest changed = put;
  *changed.mutable_record() = Record("s-1", "Second");
  v1::CommandResponse response;
  grpc::Status status = Put(changed, kSchool, &response);
  v1::SubjectRecord record;
  ASSERT_TRUE(Ok(GetRecord("s-1", &record)));
  EXPECT_TRUE(Is(status, StatusCode::ALREADY_EXISTS))
      << "replayed=" << response.replayed()
      << ", stored given_name=" << record.given_name();
}

// ---------------------------------------------------------------------------
// Referrals

TEST_F(DomainFlowsTest, ReferralSubmissionIsADisclosureCheckedAgainstConsent) {
  v1::ReferralTransitionRequest submit = Submit("r-1", "s-1", "c-1");
  // No subject record yet.
  EXPECT_TRUE(Is(Refer(submit, kSchool), StatusCode::NOT_FOUND, "s-1"));
  ASSERT_NO_FATAL_FAILURE(AddSubject("s-1"));

  v1::ReferralTransitionRequest bare = submit;
  bare.mutable_submit()->clear_disclosure();
  EXPECT_TRUE(Is(Refer(bare, kSchool), StatusCode::INVALID_ARGUMENT,
                 "submit.disclosure"));

  // A consent to share with another service does not cover this one.
  ASSERT_TRUE(
      Ok(Grant(Consent("c-1", "s-1", "service-other", {v1::PURPOSE_REFERRAL},
                       {v1::DATA_CATEGORY_IDENTITY}, clock_.Now()),
               kSchool)));
  const uint64_t head = Head();
  EXPECT_TRUE(Is(Refer(submit, kSchool), StatusCode::FAILED_PRECONDITION,
                 "recipient service-7 is not named"));
  EXPECT_EQ(Head(), head);
  EXPECT_TRUE(Events("referral-r-1").empty());

  // Varied to cover the service: version 2 covers the submission.
  v1::VaryConsentRequest vary;
  vary.set_request_id(NewUuid());
  vary.mutable_variation()->set_consent_id("c-1");
  *vary.mutable_variation()->mutable_terms() =
      Consent("c-1", "s-1", kService, {v1::PURPOSE_REFERRAL},
              {v1::DATA_CATEGORY_IDENTITY, v1::DATA_CATEGORY_CARING_SITUATION},
              clock_.Now())
          .consent()
          .terms();
  vary.mutable_personal()->set_reason("the family chose service 7");
  ASSERT_TRUE(Ok(Send(consents_.get(), &v1::Consents::Stub::Vary, vary, kSchool,
                      nullptr)));

  v1::CommandResponse response;
  ASSERT_TRUE(Ok(Refer(submit, kSchool, &response)));
  EXPECT_EQ(response.stream_version(), 1u);
  std::vector<v1::RecordedEvent> events = Events("referral-r-1");
  ASSERT_EQ(events.size(), 1u);
  ASSERT_TRUE(events[0].payload().has_referral_submitted());
  const auto& disclosure =
      events[0].payload().referral_submitted().disclosure();
  EXPECT_EQ(disclosure.consent().consent_id(), "c-1");
  EXPECT_EQ(disclosure.consent().consent_version(), 2u);
  EXPECT_EQ(disclosure.to().organisation(), kService);

  v1::GetReferralRequest get;
  get.set_referral_id("r-1");
  v1::Referral referral;
  ASSERT_TRUE(
      Ok(Query(referrals_.get(), &v1::Referrals::Stub::Get, get, &referral)));
  EXPECT_EQ(referral.state(), v1::REFERRAL_STATE_SUBMITTED);
  EXPECT_EQ(referral.service(), kService);
}

// A referral to the young carers' service needs consent: a safeguarding
// basis is only for protecting a child at risk (children's social care).
TEST_F(DomainFlowsTest, ReferralSubmissionCannotUseASafeguardingBasis) {
  ASSERT_NO_FATAL_FAILURE(AddSubject("s-1"));
  v1::ReferralTransitionRequest submit = Submit("r-1", "s-1", "");
  // Neither consent nor safeguarding.
  EXPECT_TRUE(
      Is(Refer(submit, kSchool), StatusCode::FAILED_PRECONDITION, "neither"));
  *submit.mutable_submit()->mutable_disclosure()->mutable_safeguarding() =
      Basis();
  *submit.mutable_personal() = BasisText();
  EXPECT_TRUE(Is(Refer(submit, kSchool), StatusCode::FAILED_PRECONDITION,
                 "PURPOSE_SAFEGUARDING"));
  EXPECT_TRUE(Events("referral-r-1").empty());
}

}  // namespace
}  // namespace ycr::testing
