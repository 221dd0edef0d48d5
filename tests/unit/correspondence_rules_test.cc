// Correspondence under a Working Together Agreement: receipt only between the
// parties of an agreement in force, when the answer is due (by the terms in
// force at receipt: a later amendment leaves it; an acknowledgement moves
// it), acknowledgement within those terms' limits, and the answer.

#include "domain/correspondence_rules.h"

#include <string>

#include "common/error_details.h"
#include "common/proto_time.h"
#include "gtest/gtest.h"
#include "tests/unit/domain_test_util.h"

namespace ycr::domain {
namespace {

using testing::As;
using testing::ExpectStatus;
using testing::MakeParty;

using State = CorrespondenceView::State;
using v1::EventPayload;

constexpr char kSchool[] = "school-100001";
constexpr char kService[] = "service-7";
constexpr char kStranger[] = "service-8";

const absl::Time kT0 = absl::FromUnixSeconds(1'780'000'000);
const absl::Duration kDay = absl::Hours(24);
// The agreement is in force from kT0; the letter arrives at kReceived and is
// recorded an hour later.
const absl::Time kReceived = kT0 + 10 * kDay;
const absl::Time kNow = kReceived + absl::Hours(1);

// Response time 10 days; acknowledgement allowed, promised at most 30 days
// after receipt.
v1::AgreementTerms Terms() {
  v1::AgreementTerms terms;
  *terms.mutable_school() = MakeParty(kSchool);
  *terms.mutable_service() = MakeParty(kService);
  terms.set_response_time_days(10);
  terms.set_acknowledgement_allowed(true);
  terms.set_max_promised_days(30);
  terms.set_review_cadence_months(12);
  terms.set_closing_period_days(30);
  return terms;
}

void Fold(const EventPayload& payload, absl::Time at, AgreementView* view) {
  v1::RecordedEvent recorded;
  *recorded.mutable_payload() = payload;
  recorded.set_stream_version(view->version + 1);
  *recorded.mutable_recorded_at() = ToProtoTime(at);
  ASSERT_TRUE(ApplyAgreementEvent(recorded, view).ok());
}

AgreementView DraftAgreement(const v1::AgreementTerms& terms = Terms()) {
  AgreementView view;
  EventPayload draft;
  draft.mutable_agreement_drafted()->set_agreement_id("a-1");
  *draft.mutable_agreement_drafted()->mutable_terms() = terms;
  Fold(draft, kT0 - kDay, &view);
  return view;
}

// Drafted, then signed by both: in force from kT0, at version 3.
AgreementView Agreement(const v1::AgreementTerms& terms = Terms()) {
  AgreementView view = DraftAgreement(terms);
  EventPayload sign;
  sign.mutable_agreement_signed()->set_party(kSchool);
  Fold(sign, kT0 - absl::Hours(1), &view);
  sign.mutable_agreement_signed()->set_party(kService);
  Fold(sign, kT0, &view);
  return view;
}

void Amend(const v1::AgreementTerms& terms, absl::Time at,
           AgreementView* view) {
  EventPayload amend;
  *amend.mutable_agreement_amended()->mutable_terms() = terms;
  Fold(amend, at, view);
}

// Notice given at `at` with a closing period ending at `ends`.
void GiveNotice(absl::Time at, absl::Time ends, AgreementView* view) {
  EventPayload notice;
  notice.mutable_agreement_notice_given()->set_party(kService);
  notice.mutable_agreement_notice_given()->set_notice_reason(
      v1::NOTICE_REASON_FUNDING_ENDED);
  *notice.mutable_agreement_notice_given()->mutable_closing_period_ends_at() =
      ToProtoTime(ends);
  Fold(notice, at, view);
}

// A letter from the service to the school, received at kReceived.
EventPayload Receive(const std::string& from = kService) {
  EventPayload p;
  auto* e = p.mutable_correspondence_received();
  e->set_correspondence_id("k-1");
  e->set_agreement_id("a-1");
  e->set_channel(v1::CHANNEL_LETTER);
  e->set_from(from);
  e->set_topic_code(v1::CORRESPONDENCE_TOPIC_SUPPORT);
  *e->mutable_received_at() = ToProtoTime(kReceived);
  return p;
}

EventPayload Acknowledge(absl::Time promised_by) {
  EventPayload p;
  *p.mutable_correspondence_acknowledged()->mutable_promised_by() =
      ToProtoTime(promised_by);
  return p;
}

EventPayload Answer(std::optional<absl::Time> at = std::nullopt) {
  EventPayload p;
  p.mutable_correspondence_answered();
  if (at.has_value()) {
    *p.mutable_correspondence_answered()->mutable_answered_at() =
        ToProtoTime(*at);
  }
  return p;
}

void Record(const EventPayload& payload, CorrespondenceView* view) {
  testing::RecordInto(payload, kNow, view, ApplyCorrespondenceEvent);
}

// Received by the school (decided and folded), awaiting its answer.
CorrespondenceView Received(const AgreementView& agreement = Agreement()) {
  CorrespondenceView view;
  EventPayload receive = Receive();
  absl::Status status =
      DecideCorrespondenceCommand(view, agreement, As(kSchool), kNow, &receive);
  EXPECT_TRUE(status.ok()) << status;
  Record(receive, &view);
  return view;
}

absl::Status Decide(const CorrespondenceView& view,
                    const AgreementView& agreement, EventPayload payload,
                    const std::string& by = kSchool, absl::Time now = kNow) {
  return DecideCorrespondenceCommand(view, agreement, As(by), now, &payload);
}

// ---- Receive ----

TEST(CorrespondenceRulesTest, ReceiptFillsInReceiverAgreementVersionAndDue) {
  EventPayload receive = Receive();
  ASSERT_TRUE(DecideCorrespondenceCommand(CorrespondenceView(), Agreement(),
                                          As(kSchool), kNow, &receive)
                  .ok());
  const auto& e = receive.correspondence_received();
  EXPECT_EQ(e.to(), kSchool);
  EXPECT_EQ(e.agreement_version(), 3u);
  EXPECT_EQ(FromProtoTime(e.due_at()), kReceived + 10 * kDay);
}

TEST(CorrespondenceRulesTest, ServerFilledFieldsOverwriteTheCallers) {
  EventPayload receive = Receive();
  auto* e = receive.mutable_correspondence_received();
  e->set_to(kSchool);
  e->set_agreement_version(99);
  *e->mutable_due_at() = ToProtoTime(kReceived + 100 * kDay);
  AgreementView agreement = Agreement();
  Amend(Terms(), kT0 + kDay, &agreement);
  ASSERT_TRUE(DecideCorrespondenceCommand(CorrespondenceView(), agreement,
                                          As(kSchool), kNow, &receive)
                  .ok());
  EXPECT_EQ(e->to(), kSchool);
  EXPECT_EQ(e->agreement_version(), 4u);
  EXPECT_EQ(FromProtoTime(e->due_at()), kReceived + 10 * kDay);
}

TEST(CorrespondenceRulesTest, DueAfterFourteenDaysWhenTheTermsLeaveItUnset) {
  v1::AgreementTerms terms = Terms();
  terms.set_response_time_days(0);
  terms.set_max_promised_days(0);
  EventPayload receive = Receive();
  ASSERT_TRUE(DecideCorrespondenceCommand(CorrespondenceView(),
                                          Agreement(terms), As(kSchool), kNow,
                                          &receive)
                  .ok());
  EXPECT_EQ(FromProtoTime(receive.correspondence_received().due_at()),
            kReceived + 14 * kDay);
}

TEST(CorrespondenceRulesTest, EitherPartyReceivesFromTheOther) {
  EXPECT_TRUE(
      Decide(CorrespondenceView(), Agreement(), Receive(kSchool), kService)
          .ok());
}

TEST(CorrespondenceRulesTest, ReceiptNamesEachMissingOrBadField) {
  struct Case {
    void (*change)(v1::CorrespondenceReceived*);
    const char* message;
  };
  const Case cases[] = {
      {[](v1::CorrespondenceReceived* e) { e->clear_correspondence_id(); },
       "receive.correspondence_id: is required"},
      {[](v1::CorrespondenceReceived* e) { e->set_correspondence_id("k 1"); },
       "receive.correspondence_id: only letters"},
      {[](v1::CorrespondenceReceived* e) { e->clear_agreement_id(); },
       "receive.agreement_id: is required"},
      {[](v1::CorrespondenceReceived* e) {
         e->set_channel(v1::CHANNEL_UNSPECIFIED);
       },
       "receive.channel: is required"},
      {[](v1::CorrespondenceReceived* e) { e->clear_from(); },
       "receive.from: is required"},
      {[](v1::CorrespondenceReceived* e) {
         e->set_topic_code(v1::CORRESPONDENCE_TOPIC_UNSPECIFIED);
       },
       "receive.topic_code: is required"},
      {[](v1::CorrespondenceReceived* e) {
         e->set_topic_code(static_cast<v1::CorrespondenceTopic>(99));
       },
       "receive.topic_code: is required"},
      {[](v1::CorrespondenceReceived* e) { e->set_subject_id("s 1"); },
       "receive.subject_id"},
      {[](v1::CorrespondenceReceived* e) { e->clear_received_at(); },
       "receive.received_at: is required"},
      {[](v1::CorrespondenceReceived* e) {
         e->mutable_received_at()->set_seconds(253402300800);
       },
       "receive.received_at: out of range"},
  };
  for (const Case& c : cases) {
    EventPayload receive = Receive();
    c.change(receive.mutable_correspondence_received());
    ExpectStatus(Decide(CorrespondenceView(), Agreement(), receive),
                 absl::StatusCode::kInvalidArgument, c.message);
  }
}

TEST(CorrespondenceRulesTest, OptionalFieldsMayBeGiven) {
  EventPayload receive = Receive();
  receive.mutable_correspondence_received()->set_subject_id("s-1");
  receive.mutable_correspondence_received()->set_topic_code(
      v1::CORRESPONDENCE_TOPIC_OTHER);
  receive.mutable_correspondence_received()->set_channel(v1::CHANNEL_PHONE);
  EXPECT_TRUE(Decide(CorrespondenceView(), Agreement(), receive).ok());
}

TEST(CorrespondenceRulesTest, ReceiptCannotBeInTheFuture) {
  ExpectStatus(Decide(CorrespondenceView(), Agreement(), Receive(), kSchool,
                      kReceived - absl::Seconds(1)),
               absl::StatusCode::kInvalidArgument,
               "receive.received_at: cannot be in the future");
  EXPECT_TRUE(
      Decide(CorrespondenceView(), Agreement(), Receive(), kSchool, kReceived)
          .ok());
}

TEST(CorrespondenceRulesTest, ReceivingTwiceIsRefused) {
  ExpectStatus(Decide(Received(), Agreement(), Receive()),
               absl::StatusCode::kFailedPrecondition,
               "correspondence k-1 is already recorded");
}

// The agreement is cited, not addressed: FAILED_PRECONDITION
// REFERENCE_NOT_FOUND naming it.
TEST(CorrespondenceRulesTest, NoAgreementIsAMissingReference) {
  const absl::Status status =
      Decide(CorrespondenceView(), AgreementView(), Receive());
  ExpectStatus(status, absl::StatusCode::kFailedPrecondition,
               "receive.agreement_id: agreement a-1 does not exist");
  const ErrorDetails details = DetailsOf(status);
  EXPECT_EQ(details.reason, reason::kReferenceNotFound);
  ASSERT_EQ(details.precondition_violations.size(), 1u);
  EXPECT_EQ(details.precondition_violations[0].type, "AGREEMENT");
  EXPECT_EQ(details.precondition_violations[0].subject, "agreement_id/a-1");
}

TEST(CorrespondenceRulesTest, TheReceiverIsTheCaller) {
  EventPayload receive = Receive();
  receive.mutable_correspondence_received()->set_to(kService);
  ExpectStatus(Decide(CorrespondenceView(), Agreement(), receive),
               absl::StatusCode::kPermissionDenied, "receive.to");
}

TEST(CorrespondenceRulesTest, OnlyBetweenThePartiesOfTheAgreement) {
  // A caller that is not a party: refused as another organisation's
  // agreement, not as a broken precondition.
  ExpectStatus(
      Decide(CorrespondenceView(), Agreement(), Receive(kSchool), kStranger),
      absl::StatusCode::kPermissionDenied,
      "correspondence rule: only a party to agreement a-1 may record "
      "correspondence under it; the caller acts for service-8");
  // A sender that is not the other party.
  ExpectStatus(Decide(CorrespondenceView(), Agreement(), Receive(kStranger)),
               absl::StatusCode::kFailedPrecondition,
               "no agreement in force between school-100001 and service-8");
  // A party writing to itself.
  ExpectStatus(Decide(CorrespondenceView(), Agreement(), Receive(kSchool)),
               absl::StatusCode::kFailedPrecondition,
               "no agreement in force between school-100001 and school-100001");
}

TEST(CorrespondenceRulesTest, OnlyUnderAnAgreementInForceAtReceipt) {
  ExpectStatus(Decide(CorrespondenceView(), DraftAgreement(), Receive()),
               absl::StatusCode::kFailedPrecondition,
               "(agreement a-1 is a draft)");
  // Received before the agreement came into force.
  EventPayload early = Receive();
  *early.mutable_correspondence_received()->mutable_received_at() =
      ToProtoTime(kT0 - absl::Seconds(1));
  ExpectStatus(Decide(CorrespondenceView(), Agreement(), early),
               absl::StatusCode::kFailedPrecondition,
               "no agreement in force between school-100001 and service-7 at "
               "2026-05-28T20:26:39+00:00");
  *early.mutable_correspondence_received()->mutable_received_at() =
      ToProtoTime(kT0);
  EXPECT_TRUE(Decide(CorrespondenceView(), Agreement(), early).ok());
}

TEST(CorrespondenceRulesTest, InForceUntilTheClosingPeriodEnds) {
  AgreementView agreement = Agreement();
  const absl::Time ends = kReceived + absl::Seconds(1);
  GiveNotice(kT0 + kDay, ends, &agreement);
  EXPECT_TRUE(Decide(CorrespondenceView(), agreement, Receive()).ok());
  EventPayload late = Receive();
  *late.mutable_correspondence_received()->mutable_received_at() =
      ToProtoTime(ends);
  ExpectStatus(Decide(CorrespondenceView(), agreement, late),
               absl::StatusCode::kFailedPrecondition,
               "(agreement a-1 is in its closing period)");
}

// A letter received while the agreement was in force can be recorded after
// the agreement is terminated.
TEST(CorrespondenceRulesTest, ReceivedWhileInForceIsRecordedAfterTermination) {
  AgreementView agreement = Agreement();
  const absl::Time ends = kReceived + absl::Minutes(30);
  GiveNotice(kT0 + kDay, ends, &agreement);
  EventPayload terminate;
  terminate.mutable_agreement_terminated();
  Fold(terminate, ends, &agreement);
  ASSERT_EQ(agreement.state, AgreementView::State::kTerminated);
  absl::Status status = Decide(CorrespondenceView(), agreement, Receive());
  EXPECT_TRUE(status.ok()) << status;
}

// ---- Commands on recorded correspondence ----

TEST(CorrespondenceRulesTest, CommandsOnNoCorrespondenceAreNotFound) {
  for (const EventPayload& p : {Acknowledge(kNow + kDay), Answer()}) {
    ExpectStatus(Decide(CorrespondenceView(), Agreement(), p),
                 absl::StatusCode::kNotFound, "no such correspondence");
  }
}

TEST(CorrespondenceRulesTest, OnlyTheReceiverAcknowledgesOrAnswers) {
  for (const EventPayload& p : {Acknowledge(kNow + kDay), Answer()}) {
    ExpectStatus(Decide(Received(), Agreement(), p, kService),
                 absl::StatusCode::kPermissionDenied,
                 "only the receiving party");
    ExpectStatus(Decide(Received(), Agreement(), p, kStranger),
                 absl::StatusCode::kPermissionDenied,
                 "the caller acts for service-8");
  }
}

TEST(CorrespondenceRulesTest, NonCorrespondenceCommandIsInvalid) {
  EventPayload p;
  p.mutable_agreement_terminated();
  ExpectStatus(Decide(Received(), Agreement(), p),
               absl::StatusCode::kInvalidArgument,
               "command: is not a correspondence command");
}

// ---- Acknowledge ----

TEST(CorrespondenceRulesTest, AcknowledgementWithAPromisedDate) {
  EXPECT_TRUE(
      Decide(Received(), Agreement(), Acknowledge(kReceived + 20 * kDay)).ok());
}

TEST(CorrespondenceRulesTest, AcknowledgementNeedsAPromisedDate) {
  EventPayload ack;
  ack.mutable_correspondence_acknowledged();
  ExpectStatus(Decide(Received(), Agreement(), ack),
               absl::StatusCode::kInvalidArgument,
               "acknowledge.promised_by: is required");
}

TEST(CorrespondenceRulesTest, AcknowledgementOnlyWhereTheAgreementAllowsIt) {
  v1::AgreementTerms terms = Terms();
  terms.set_acknowledgement_allowed(false);
  terms.set_max_promised_days(0);
  const AgreementView agreement = Agreement(terms);
  ExpectStatus(Decide(Received(agreement), agreement, Acknowledge(kNow + kDay)),
               absl::StatusCode::kFailedPrecondition,
               "agreement a-1 does not allow acknowledgement with a timeline");
}

TEST(CorrespondenceRulesTest, AcknowledgementWithinTheResponseTime) {
  const absl::Time due = kReceived + 10 * kDay;
  ExpectStatus(Decide(Received(), Agreement(), Acknowledge(due + 5 * kDay),
                      kSchool, due + absl::Seconds(1)),
               absl::StatusCode::kFailedPrecondition,
               "an acknowledgement is due within the response time, which "
               "ended at 2026-06-17T20:26:40+00:00");
  EXPECT_TRUE(
      Decide(Received(), Agreement(), Acknowledge(due + 5 * kDay), kSchool, due)
          .ok());
}

TEST(CorrespondenceRulesTest, PromisedDateMustBeInTheFuture) {
  ExpectStatus(Decide(Received(), Agreement(), Acknowledge(kNow)),
               absl::StatusCode::kInvalidArgument,
               "acknowledge.promised_by: must be in the future");
  ExpectStatus(
      Decide(Received(), Agreement(), Acknowledge(kNow - absl::Seconds(1))),
      absl::StatusCode::kInvalidArgument,
      "acknowledge.promised_by: must be in the future");
  EXPECT_TRUE(
      Decide(Received(), Agreement(), Acknowledge(kNow + absl::Seconds(1)))
          .ok());
}

TEST(CorrespondenceRulesTest, PromisedDateWithinTheAgreementsLimit) {
  const absl::Time limit = kReceived + 30 * kDay;
  ExpectStatus(
      Decide(Received(), Agreement(), Acknowledge(limit + absl::Seconds(1))),
      absl::StatusCode::kFailedPrecondition,
      "agreement a-1 lets a promised date be at most 30 days after receipt");
  EXPECT_TRUE(Decide(Received(), Agreement(), Acknowledge(limit)).ok());
}

TEST(CorrespondenceRulesTest, NoLimitWhenMaxPromisedDaysIsUnset) {
  v1::AgreementTerms terms = Terms();
  terms.set_max_promised_days(0);
  const AgreementView agreement = Agreement(terms);
  EXPECT_TRUE(Decide(Received(agreement), agreement,
                     Acknowledge(kReceived + 365 * kDay))
                  .ok());
}

TEST(CorrespondenceRulesTest, AcknowledgedOnceAndNotOnceAnswered) {
  CorrespondenceView view = Received();
  Record(Acknowledge(kReceived + 20 * kDay), &view);
  ExpectStatus(Decide(view, Agreement(), Acknowledge(kReceived + 25 * kDay)),
               absl::StatusCode::kFailedPrecondition,
               "cannot acknowledge correspondence that is already "
               "acknowledged");
  view = Received();
  Record(Answer(kNow), &view);
  ExpectStatus(Decide(view, Agreement(), Acknowledge(kReceived + 25 * kDay)),
               absl::StatusCode::kFailedPrecondition,
               "cannot acknowledge correspondence that is answered");
}

TEST(CorrespondenceRulesTest, AcknowledgementFollowsTheTermsInForceAtReceipt) {
  // Amended after receipt: the response time drops to 5 days, the latest
  // promised date to 8 days, and acknowledgement is no longer allowed. The
  // letter received before keeps the terms it arrived under.
  AgreementView agreement = Agreement();
  const CorrespondenceView view = Received(agreement);
  v1::AgreementTerms shorter = Terms();
  shorter.set_response_time_days(5);
  shorter.set_max_promised_days(8);
  Amend(shorter, kNow + kDay, &agreement);
  const absl::Time now = kReceived + 6 * kDay;
  EXPECT_TRUE(
      Decide(view, agreement, Acknowledge(kReceived + 30 * kDay), kSchool, now)
          .ok());
  ExpectStatus(
      Decide(view, agreement, Acknowledge(kReceived + 31 * kDay), kSchool, now),
      absl::StatusCode::kFailedPrecondition, "at most 30 days");
  v1::AgreementTerms no_acknowledgement = Terms();
  no_acknowledgement.set_acknowledgement_allowed(false);
  no_acknowledgement.set_max_promised_days(0);
  Amend(no_acknowledgement, kNow + 2 * kDay, &agreement);
  EXPECT_TRUE(
      Decide(view, agreement, Acknowledge(kReceived + 20 * kDay), kSchool, now)
          .ok());

  // A letter received after an amendment follows the amended terms.
  AgreementView amended = Agreement();
  Amend(shorter, kReceived - kDay, &amended);
  const CorrespondenceView later = Received(amended);
  ExpectStatus(Decide(later, amended, Acknowledge(now + kDay), kSchool, now),
               absl::StatusCode::kFailedPrecondition,
               "which ended at 2026-06-12T20:26:40+00:00");
  ExpectStatus(Decide(later, amended, Acknowledge(kReceived + 9 * kDay),
                      kSchool, kReceived + 4 * kDay),
               absl::StatusCode::kFailedPrecondition, "at most 8 days");
}

// ---- Answer ----

TEST(CorrespondenceRulesTest, AnswerTimeDefaultsToNow) {
  EventPayload answer = Answer();
  ASSERT_TRUE(DecideCorrespondenceCommand(Received(), Agreement(), As(kSchool),
                                          kNow + kDay, &answer)
                  .ok());
  ASSERT_TRUE(answer.correspondence_answered().has_answered_at());
  EXPECT_EQ(FromProtoTime(answer.correspondence_answered().answered_at()),
            kNow + kDay);
}

TEST(CorrespondenceRulesTest, AGivenAnswerTimeIsKept) {
  EventPayload answer = Answer(kReceived);
  ASSERT_TRUE(DecideCorrespondenceCommand(Received(), Agreement(), As(kSchool),
                                          kNow + kDay, &answer)
                  .ok());
  EXPECT_EQ(FromProtoTime(answer.correspondence_answered().answered_at()),
            kReceived);
}

TEST(CorrespondenceRulesTest, AnswerTimeBetweenReceiptAndNow) {
  ExpectStatus(
      Decide(Received(), Agreement(), Answer(kReceived - absl::Seconds(1))),
      absl::StatusCode::kInvalidArgument,
      "answer.answered_at: between receipt and now");
  ExpectStatus(Decide(Received(), Agreement(), Answer(kNow + absl::Seconds(1))),
               absl::StatusCode::kInvalidArgument,
               "answer.answered_at: between receipt and now");
  EventPayload answer = Answer(kNow);
  answer.mutable_correspondence_answered()->mutable_answered_at()->set_nanos(
      1'000'000'000);
  ExpectStatus(Decide(Received(), Agreement(), answer),
               absl::StatusCode::kInvalidArgument,
               "answer.answered_at: out of range");
}

TEST(CorrespondenceRulesTest, AcknowledgedCorrespondenceIsAnswered) {
  CorrespondenceView view = Received();
  Record(Acknowledge(kReceived + 20 * kDay), &view);
  EXPECT_TRUE(Decide(view, Agreement(), Answer()).ok());
}

TEST(CorrespondenceRulesTest, LateAnswerIsStillRecorded) {
  EXPECT_TRUE(
      Decide(Received(), Agreement(), Answer(), kSchool, kNow + 100 * kDay)
          .ok());
}

TEST(CorrespondenceRulesTest, AnsweredOnce) {
  CorrespondenceView view = Received();
  Record(Answer(kNow), &view);
  ExpectStatus(Decide(view, Agreement(), Answer()),
               absl::StatusCode::kFailedPrecondition,
               "correspondence rule: it is already answered");
}

// ---- Due date and fold ----

TEST(CorrespondenceRulesTest, AnswerDueAfterTheResponseTime) {
  EXPECT_EQ(AnswerDueAt(Received(), Agreement()), kReceived + 10 * kDay);
}

TEST(CorrespondenceRulesTest, AnAmendmentKeepsEarlierLettersDueDates) {
  // Received under a 10-day response time; the agreement is then amended to
  // 7 days, then to 20, then to the default: the letter stays due on day 10.
  AgreementView agreement = Agreement();
  const CorrespondenceView view = Received(agreement);
  for (uint32_t days : {7u, 20u, 0u}) {
    v1::AgreementTerms amended = Terms();
    amended.set_response_time_days(days);
    amended.set_max_promised_days(0);
    Amend(amended, kNow + kDay * (days + 1), &agreement);
    EXPECT_EQ(AnswerDueAt(view, agreement), kReceived + 10 * kDay) << days;
  }
  EXPECT_EQ(FromProtoTime(view.received.due_at()), kReceived + 10 * kDay);
}

TEST(CorrespondenceRulesTest, AnAmendmentAppliesToLettersReceivedAfterIt) {
  AgreementView agreement = Agreement();
  v1::AgreementTerms faster = Terms();
  faster.set_response_time_days(7);
  Amend(faster, kReceived - absl::Seconds(1), &agreement);
  const CorrespondenceView view = Received(agreement);
  EXPECT_EQ(FromProtoTime(view.received.due_at()), kReceived + 7 * kDay);
  EXPECT_EQ(AnswerDueAt(view, agreement), kReceived + 7 * kDay);
}

TEST(CorrespondenceRulesTest, ALetterRecordedLateIsDueByTheTermsAtReceipt) {
  // Received at kReceived, amended a minute later, recorded an hour later:
  // due by the terms in force when it arrived, not those when recorded.
  AgreementView agreement = Agreement();
  v1::AgreementTerms faster = Terms();
  faster.set_response_time_days(7);
  Amend(faster, kReceived + absl::Minutes(1), &agreement);
  const CorrespondenceView view = Received(agreement);
  EXPECT_EQ(FromProtoTime(view.received.due_at()), kReceived + 10 * kDay);
  EXPECT_EQ(view.received.agreement_version(), 4u);
  EXPECT_EQ(AnswerDueAt(view, agreement), kReceived + 10 * kDay);
}

TEST(CorrespondenceRulesTest, AViewWithoutADueDateUsesTheTermsAtReceipt) {
  AgreementView agreement = Agreement();
  v1::AgreementTerms slower = Terms();
  slower.set_response_time_days(20);
  Amend(slower, kReceived + kDay, &agreement);
  CorrespondenceView view;
  *view.received.mutable_received_at() = ToProtoTime(kReceived);
  EXPECT_EQ(AnswerDueAt(view, agreement), kReceived + 10 * kDay);
  *view.received.mutable_received_at() = ToProtoTime(kReceived + 2 * kDay);
  EXPECT_EQ(AnswerDueAt(view, agreement), kReceived + 22 * kDay);
}

TEST(CorrespondenceRulesTest, UnsetResponseTimeInAHandBuiltViewIsTheDefault) {
  AgreementView agreement;
  CorrespondenceView view;
  *view.received.mutable_received_at() = ToProtoTime(kReceived);
  EXPECT_EQ(AnswerDueAt(view, agreement), kReceived + 14 * kDay);
}

TEST(CorrespondenceRulesTest, AcknowledgementMovesTheDueDateToThePromise) {
  CorrespondenceView view = Received();
  Record(Acknowledge(kReceived + 25 * kDay), &view);
  EXPECT_EQ(AnswerDueAt(view, Agreement()), kReceived + 25 * kDay);
}

TEST(CorrespondenceRulesTest, FoldFollowsTheStates) {
  CorrespondenceView view = Received();
  EXPECT_EQ(view.state, State::kAwaitingAnswer);
  EXPECT_EQ(view.received.to(), kSchool);
  EXPECT_EQ(view.received.correspondence_id(), "k-1");
  EXPECT_EQ(view.version, 1u);
  EXPECT_FALSE(view.promised_by.has_value());
  Record(Acknowledge(kReceived + 25 * kDay), &view);
  EXPECT_EQ(view.state, State::kAcknowledged);
  EXPECT_EQ(view.promised_by, kReceived + 25 * kDay);
  EXPECT_EQ(view.version, 2u);
  Record(Answer(kNow + kDay), &view);
  EXPECT_EQ(view.state, State::kAnswered);
  EXPECT_EQ(view.answered_at, kNow + kDay);
  EXPECT_EQ(view.version, 3u);
}

TEST(CorrespondenceRulesTest, ApplyRefusesOtherEvents) {
  CorrespondenceView view = Received();
  v1::RecordedEvent recorded;
  recorded.mutable_payload()->mutable_agreement_terminated();
  recorded.set_stream_version(7);
  ExpectStatus(ApplyCorrespondenceEvent(recorded, &view),
               absl::StatusCode::kInvalidArgument,
               "payload: is not a correspondence event");
  EXPECT_EQ(view.version, 1u);
  EXPECT_EQ(view.state, State::kAwaitingAnswer);
}

}  // namespace
}  // namespace ycr::domain
