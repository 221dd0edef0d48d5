// Safeguarding concerns: raising needs the facts, only the raising
// organisation records later steps, a referral to children's social care is a
// disclosure about the concern's subject for safeguarding, and a closed
// concern takes no further steps.

#include "domain/safeguarding_rules.h"

#include <string>

#include "absl/strings/match.h"
#include "common/proto_time.h"
#include "gtest/gtest.h"
#include "tests/unit/domain_test_util.h"

namespace ycr::domain {
namespace {

using testing::As;
using testing::ExpectStatus;

using State = ConcernView::State;
using v1::EventPayload;

constexpr char kSchool[] = "school-100001";
constexpr char kService[] = "service-7";
constexpr char kSocialCare[] = "la-802";

const absl::Time kT0 = absl::FromUnixSeconds(1'780'000'000);
const absl::Time kNow = kT0 + absl::Hours(3);

EventPayload Raise() {
  EventPayload p;
  p.mutable_concern_raised()->set_concern_id("g-1");
  p.mutable_concern_raised()->set_subject_id("s-1");
  p.mutable_personal()->set_facts("bruise on the left arm, seen at 9:10");
  return p;
}

EventPayload NotifyDsl(std::optional<absl::Time> at = std::nullopt) {
  EventPayload p;
  p.mutable_dsl_notified()->set_dsl("dsl-1");
  if (at.has_value()) {
    *p.mutable_dsl_notified()->mutable_notified_at() = ToProtoTime(*at);
  }
  return p;
}

// Shared with children's social care without consent.
v1::DisclosureRecorded Disclosure() {
  v1::DisclosureRecorded d;
  d.set_disclosure_id("d-1");
  d.set_subject_id("s-1");
  d.mutable_from()->set_organisation(kSchool);
  d.mutable_to()->set_organisation(kSocialCare);
  d.add_categories(v1::DATA_CATEGORY_IDENTITY);
  d.add_categories(v1::DATA_CATEGORY_CARING_SITUATION);
  d.set_purpose(v1::PURPOSE_SAFEGUARDING);
  auto* b = d.mutable_safeguarding();
  b->set_lawful_basis("dpa2018-sch1-para18");
  b->set_decision_maker("dsl-1");
  b->set_family_told(false);
  return d;
}

// The basis's risk statement and why the family is not told, in the
// event's personal part.
v1::PersonalData BasisText() {
  v1::PersonalData personal;
  personal.set_risk_statement("risk of significant harm");
  personal.set_not_told_reason("telling would increase the risk");
  return personal;
}

EventPayload Refer(const v1::DisclosureRecorded& d = Disclosure(),
                   const v1::PersonalData& personal = BasisText()) {
  EventPayload p;
  *p.mutable_social_care_referral_made()->mutable_disclosure() = d;
  p.mutable_social_care_referral_made()->set_reference("LA-REF-1");
  *p.mutable_personal() = personal;
  return p;
}

EventPayload Close() {
  EventPayload p;
  p.mutable_concern_closed();
  p.mutable_personal()->set_outcome("referred; no further action");
  return p;
}

void Record(const EventPayload& payload, ConcernView* view) {
  testing::RecordInto(payload, kNow, view, ApplySafeguardingEvent);
}

// Raised by the school (decided, so its organisation is filled in).
ConcernView Open() {
  ConcernView view;
  EventPayload raise = Raise();
  absl::Status status =
      DecideSafeguardingCommand(view, As(kSchool), kT0, &raise);
  EXPECT_TRUE(status.ok()) << status;
  Record(raise, &view);
  return view;
}

ConcernView Closed() {
  ConcernView view = Open();
  Record(Close(), &view);
  return view;
}

absl::Status Decide(const ConcernView& view, EventPayload payload,
                    const std::string& by = kSchool, absl::Time now = kNow) {
  return DecideSafeguardingCommand(view, As(by), now, &payload);
}

// ---- Raise ----

TEST(SafeguardingRulesTest, RaisingFillsInTheCallersOrganisation) {
  EventPayload raise = Raise();
  ASSERT_TRUE(
      DecideSafeguardingCommand(ConcernView(), As(kService), kNow, &raise)
          .ok());
  EXPECT_EQ(raise.concern_raised().organisation(), kService);
  raise = Raise();
  raise.mutable_concern_raised()->set_organisation(kSchool);
  ASSERT_TRUE(
      DecideSafeguardingCommand(ConcernView(), As(kSchool), kNow, &raise).ok());
  EXPECT_EQ(raise.concern_raised().organisation(), kSchool);
}

TEST(SafeguardingRulesTest, ACallerRaisesOnlyForItsOwnOrganisation) {
  EventPayload raise = Raise();
  raise.mutable_concern_raised()->set_organisation(kService);
  ExpectStatus(Decide(ConcernView(), raise, kSchool),
               absl::StatusCode::kPermissionDenied, "raise.organisation");
}

TEST(SafeguardingRulesTest, RaisingNeedsIdsAndTheFacts) {
  EventPayload raise = Raise();
  raise.mutable_concern_raised()->clear_concern_id();
  ExpectStatus(Decide(ConcernView(), raise), absl::StatusCode::kInvalidArgument,
               "raise.concern_id: is required");
  raise = Raise();
  raise.mutable_concern_raised()->set_subject_id("s 1");
  ExpectStatus(Decide(ConcernView(), raise), absl::StatusCode::kInvalidArgument,
               "raise.subject_id");
  raise = Raise();
  raise.mutable_personal()->set_facts(" \n");
  ExpectStatus(Decide(ConcernView(), raise), absl::StatusCode::kInvalidArgument,
               "personal.facts: is required (what was seen or heard, as "
               "facts)");
  // The child's words alone are not the facts.
  raise = Raise();
  raise.mutable_personal()->clear_facts();
  raise.mutable_personal()->set_childs_words("it hurts");
  ExpectStatus(Decide(ConcernView(), raise), absl::StatusCode::kInvalidArgument,
               "personal.facts: is required");
  raise = Raise();
  raise.clear_personal();
  ExpectStatus(Decide(ConcernView(), raise), absl::StatusCode::kInvalidArgument,
               "personal.facts: is required");
  raise = Raise();
  raise.mutable_personal()->set_facts(std::string(16 * 1024 + 1, 'f'));
  ExpectStatus(Decide(ConcernView(), raise), absl::StatusCode::kInvalidArgument,
               "personal.facts: at most");
}

TEST(SafeguardingRulesTest, ObservedTimeIsOptionalButNotInTheFuture) {
  EventPayload raise = Raise();
  *raise.mutable_concern_raised()->mutable_observed_at() = ToProtoTime(kNow);
  EXPECT_TRUE(Decide(ConcernView(), raise).ok());
  *raise.mutable_concern_raised()->mutable_observed_at() =
      ToProtoTime(kNow + absl::Seconds(1));
  ExpectStatus(Decide(ConcernView(), raise), absl::StatusCode::kInvalidArgument,
               "raise.observed_at: cannot be in the future");
  raise.mutable_concern_raised()->mutable_observed_at()->set_nanos(-5);
  ExpectStatus(Decide(ConcernView(), raise), absl::StatusCode::kInvalidArgument,
               "raise.observed_at: out of range");
}

TEST(SafeguardingRulesTest, RaisingTwiceIsRefused) {
  ExpectStatus(Decide(Open(), Raise()), absl::StatusCode::kFailedPrecondition,
               "concern g-1 is already raised");
  ExpectStatus(Decide(Closed(), Raise()), absl::StatusCode::kFailedPrecondition,
               "concern g-1 is already raised");
}

// ---- Later steps ----

TEST(SafeguardingRulesTest, StepsOnNoConcernAreNotFound) {
  for (const EventPayload& p : {NotifyDsl(), Refer(), Close()}) {
    ExpectStatus(Decide(ConcernView(), p), absl::StatusCode::kNotFound,
                 "does not exist");
  }
}

// Another organisation's concern answers exactly as a missing one, naming
// no one: its existence is confidential.
TEST(SafeguardingRulesTest, OnlyTheRaisingOrganisationRecordsLaterSteps) {
  v1::DisclosureRecorded from_service = Disclosure();
  from_service.mutable_from()->set_organisation(kService);
  for (const EventPayload& p : {NotifyDsl(), Refer(from_service), Close()}) {
    const absl::Status hidden = Decide(Open(), p, kService);
    EXPECT_EQ(hidden.code(), absl::StatusCode::kNotFound) << hidden;
    EXPECT_EQ(hidden.message(), "safeguarding g-1 does not exist");
    EXPECT_FALSE(absl::StrContains(hidden.message(), "school-100001"))
        << hidden;
  }
}

TEST(SafeguardingRulesTest, NonSafeguardingCommandIsInvalid) {
  EventPayload p;
  p.mutable_intervention_ended();
  ExpectStatus(Decide(Open(), p), absl::StatusCode::kInvalidArgument,
               "command: is not a safeguarding command");
}

// ---- DSL ----

TEST(SafeguardingRulesTest, DslNotifiedNowUnlessGiven) {
  EventPayload notify = NotifyDsl();
  ASSERT_TRUE(
      DecideSafeguardingCommand(Open(), As(kSchool), kNow, &notify).ok());
  ASSERT_TRUE(notify.dsl_notified().has_notified_at());
  EXPECT_EQ(FromProtoTime(notify.dsl_notified().notified_at()), kNow);
  notify = NotifyDsl(kT0 + absl::Minutes(5));
  ASSERT_TRUE(
      DecideSafeguardingCommand(Open(), As(kSchool), kNow, &notify).ok());
  EXPECT_EQ(FromProtoTime(notify.dsl_notified().notified_at()),
            kT0 + absl::Minutes(5));
}

TEST(SafeguardingRulesTest, DslNotificationNamesTheDslAndAPastTime) {
  EventPayload notify = NotifyDsl();
  notify.mutable_dsl_notified()->clear_dsl();
  ExpectStatus(Decide(Open(), notify), absl::StatusCode::kInvalidArgument,
               "notify_dsl.dsl: is required");
  ExpectStatus(Decide(Open(), NotifyDsl(kNow + absl::Seconds(1))),
               absl::StatusCode::kInvalidArgument,
               "notify_dsl.notified_at: cannot be in the future");
  notify = NotifyDsl(kNow);
  notify.mutable_dsl_notified()->mutable_notified_at()->set_seconds(
      253402300800);
  ExpectStatus(Decide(Open(), notify), absl::StatusCode::kInvalidArgument,
               "notify_dsl.notified_at: out of range");
}

// ---- Referral to children's social care ----

TEST(SafeguardingRulesTest, ReferralUnderASafeguardingBasisNamesTheConcern) {
  EventPayload refer = Refer();
  ASSERT_TRUE(
      DecideSafeguardingCommand(Open(), As(kSchool), kNow, &refer).ok());
  EXPECT_EQ(refer.social_care_referral_made()
                .disclosure()
                .safeguarding()
                .concern_id(),
            "g-1");
  // Naming the concern itself is fine.
  v1::DisclosureRecorded d = Disclosure();
  d.mutable_safeguarding()->set_concern_id("g-1");
  EXPECT_TRUE(Decide(Open(), Refer(d)).ok());
}

TEST(SafeguardingRulesTest, ReferralBasisCannotNameAnotherConcern) {
  v1::DisclosureRecorded d = Disclosure();
  d.mutable_safeguarding()->set_concern_id("g-2");
  ExpectStatus(Decide(Open(), Refer(d)), absl::StatusCode::kInvalidArgument,
               "refer_to_social_care.disclosure.safeguarding.concern_id: must "
               "be g-1");
}

TEST(SafeguardingRulesTest, ReferralUnderConsentIsAccepted) {
  v1::DisclosureRecorded d = Disclosure();
  d.mutable_consent()->set_consent_id("c-1");
  EventPayload refer = Refer(d);
  ASSERT_TRUE(
      DecideSafeguardingCommand(Open(), As(kSchool), kNow, &refer).ok());
  EXPECT_FALSE(
      refer.social_care_referral_made().disclosure().has_safeguarding());
}

TEST(SafeguardingRulesTest, ReferralNeedsItsDisclosure) {
  EventPayload refer = Refer();
  refer.mutable_social_care_referral_made()->clear_disclosure();
  ExpectStatus(Decide(Open(), refer), absl::StatusCode::kInvalidArgument,
               "refer_to_social_care.disclosure: is required");
}

TEST(SafeguardingRulesTest,
     ReferralDisclosesTheConcernsSubjectForSafeguarding) {
  v1::DisclosureRecorded d = Disclosure();
  d.set_subject_id("s-2");
  ExpectStatus(Decide(Open(), Refer(d)), absl::StatusCode::kInvalidArgument,
               "refer_to_social_care.disclosure.subject_id: must be s-1");
  d = Disclosure();
  d.set_purpose(v1::PURPOSE_REFERRAL);
  ExpectStatus(Decide(Open(), Refer(d)), absl::StatusCode::kFailedPrecondition,
               "refer_to_social_care.disclosure.safeguarding basis rule: "
               "sharing without consent is only to protect a child at risk "
               "(purpose PURPOSE_SAFEGUARDING)");
  // Any recipient (the local authority's children's social care).
  d = Disclosure();
  d.mutable_to()->set_organisation("la-999");
  EXPECT_TRUE(Decide(Open(), Refer(d)).ok());
}

TEST(SafeguardingRulesTest, ReferralDisclosureIsCheckedLikeAnyOther) {
  v1::DisclosureRecorded d = Disclosure();
  v1::PersonalData personal = BasisText();
  personal.clear_risk_statement();
  ExpectStatus(Decide(Open(), Refer(d, personal)),
               absl::StatusCode::kFailedPrecondition,
               "refer_to_social_care.disclosure.safeguarding basis rule: "
               "sharing without consent must record "
               "personal.risk_statement");
  personal = BasisText();
  personal.clear_not_told_reason();
  ExpectStatus(Decide(Open(), Refer(d, personal)),
               absl::StatusCode::kFailedPrecondition,
               "personal.not_told_reason must say why");
  d = Disclosure();
  d.clear_safeguarding();
  ExpectStatus(Decide(Open(), Refer(d)), absl::StatusCode::kFailedPrecondition,
               "refer_to_social_care.disclosure.sharing rule");
  d = Disclosure();
  d.mutable_from()->set_organisation(kService);
  ExpectStatus(Decide(Open(), Refer(d)), absl::StatusCode::kPermissionDenied,
               "refer_to_social_care.disclosure.from.organisation");
  d = Disclosure();
  d.clear_categories();
  ExpectStatus(Decide(Open(), Refer(d)), absl::StatusCode::kInvalidArgument,
               "refer_to_social_care.disclosure.categories");
}

TEST(SafeguardingRulesTest, ReferenceIsOptionalButBounded) {
  EventPayload refer = Refer();
  refer.mutable_social_care_referral_made()->clear_reference();
  EXPECT_TRUE(Decide(Open(), refer).ok());
  refer.mutable_social_care_referral_made()->set_reference(
      std::string(16 * 1024 + 1, 'r'));
  ExpectStatus(Decide(Open(), refer), absl::StatusCode::kInvalidArgument,
               "refer_to_social_care.reference: at most");
}

// ---- Close ----

// The outcome is free text about the child: required, in the personal part.
TEST(SafeguardingRulesTest, CloseNeedsAnOutcomeInThePersonalPart) {
  EXPECT_TRUE(Decide(Open(), Close()).ok());
  EventPayload close = Close();
  close.mutable_personal()->clear_outcome();
  ExpectStatus(Decide(Open(), close), absl::StatusCode::kInvalidArgument,
               "personal.outcome: is required");
}

TEST(SafeguardingRulesTest, AClosedConcernTakesNoFurtherSteps) {
  const ConcernView closed = Closed();
  ExpectStatus(Decide(closed, NotifyDsl()),
               absl::StatusCode::kFailedPrecondition,
               "safeguarding rule: cannot notify the DSL on a closed concern");
  ExpectStatus(Decide(closed, Refer()), absl::StatusCode::kFailedPrecondition,
               "cannot refer to social care on a closed concern");
  ExpectStatus(Decide(closed, Close()), absl::StatusCode::kFailedPrecondition,
               "cannot close on a closed concern");
}

// ---- Fold ----

TEST(SafeguardingRulesTest, FoldFollowsTheSteps) {
  ConcernView view = Open();
  EXPECT_EQ(view.state, State::kOpen);
  EXPECT_EQ(view.raised.concern_id(), "g-1");
  EXPECT_EQ(view.raised.subject_id(), "s-1");
  EXPECT_EQ(view.raised.organisation(), kSchool);
  EXPECT_EQ(view.version, 1u);
  Record(NotifyDsl(kNow), &view);
  EXPECT_EQ(view.dsl_notified, "dsl-1");
  EXPECT_FALSE(view.referred_to_social_care);
  Record(Refer(), &view);
  EXPECT_TRUE(view.referred_to_social_care);
  EXPECT_EQ(view.state, State::kOpen);
  Record(Close(), &view);
  EXPECT_EQ(view.state, State::kClosed);
  EXPECT_EQ(view.version, 4u);
}

TEST(SafeguardingRulesTest, ApplyRefusesOtherEvents) {
  ConcernView view = Open();
  v1::RecordedEvent recorded;
  recorded.mutable_payload()->mutable_intervention_ended();
  recorded.set_stream_version(3);
  ExpectStatus(ApplySafeguardingEvent(recorded, &view),
               absl::StatusCode::kInvalidArgument,
               "payload: is not a safeguarding event");
  EXPECT_EQ(view.version, 1u);
}

}  // namespace
}  // namespace ycr::domain
