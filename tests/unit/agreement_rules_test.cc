// Working Together Agreements: the terms a draft or amendment must have, every
// command from every state, the fields the server fills in, and the view's
// questions (in force at a time, review due, parties).

#include "domain/agreement_rules.h"

#include <string>
#include <vector>

#include "common/proto_time.h"
#include "domain/field_checks.h"
#include "gtest/gtest.h"
#include "tests/unit/domain_test_util.h"

namespace ycr::domain {
namespace {

using testing::As;
using testing::ExpectStatus;
using testing::MakeParty;

using State = AgreementView::State;
using v1::EventPayload;

constexpr char kSchool[] = "school-100001";
constexpr char kService[] = "service-7";
constexpr char kStranger[] = "service-8";

const absl::Time kT0 = absl::FromUnixSeconds(1'780'000'000);
const absl::Duration kDay = absl::Hours(24);

v1::AgreementTerms Terms() {
  v1::AgreementTerms terms;
  *terms.mutable_school() = MakeParty(kSchool);
  *terms.mutable_service() = MakeParty(kService);
  terms.set_response_time_days(10);
  terms.set_acknowledgement_allowed(true);
  terms.set_max_promised_days(30);
  terms.set_review_cadence_months(6);
  terms.set_closing_period_days(30);
  return terms;
}

EventPayload Draft(const v1::AgreementTerms& terms = Terms()) {
  EventPayload p;
  p.mutable_agreement_drafted()->set_agreement_id("a-1");
  *p.mutable_agreement_drafted()->mutable_terms() = terms;
  return p;
}

EventPayload Sign(const std::string& party = "") {
  EventPayload p;
  p.mutable_agreement_signed()->set_party(party);
  return p;
}

EventPayload Amend(const v1::AgreementTerms& terms = Terms()) {
  EventPayload p;
  *p.mutable_agreement_amended()->mutable_terms() = terms;
  return p;
}

EventPayload Review(std::optional<absl::Time> at = std::nullopt) {
  EventPayload p;
  p.mutable_agreement_reviewed()->set_review_outcome(
      v1::REVIEW_OUTCOME_CONTINUE);
  if (at.has_value()) {
    *p.mutable_agreement_reviewed()->mutable_reviewed_at() = ToProtoTime(*at);
  }
  return p;
}

EventPayload Notice(const std::string& party = "") {
  EventPayload p;
  p.mutable_agreement_notice_given()->set_notice_reason(
      v1::NOTICE_REASON_FUNDING_ENDED);
  p.mutable_agreement_notice_given()->set_party(party);
  return p;
}

EventPayload Terminate() {
  EventPayload p;
  p.mutable_agreement_terminated();
  return p;
}

// Folds `payload` into `view` as recorded at `at`, at the next version.
void Record(const EventPayload& payload, absl::Time at, AgreementView* view) {
  testing::RecordInto(payload, at, view, ApplyAgreementEvent);
}

// Decides `payload` by `by` at `at`, then folds it. The command must pass.
void Step(EventPayload payload, const std::string& by, absl::Time at,
          AgreementView* view) {
  absl::Status status = DecideAgreementCommand(*view, As(by), at, &payload);
  ASSERT_TRUE(status.ok()) << status;
  Record(payload, at, view);
}

// Drafted at kT0 by the school.
AgreementView Drafted(const v1::AgreementTerms& terms = Terms()) {
  AgreementView view;
  Step(Draft(terms), kSchool, kT0, &view);
  return view;
}

// Signed by the school at kT0 + 1h and the service at kT0 + 2h: in force
// since kT0 + 2h, at version 3.
const absl::Time kInForce = kT0 + absl::Hours(2);
AgreementView InForce(const v1::AgreementTerms& terms = Terms()) {
  AgreementView view = Drafted(terms);
  Step(Sign(), kSchool, kT0 + absl::Hours(1), &view);
  Step(Sign(), kService, kInForce, &view);
  return view;
}

// In force, then notice given by the service at kNotice: the closing period
// (30 days) ends at kClosingEnds.
const absl::Time kNotice = kT0 + 100 * kDay;
const absl::Time kClosingEnds = kNotice + 30 * kDay;
AgreementView Closing() {
  AgreementView view = InForce();
  Step(Notice(), kService, kNotice, &view);
  return view;
}

AgreementView Terminated() {
  AgreementView view = Closing();
  Step(Terminate(), kSchool, kClosingEnds + kDay, &view);
  return view;
}

absl::Status Decide(const AgreementView& view, EventPayload payload,
                    const std::string& by = kSchool, absl::Time now = kT0) {
  return DecideAgreementCommand(view, As(by), now, &payload);
}

// ---- Terms ----

TEST(AgreementTermsTest, CompleteTermsPass) {
  EXPECT_TRUE(ValidateAgreementTerms(Terms(), "terms").ok());
}

TEST(AgreementTermsTest, BothPartiesAreRequired) {
  v1::AgreementTerms terms = Terms();
  terms.clear_school();
  ExpectStatus(ValidateAgreementTerms(terms, "terms"),
               absl::StatusCode::kInvalidArgument, "terms.school: is required");
  terms = Terms();
  terms.clear_service();
  ExpectStatus(ValidateAgreementTerms(terms, "terms"),
               absl::StatusCode::kInvalidArgument,
               "terms.service: is required");
}

TEST(AgreementTermsTest, EachPartyNeedsItsIdentityAndContact) {
  struct Case {
    void (*clear)(v1::Party*);
    const char* field;
  };
  const std::vector<Case> cases = {
      {[](v1::Party* p) { p->set_organisation("bad id"); }, "organisation"},
      {[](v1::Party* p) { p->clear_organisation(); }, "organisation"},
      {[](v1::Party* p) { p->set_name("  "); }, "name: is required"},
      {[](v1::Party* p) { p->clear_address(); }, "address: is required"},
      {[](v1::Party* p) { p->clear_lead_contact(); },
       "lead_contact.name: is required"},
      {[](v1::Party* p) { p->clear_responsibilities(); },
       "responsibilities: at least one"},
      {[](v1::Party* p) { p->add_responsibilities(" "); },
       "responsibilities[]: is required"},
  };
  for (const Case& c : cases) {
    v1::AgreementTerms terms = Terms();
    c.clear(terms.mutable_school());
    ExpectStatus(ValidateAgreementTerms(terms, "t"),
                 absl::StatusCode::kInvalidArgument,
                 std::string("t.school.") + c.field);
    terms = Terms();
    c.clear(terms.mutable_service());
    ExpectStatus(ValidateAgreementTerms(terms, "t"),
                 absl::StatusCode::kInvalidArgument,
                 std::string("t.service.") + c.field);
  }
}

TEST(AgreementTermsTest, PartiesMustDiffer) {
  v1::AgreementTerms terms = Terms();
  terms.mutable_service()->set_organisation(kSchool);
  ExpectStatus(ValidateAgreementTerms(terms, "t"),
               absl::StatusCode::kInvalidArgument,
               "t.service.organisation: the parties must differ");
}

TEST(AgreementTermsTest, FundingNoteIsOptionalButBounded) {
  v1::AgreementTerms terms = Terms();
  terms.set_funding_note("");
  EXPECT_TRUE(ValidateAgreementTerms(terms, "t").ok());
  terms.set_funding_note(std::string(kMaxTextBytes, 'x'));
  EXPECT_TRUE(ValidateAgreementTerms(terms, "t").ok());
  terms.set_funding_note(std::string(kMaxTextBytes + 1, 'x'));
  ExpectStatus(ValidateAgreementTerms(terms, "t"),
               absl::StatusCode::kInvalidArgument, "t.funding_note: at most");
}

TEST(AgreementTermsTest, ResponseTimeIsAtMost366DaysAndZeroMeansDefault) {
  v1::AgreementTerms terms = Terms();
  terms.set_max_promised_days(0);
  for (uint32_t days : {0u, 1u, 14u, 366u}) {
    terms.set_response_time_days(days);
    EXPECT_TRUE(ValidateAgreementTerms(terms, "t").ok()) << days;
  }
  terms.set_response_time_days(367);
  ExpectStatus(ValidateAgreementTerms(terms, "t"),
               absl::StatusCode::kInvalidArgument, "t.response_time_days");
}

TEST(AgreementTermsTest, MaxPromisedDaysOnlyWithAcknowledgement) {
  v1::AgreementTerms terms = Terms();
  terms.set_acknowledgement_allowed(false);
  ExpectStatus(ValidateAgreementTerms(terms, "t"),
               absl::StatusCode::kInvalidArgument,
               "t.max_promised_days: only where acknowledgement_allowed");
  terms.set_max_promised_days(0);
  EXPECT_TRUE(ValidateAgreementTerms(terms, "t").ok());
}

TEST(AgreementTermsTest, MaxPromisedDaysFromTheResponseTimeTo366) {
  v1::AgreementTerms terms = Terms();  // Response time 10.
  terms.set_max_promised_days(9);
  ExpectStatus(ValidateAgreementTerms(terms, "t"),
               absl::StatusCode::kInvalidArgument,
               "t.max_promised_days: from the response time (10)");
  terms.set_max_promised_days(10);
  EXPECT_TRUE(ValidateAgreementTerms(terms, "t").ok());
  terms.set_max_promised_days(366);
  EXPECT_TRUE(ValidateAgreementTerms(terms, "t").ok());
  terms.set_max_promised_days(367);
  ExpectStatus(ValidateAgreementTerms(terms, "t"),
               absl::StatusCode::kInvalidArgument, "t.max_promised_days");
  // An unset response time counts as the default, 14 days.
  terms.set_response_time_days(0);
  terms.set_max_promised_days(13);
  ExpectStatus(ValidateAgreementTerms(terms, "t"),
               absl::StatusCode::kInvalidArgument,
               "t.max_promised_days: from the response time (14)");
  terms.set_max_promised_days(14);
  EXPECT_TRUE(ValidateAgreementTerms(terms, "t").ok());
}

TEST(AgreementTermsTest, ReviewCadenceIsOneTo36Months) {
  v1::AgreementTerms terms = Terms();
  for (uint32_t months : {0u, 37u}) {
    terms.set_review_cadence_months(months);
    ExpectStatus(ValidateAgreementTerms(terms, "t"),
                 absl::StatusCode::kInvalidArgument,
                 "t.review_cadence_months: 1 to 36");
  }
  for (uint32_t months : {1u, 36u}) {
    terms.set_review_cadence_months(months);
    EXPECT_TRUE(ValidateAgreementTerms(terms, "t").ok()) << months;
  }
}

TEST(AgreementTermsTest, ClosingPeriodIsOneTo365Days) {
  v1::AgreementTerms terms = Terms();
  for (uint32_t days : {0u, 366u}) {
    terms.set_closing_period_days(days);
    ExpectStatus(ValidateAgreementTerms(terms, "t"),
                 absl::StatusCode::kInvalidArgument,
                 "t.closing_period_days: 1 to 365");
  }
  for (uint32_t days : {1u, 365u}) {
    terms.set_closing_period_days(days);
    EXPECT_TRUE(ValidateAgreementTerms(terms, "t").ok()) << days;
  }
}

// ---- Draft ----

TEST(AgreementRulesTest, EitherPartyMayDraft) {
  EXPECT_TRUE(Decide(AgreementView(), Draft(), kSchool).ok());
  EXPECT_TRUE(Decide(AgreementView(), Draft(), kService).ok());
}

TEST(AgreementRulesTest, OnlyAPartyMayDraft) {
  ExpectStatus(Decide(AgreementView(), Draft(), kStranger),
               absl::StatusCode::kPermissionDenied,
               "only a party to the agreement may draft it");
}

TEST(AgreementRulesTest, DraftNeedsAnIdAndCompleteTerms) {
  EventPayload draft = Draft();
  draft.mutable_agreement_drafted()->set_agreement_id("a 1");
  ExpectStatus(Decide(AgreementView(), draft),
               absl::StatusCode::kInvalidArgument, "draft.agreement_id");
  draft = Draft();
  draft.mutable_agreement_drafted()->clear_agreement_id();
  ExpectStatus(Decide(AgreementView(), draft),
               absl::StatusCode::kInvalidArgument,
               "draft.agreement_id: is required");
  v1::AgreementTerms terms = Terms();
  terms.set_closing_period_days(0);
  ExpectStatus(Decide(AgreementView(), Draft(terms)),
               absl::StatusCode::kInvalidArgument,
               "draft.terms.closing_period_days");
}

TEST(AgreementRulesTest, DraftingAnExistingAgreementIsRefused) {
  for (const AgreementView& view :
       {Drafted(), InForce(), Closing(), Terminated()}) {
    ExpectStatus(Decide(view, Draft()), absl::StatusCode::kFailedPrecondition,
                 "agreement a-1 already exists (" +
                     AgreementStateName(view.state) + ")");
  }
}

TEST(AgreementRulesTest, DraftFoldsIntoADraftWithDefaultResponseTime) {
  v1::AgreementTerms terms = Terms();
  terms.set_response_time_days(0);
  terms.set_max_promised_days(0);
  AgreementView view = Drafted(terms);
  EXPECT_EQ(view.state, State::kDraft);
  EXPECT_EQ(view.agreement_id, "a-1");
  EXPECT_EQ(view.terms_version, 1u);
  EXPECT_EQ(view.terms.response_time_days(), kDefaultResponseDays);
  EXPECT_EQ(view.terms.school().organisation(), kSchool);
  EXPECT_EQ(view.version, 1u);
  EXPECT_TRUE(view.signed_by.empty());
  EXPECT_FALSE(view.in_force_since.has_value());
}

// ---- Every command but draft needs an agreement and a party ----

TEST(AgreementRulesTest, CommandsOnNoAgreementAreNotFound) {
  for (const EventPayload& p :
       {Sign(), Amend(), Review(), Notice(), Terminate()}) {
    ExpectStatus(Decide(AgreementView(), p), absl::StatusCode::kNotFound,
                 "no such agreement");
  }
}

TEST(AgreementRulesTest, OnlyAPartyMayChangeAnAgreement) {
  const AgreementView draft = Drafted();
  const AgreementView in_force = InForce();
  const AgreementView closing = Closing();
  ExpectStatus(Decide(draft, Sign(), kStranger),
               absl::StatusCode::kPermissionDenied,
               "only a party to agreement a-1 may change it");
  ExpectStatus(Decide(in_force, Amend(), kStranger),
               absl::StatusCode::kPermissionDenied, "only a party");
  ExpectStatus(Decide(in_force, Review(), kStranger, kInForce),
               absl::StatusCode::kPermissionDenied, "only a party");
  ExpectStatus(Decide(in_force, Notice(), kStranger),
               absl::StatusCode::kPermissionDenied, "only a party");
  ExpectStatus(Decide(closing, Terminate(), kStranger, kClosingEnds),
               absl::StatusCode::kPermissionDenied, "only a party");
}

TEST(AgreementRulesTest, NonAgreementCommandIsInvalid) {
  EventPayload p;
  p.mutable_concern_closed();
  ExpectStatus(Decide(InForce(), p), absl::StatusCode::kInvalidArgument,
               "command: is not an agreement command");
}

// ---- Sign ----

TEST(AgreementRulesTest, SigningFillsInTheCallersOrganisation) {
  EventPayload sign = Sign();
  ASSERT_TRUE(DecideAgreementCommand(Drafted(), As(kService), kT0, &sign).ok());
  EXPECT_EQ(sign.agreement_signed().party(), kService);
  sign = Sign(kSchool);
  ASSERT_TRUE(DecideAgreementCommand(Drafted(), As(kSchool), kT0, &sign).ok());
  EXPECT_EQ(sign.agreement_signed().party(), kSchool);
}

TEST(AgreementRulesTest, APartySignsOnlyForItself) {
  ExpectStatus(Decide(Drafted(), Sign(kService), kSchool),
               absl::StatusCode::kPermissionDenied, "sign.party");
}

TEST(AgreementRulesTest, APartySignsOnce) {
  AgreementView view = Drafted();
  Step(Sign(), kSchool, kT0, &view);
  ExpectStatus(Decide(view, Sign(), kSchool),
               absl::StatusCode::kFailedPrecondition,
               "school-100001 has already signed agreement a-1");
  EXPECT_TRUE(Decide(view, Sign(), kService).ok());
}

TEST(AgreementRulesTest, InForceOnceBothHaveSigned) {
  AgreementView view = Drafted();
  Step(Sign(), kService, kT0 + absl::Hours(1), &view);
  EXPECT_EQ(view.state, State::kDraft);
  EXPECT_FALSE(view.in_force_since.has_value());
  Step(Sign(), kSchool, kT0 + absl::Hours(5), &view);
  EXPECT_EQ(view.state, State::kInForce);
  ASSERT_TRUE(view.in_force_since.has_value());
  EXPECT_EQ(*view.in_force_since, kT0 + absl::Hours(5));
  EXPECT_EQ(view.signed_by, (std::vector<std::string>{kService, kSchool}));
  EXPECT_EQ(view.version, 3u);
}

TEST(AgreementRulesTest, OnlyADraftIsSigned) {
  ExpectStatus(Decide(InForce(), Sign()), absl::StatusCode::kFailedPrecondition,
               "cannot sign an agreement that is in force");
  ExpectStatus(Decide(Closing(), Sign()), absl::StatusCode::kFailedPrecondition,
               "cannot sign an agreement that is in its closing period");
  ExpectStatus(Decide(Terminated(), Sign()),
               absl::StatusCode::kFailedPrecondition,
               "cannot sign an agreement that is terminated");
}

// "In force once both have signed the current version": amending a draft
// clears the signatures given to the earlier terms.
TEST(AgreementRulesTest, AmendingADraftNeedsBothToSignTheNewVersion) {
  AgreementView view = Drafted();
  Step(Sign(), kSchool, kT0 + absl::Hours(1), &view);
  v1::AgreementTerms longer = Terms();
  longer.set_response_time_days(30);
  Step(Amend(longer), kService, kT0 + absl::Hours(2), &view);
  Step(Sign(), kService, kT0 + absl::Hours(3), &view);
  EXPECT_EQ(view.terms_version, 2u);
  EXPECT_EQ(view.state, State::kDraft);
  EXPECT_EQ(view.signed_by, std::vector<std::string>{kService});
  EXPECT_FALSE(view.in_force_since.has_value());
  Step(Sign(), kSchool, kT0 + absl::Hours(4), &view);
  EXPECT_EQ(view.state, State::kInForce);
  EXPECT_EQ(view.in_force_since, kT0 + absl::Hours(4));
  EXPECT_EQ(view.terms.response_time_days(), 30u);
}

// Each version of the terms applies from when it took effect: the draft's
// latest terms from before it came into force, each amendment in force from
// when it was recorded.
TEST(AgreementRulesTest, TermsAtAGivenTimeAreThoseInForceThen) {
  AgreementView view = Drafted();
  v1::AgreementTerms draft_amended = Terms();
  draft_amended.set_response_time_days(21);
  Step(Amend(draft_amended), kSchool, kT0 + absl::Hours(1), &view);
  Step(Sign(), kSchool, kT0 + absl::Hours(2), &view);
  Step(Sign(), kService, kT0 + absl::Hours(3), &view);
  v1::AgreementTerms faster = Terms();
  faster.set_response_time_days(7);
  Step(Amend(faster), kService, kT0 + absl::Hours(10), &view);
  v1::AgreementTerms unset = Terms();
  unset.set_response_time_days(0);
  Step(Amend(unset), kSchool, kT0 + absl::Hours(20), &view);
  ASSERT_EQ(view.terms_history.size(), 3u);
  EXPECT_EQ(view.TermsAt(kT0 - absl::Hours(1)).response_time_days(), 21u);
  EXPECT_EQ(view.TermsAt(kT0 + absl::Hours(3)).response_time_days(), 21u);
  EXPECT_EQ(view.TermsAt(kT0 + absl::Hours(10) - absl::Seconds(1))
                .response_time_days(),
            21u);
  EXPECT_EQ(view.TermsAt(kT0 + absl::Hours(10)).response_time_days(), 7u);
  EXPECT_EQ(view.TermsAt(kT0 + absl::Hours(19)).response_time_days(), 7u);
  EXPECT_EQ(view.TermsAt(kT0 + absl::Hours(20)).response_time_days(),
            kDefaultResponseDays);
  EXPECT_EQ(view.TermsAt(absl::InfiniteFuture()).response_time_days(),
            kDefaultResponseDays);
  // A hand-built view without history: its current terms.
  AgreementView bare;
  bare.terms.set_response_time_days(9);
  EXPECT_EQ(bare.TermsAt(kT0).response_time_days(), 9u);
}

TEST(AgreementRulesTest, AmendingADraftLetsTheEarlierSignerSignAgain) {
  AgreementView view = Drafted();
  Step(Sign(), kSchool, kT0 + absl::Hours(1), &view);
  ExpectStatus(Decide(view, Sign(), kSchool),
               absl::StatusCode::kFailedPrecondition, "already signed");
  Step(Amend(), kSchool, kT0 + absl::Hours(2), &view);
  EXPECT_TRUE(view.signed_by.empty());
  EXPECT_TRUE(Decide(view, Sign(), kSchool).ok());
}

// ---- Amend ----

TEST(AgreementRulesTest, DraftAndInForceAgreementsMayBeAmended) {
  EXPECT_TRUE(Decide(Drafted(), Amend(), kService).ok());
  EXPECT_TRUE(Decide(InForce(), Amend(), kSchool).ok());
}

TEST(AgreementRulesTest, ClosingOrTerminatedAgreementsAreNotAmended) {
  ExpectStatus(Decide(Closing(), Amend()),
               absl::StatusCode::kFailedPrecondition,
               "cannot amend an agreement that is in its closing period");
  ExpectStatus(Decide(Terminated(), Amend()),
               absl::StatusCode::kFailedPrecondition,
               "cannot amend an agreement that is terminated");
}

TEST(AgreementRulesTest, AmendmentNeedsCompleteTerms) {
  v1::AgreementTerms terms = Terms();
  terms.set_review_cadence_months(0);
  ExpectStatus(Decide(InForce(), Amend(terms)),
               absl::StatusCode::kInvalidArgument,
               "amend.terms.review_cadence_months");
  EXPECT_TRUE(Decide(InForce(), Amend()).ok());
}

TEST(AgreementRulesTest, AmendmentCannotChangeTheParties) {
  v1::AgreementTerms terms = Terms();
  terms.mutable_school()->set_organisation("school-100002");
  ExpectStatus(Decide(InForce(), Amend(terms)),
               absl::StatusCode::kFailedPrecondition,
               "an amendment cannot change the parties");
  terms = Terms();
  terms.mutable_service()->set_organisation(kStranger);
  ExpectStatus(Decide(InForce(), Amend(terms)),
               absl::StatusCode::kFailedPrecondition,
               "an amendment cannot change the parties");
  // Other details of a party may change.
  terms = Terms();
  terms.mutable_school()->set_name("Renamed school");
  EXPECT_TRUE(Decide(InForce(), Amend(terms)).ok());
}

TEST(AgreementRulesTest, AmendmentKeepsTheAgreementInForceUnderNewTerms) {
  AgreementView view = InForce();
  v1::AgreementTerms terms = Terms();
  terms.set_response_time_days(0);
  terms.set_max_promised_days(0);
  terms.set_review_cadence_months(12);
  Step(Amend(terms), kService, kT0 + 5 * kDay, &view);
  EXPECT_EQ(view.state, State::kInForce);
  EXPECT_EQ(view.terms_version, 2u);
  EXPECT_EQ(view.terms.review_cadence_months(), 12u);
  EXPECT_EQ(view.terms.response_time_days(), kDefaultResponseDays);
  EXPECT_EQ(*view.in_force_since, kInForce);
  EXPECT_EQ(view.signed_by.size(), 2u);
  EXPECT_EQ(view.version, 4u);
}

// ---- Review ----

TEST(AgreementRulesTest, ReviewTimeDefaultsToNow) {
  const absl::Time now = kInForce + 30 * kDay;
  EventPayload review = Review();
  ASSERT_TRUE(
      DecideAgreementCommand(InForce(), As(kSchool), now, &review).ok());
  ASSERT_TRUE(review.agreement_reviewed().has_reviewed_at());
  EXPECT_EQ(FromProtoTime(review.agreement_reviewed().reviewed_at()), now);
}

TEST(AgreementRulesTest, AGivenReviewTimeIsKept) {
  const absl::Time at = kInForce + 10 * kDay;
  EventPayload review = Review(at);
  ASSERT_TRUE(DecideAgreementCommand(InForce(), As(kService),
                                     kInForce + 30 * kDay, &review)
                  .ok());
  EXPECT_EQ(FromProtoTime(review.agreement_reviewed().reviewed_at()), at);
}

// Agreement events have no personal part: what a review decided, and why
// notice was given, are codes, so no free text about a person can land
// where erasure cannot reach it.
TEST(AgreementRulesTest, ReviewNeedsAnOutcomeCode) {
  EventPayload review = Review();
  review.mutable_agreement_reviewed()->set_review_outcome(
      v1::REVIEW_OUTCOME_UNSPECIFIED);
  ExpectStatus(Decide(InForce(), review, kSchool, kInForce),
               absl::StatusCode::kInvalidArgument,
               "review.review_outcome: is required");
  review.mutable_agreement_reviewed()->set_review_outcome(
      static_cast<v1::ReviewOutcome>(42));
  ExpectStatus(Decide(InForce(), review, kSchool, kInForce),
               absl::StatusCode::kInvalidArgument,
               "review.review_outcome: is required");
}

TEST(AgreementRulesTest, ReviewTimeMustBeInRangeAndNotInTheFuture) {
  const absl::Time now = kInForce + 30 * kDay;
  ExpectStatus(Decide(InForce(), Review(now + absl::Seconds(1)), kSchool, now),
               absl::StatusCode::kInvalidArgument,
               "review.reviewed_at: cannot be in the future");
  EventPayload review = Review();
  review.mutable_agreement_reviewed()->mutable_reviewed_at()->set_nanos(-1);
  ExpectStatus(Decide(InForce(), review, kSchool, now),
               absl::StatusCode::kInvalidArgument,
               "review.reviewed_at: out of range");
  EXPECT_TRUE(Decide(InForce(), Review(now), kSchool, now).ok());
}

TEST(AgreementRulesTest, ReviewNotBeforeTheAgreementCameIntoForce) {
  ExpectStatus(Decide(InForce(), Review(kInForce - absl::Seconds(1)), kSchool,
                      kInForce + kDay),
               absl::StatusCode::kInvalidArgument,
               "review.reviewed_at: before the agreement came into force");
  EXPECT_TRUE(
      Decide(InForce(), Review(kInForce), kSchool, kInForce + kDay).ok());
}

TEST(AgreementRulesTest, OnlyAnAgreementInForceOrClosingIsReviewed) {
  ExpectStatus(Decide(Drafted(), Review(), kSchool, kT0 + kDay),
               absl::StatusCode::kFailedPrecondition,
               "cannot review an agreement that is a draft");
  ExpectStatus(Decide(Terminated(), Review(), kSchool, kClosingEnds + 2 * kDay),
               absl::StatusCode::kFailedPrecondition,
               "cannot review an agreement that is terminated");
  EXPECT_TRUE(Decide(Closing(), Review(), kSchool, kNotice + kDay).ok());
}

TEST(AgreementRulesTest, ReviewMovesTheNextReviewDate) {
  AgreementView view = InForce();
  // 2026-05-28 + 6 months.
  ASSERT_TRUE(view.ReviewDueAt().has_value());
  const absl::Time reviewed = absl::FromCivil(
      absl::CivilSecond(2026, 9, 1, 12, 0, 0), absl::UTCTimeZone());
  Step(Review(), kSchool, reviewed, &view);
  ASSERT_TRUE(view.last_reviewed_at.has_value());
  EXPECT_EQ(*view.last_reviewed_at, reviewed);
  EXPECT_EQ(view.ReviewDueAt(),
            absl::FromCivil(absl::CivilSecond(2027, 3, 1, 12, 0, 0),
                            absl::UTCTimeZone()));
}

// A review recorded late (backdated) does not move the last review back, so
// the next review never comes due earlier.
TEST(AgreementRulesTest, ABackdatedReviewDoesNotMoveTheLastReviewBack) {
  AgreementView view = InForce();
  const absl::Time late = kInForce + 60 * kDay;
  const absl::Time early = kInForce + 10 * kDay;
  Step(Review(late), kSchool, late, &view);
  Step(Review(early), kService, late + kDay, &view);
  EXPECT_EQ(view.last_reviewed_at, late);
}

// ---- Notice ----

TEST(AgreementRulesTest, NoticeFillsInThePartyAndTheEndOfTheClosingPeriod) {
  const absl::Time now = kInForce + 50 * kDay;
  EventPayload notice = Notice();
  ASSERT_TRUE(
      DecideAgreementCommand(InForce(), As(kSchool), now, &notice).ok());
  EXPECT_EQ(notice.agreement_notice_given().party(), kSchool);
  EXPECT_EQ(
      FromProtoTime(notice.agreement_notice_given().closing_period_ends_at()),
      now + 30 * kDay);
  // A caller-supplied end of the closing period is overwritten.
  v1::AgreementTerms terms = Terms();
  terms.set_closing_period_days(7);
  notice = Notice(kService);
  *notice.mutable_agreement_notice_given()->mutable_closing_period_ends_at() =
      ToProtoTime(now + absl::Hours(1));
  ASSERT_TRUE(
      DecideAgreementCommand(InForce(terms), As(kService), now, &notice).ok());
  EXPECT_EQ(notice.agreement_notice_given().party(), kService);
  EXPECT_EQ(
      FromProtoTime(notice.agreement_notice_given().closing_period_ends_at()),
      now + 7 * kDay);
}

TEST(AgreementRulesTest, NoticeIsGivenOnlyForTheCallersOrganisation) {
  ExpectStatus(Decide(InForce(), Notice(kSchool), kService),
               absl::StatusCode::kPermissionDenied, "give_notice.party");
}

TEST(AgreementRulesTest, NoticeNeedsAReasonCode) {
  EventPayload notice = Notice();
  notice.mutable_agreement_notice_given()->set_notice_reason(
      v1::NOTICE_REASON_UNSPECIFIED);
  ExpectStatus(Decide(InForce(), notice), absl::StatusCode::kInvalidArgument,
               "give_notice.notice_reason: is required");
  notice.mutable_agreement_notice_given()->set_notice_reason(
      static_cast<v1::NoticeReason>(42));
  ExpectStatus(Decide(InForce(), notice), absl::StatusCode::kInvalidArgument,
               "give_notice.notice_reason: is required");
}

TEST(AgreementRulesTest, NoticeOnlyOnAnAgreementInForce) {
  ExpectStatus(Decide(Drafted(), Notice()),
               absl::StatusCode::kFailedPrecondition,
               "cannot give notice on an agreement that is a draft");
  ExpectStatus(Decide(Closing(), Notice(), kSchool, kNotice + kDay),
               absl::StatusCode::kFailedPrecondition,
               "cannot give notice on an agreement that is in its closing "
               "period");
  ExpectStatus(Decide(Terminated(), Notice()),
               absl::StatusCode::kFailedPrecondition,
               "cannot give notice on an agreement that is terminated");
}

TEST(AgreementRulesTest, NoticeStartsTheClosingPeriod) {
  AgreementView view = Closing();
  EXPECT_EQ(view.state, State::kClosing);
  EXPECT_EQ(view.closing_period_ends_at, kClosingEnds);
  EXPECT_EQ(view.version, 4u);
}

// ---- Terminate ----

TEST(AgreementRulesTest, TerminationOnlyAfterTheClosingPeriodEnds) {
  const AgreementView view = Closing();
  ExpectStatus(
      Decide(view, Terminate(), kSchool, kClosingEnds - absl::Seconds(1)),
      absl::StatusCode::kFailedPrecondition,
      "the closing period runs until 2026-10-05T20:26:40+00:00; terminate "
      "after it "
      "ends");
  EXPECT_TRUE(Decide(view, Terminate(), kSchool, kClosingEnds).ok());
  EXPECT_TRUE(Decide(view, Terminate(), kService, kClosingEnds + kDay).ok());
}

TEST(AgreementRulesTest, TerminationNeedsNoticeFirst) {
  ExpectStatus(Decide(Drafted(), Terminate()),
               absl::StatusCode::kFailedPrecondition,
               "cannot terminate an agreement that is a draft");
  ExpectStatus(Decide(InForce(), Terminate(), kSchool, kT0 + 1000 * kDay),
               absl::StatusCode::kFailedPrecondition,
               "cannot terminate an agreement that is in force");
  ExpectStatus(Decide(Terminated(), Terminate(), kSchool, kT0 + 1000 * kDay),
               absl::StatusCode::kFailedPrecondition,
               "cannot terminate an agreement that is terminated");
}

TEST(AgreementRulesTest, TerminationFolds) {
  AgreementView view = Terminated();
  EXPECT_EQ(view.state, State::kTerminated);
  EXPECT_EQ(view.terminated_at, kClosingEnds + kDay);
  EXPECT_EQ(view.version, 5u);
}

// ---- Fold ----

TEST(AgreementRulesTest, ApplyRefusesOtherEventsAndKeepsTheView) {
  AgreementView view = InForce();
  v1::RecordedEvent recorded;
  recorded.mutable_payload()->mutable_concern_closed();
  recorded.set_stream_version(9);
  ExpectStatus(ApplyAgreementEvent(recorded, &view),
               absl::StatusCode::kInvalidArgument,
               "payload: is not an agreement event");
  EXPECT_EQ(view.version, 3u);
  EXPECT_EQ(view.state, State::kInForce);
}

// ---- View ----

TEST(AgreementViewTest, StateNames) {
  EXPECT_EQ(AgreementStateName(State::kNone), "no agreement");
  EXPECT_EQ(AgreementStateName(State::kDraft), "a draft");
  EXPECT_EQ(AgreementStateName(State::kInForce), "in force");
  EXPECT_EQ(AgreementStateName(State::kClosing), "in its closing period");
  EXPECT_EQ(AgreementStateName(State::kTerminated), "terminated");
}

TEST(AgreementViewTest, InForceFromTheSecondSignatureOn) {
  EXPECT_FALSE(AgreementView().InForceAt(kT0));
  EXPECT_FALSE(Drafted().InForceAt(kT0 + kDay));
  const AgreementView view = InForce();
  EXPECT_FALSE(view.InForceAt(kInForce - absl::Seconds(1)));
  EXPECT_TRUE(view.InForceAt(kInForce));
  EXPECT_TRUE(view.InForceAt(kInForce + 1000 * kDay));
}

TEST(AgreementViewTest, InForceDuringTheClosingPeriodOnly) {
  const AgreementView view = Closing();
  EXPECT_FALSE(view.InForceAt(kInForce - absl::Seconds(1)));
  EXPECT_TRUE(view.InForceAt(kInForce));
  EXPECT_TRUE(view.InForceAt(kClosingEnds - absl::Seconds(1)));
  EXPECT_FALSE(view.InForceAt(kClosingEnds));
}

TEST(AgreementViewTest, TerminatedAgreementIsNotInForceAfterItsEnd) {
  const AgreementView view = Terminated();
  EXPECT_FALSE(view.InForceAt(kClosingEnds));
  EXPECT_FALSE(view.InForceAt(kClosingEnds + 10 * kDay));
}

// A terminated agreement was in force from the second signature until its
// closing period ended.
TEST(AgreementViewTest, TerminatedAgreementWasInForceBeforeItsEnd) {
  const AgreementView view = Terminated();
  EXPECT_TRUE(view.InForceAt(kInForce));
  EXPECT_TRUE(view.InForceAt(kClosingEnds - absl::Seconds(1)));
}

TEST(AgreementViewTest, PartiesAndTheOtherParty) {
  const AgreementView view = Drafted();
  EXPECT_TRUE(view.IsParty(kSchool));
  EXPECT_TRUE(view.IsParty(kService));
  EXPECT_FALSE(view.IsParty(kStranger));
  EXPECT_FALSE(view.IsParty(""));
  EXPECT_EQ(view.OtherParty(kSchool), kService);
  EXPECT_EQ(view.OtherParty(kService), kSchool);
  EXPECT_FALSE(AgreementView().IsParty("x"));
}

TEST(AgreementViewTest, ReviewDueFallsOnTheLastDayOfAShorterMonth) {
  AgreementView view;
  view.state = State::kInForce;
  view.terms = Terms();
  view.terms.set_review_cadence_months(1);
  view.in_force_since = absl::FromCivil(absl::CivilSecond(2027, 1, 31, 9, 0, 0),
                                        absl::UTCTimeZone());
  EXPECT_EQ(view.ReviewDueAt(),
            absl::FromCivil(absl::CivilSecond(2027, 2, 28, 9, 0, 0),
                            absl::UTCTimeZone()));
}

TEST(AgreementViewTest, ReviewDueCadenceMonthsAfterComingIntoForce) {
  EXPECT_FALSE(AgreementView().ReviewDueAt().has_value());
  EXPECT_FALSE(Drafted().ReviewDueAt().has_value());
  AgreementView view;
  view.state = State::kInForce;
  view.terms = Terms();
  view.in_force_since = absl::FromCivil(
      absl::CivilSecond(2026, 9, 15, 10, 30, 0), absl::UTCTimeZone());
  EXPECT_EQ(view.ReviewDueAt(),
            absl::FromCivil(absl::CivilSecond(2027, 3, 15, 10, 30, 0),
                            absl::UTCTimeZone()));
  view.terms.set_review_cadence_months(36);
  EXPECT_EQ(view.ReviewDueAt(),
            absl::FromCivil(absl::CivilSecond(2029, 9, 15, 10, 30, 0),
                            absl::UTCTimeZone()));
  // After a review, from the review.
  view.last_reviewed_at = absl::FromCivil(
      absl::CivilSecond(2027, 1, 2, 0, 0, 0), absl::UTCTimeZone());
  view.terms.set_review_cadence_months(1);
  EXPECT_EQ(view.ReviewDueAt(),
            absl::FromCivil(absl::CivilSecond(2027, 2, 2, 0, 0, 0),
                            absl::UTCTimeZone()));
  // No cadence (terms not validated): no review due.
  view.terms.set_review_cadence_months(0);
  EXPECT_FALSE(view.ReviewDueAt().has_value());
}

}  // namespace
}  // namespace ycr::domain
