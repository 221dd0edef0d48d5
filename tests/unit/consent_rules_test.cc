// Consent: which commands a consent's state allows (a withdrawal scheduled
// ahead leaves it open until then; an earlier one supersedes it; effective
// dates bounded), and whether it covers a disclosure (recipient, purpose,
// categories, validity window, withdrawal).

#include "domain/consent_rules.h"

#include "common/error_details.h"
#include "gtest/gtest.h"

namespace ycr::domain {
namespace {

using v1::EventPayload;

const absl::Time kT0 = absl::FromUnixSeconds(1'780'000'000);

google::protobuf::Timestamp At(absl::Time t) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(absl::ToUnixSeconds(t));
  return ts;
}

v1::ConsentTerms Terms() {
  v1::ConsentTerms terms;
  terms.add_purposes(v1::PURPOSE_REFERRAL);
  terms.add_purposes(v1::PURPOSE_NEEDS_ASSESSMENT);
  auto* service = terms.add_recipients();
  service->set_organisation("service-7");
  auto* school = terms.add_recipients();
  school->set_organisation("school-100001");
  school->set_role("dsl");
  terms.add_categories(v1::DATA_CATEGORY_IDENTITY);
  terms.add_categories(v1::DATA_CATEGORY_CARING_SITUATION);
  *terms.mutable_valid_from() = At(kT0);
  *terms.mutable_valid_until() = At(kT0 + absl::Hours(24 * 365));
  return terms;
}

EventPayload Grant(bool by_young_person = false, bool competent = true) {
  EventPayload p;
  auto* g = p.mutable_consent_granted();
  g->set_consent_id("c-1");
  g->set_subject_id("s-1");
  if (by_young_person) {
    auto* a = g->mutable_given_by()->mutable_young_person();
    a->set_assessed_by_user("dsl-1");
    a->set_assessed_by_organisation("school-100001");
    a->set_competent(competent);
    *a->mutable_assessed_at() = At(kT0);
  } else {
    g->mutable_given_by()->mutable_parent()->set_person_ref("p-1");
  }
  *g->mutable_terms() = Terms();
  return p;
}

ConsentView Granted() {
  ConsentView view;
  EXPECT_TRUE(ApplyConsentEvent(Grant(), 1, &view).ok());
  return view;
}

ProposedDisclosure Share() {
  ProposedDisclosure d;
  d.subject_id = "s-1";
  d.to.set_organisation("service-7");
  d.to.set_role("support_officer");
  d.purpose = v1::PURPOSE_REFERRAL;
  d.categories = {v1::DATA_CATEGORY_IDENTITY,
                  v1::DATA_CATEGORY_CARING_SITUATION};
  d.at = kT0 + absl::Hours(1);
  return d;
}

void ExpectNotCovered(const ConsentView& consent, const ProposedDisclosure& d,
                      const std::string& why) {
  absl::Status status = CheckConsentCovers(consent, d);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_NE(status.message().find(why), std::string::npos) << status;
}

TEST(ConsentRulesTest, GrantedConsentCoversAMatchingDisclosure) {
  EXPECT_TRUE(CheckConsentCovers(Granted(), Share()).ok());
}

TEST(ConsentRulesTest, WrongRecipientIsNotCovered) {
  ProposedDisclosure d = Share();
  d.to.set_organisation("service-8");
  ExpectNotCovered(Granted(), d, "recipient service-8/support_officer");
  // A recipient named with a role covers only that role.
  d.to.set_organisation("school-100001");
  d.to.set_role("teacher");
  ExpectNotCovered(Granted(), d, "recipient school-100001/teacher");
  d.to.set_role("dsl");
  EXPECT_TRUE(CheckConsentCovers(Granted(), d).ok());
}

TEST(ConsentRulesTest, WrongPurposeIsNotCovered) {
  ProposedDisclosure d = Share();
  d.purpose = v1::PURPOSE_IMPACT_REPORTING;
  ExpectNotCovered(Granted(), d, "purpose PURPOSE_IMPACT_REPORTING");
}

TEST(ConsentRulesTest, UncoveredCategoryIsNamed) {
  ProposedDisclosure d = Share();
  d.categories.push_back(v1::DATA_CATEGORY_CARED_FOR_HEALTH);
  ExpectNotCovered(Granted(), d, "DATA_CATEGORY_CARED_FOR_HEALTH");
  d.categories.clear();
  ExpectNotCovered(Granted(), d, "must name its data categories");
}

TEST(ConsentRulesTest, OutsideTheValidityWindowIsNotCovered) {
  ProposedDisclosure d = Share();
  d.at = kT0 - absl::Seconds(1);
  ExpectNotCovered(Granted(), d, "not valid until");
  d.at = kT0;
  EXPECT_TRUE(CheckConsentCovers(Granted(), d).ok());
  d.at = kT0 + absl::Hours(24 * 365);
  ExpectNotCovered(Granted(), d, "expired at");
}

TEST(ConsentRulesTest, WithdrawalBlocksLaterSharingButNotEarlier) {
  ConsentView consent = Granted();
  EventPayload withdraw;
  *withdraw.mutable_consent_withdrawn()->mutable_effective_at() =
      At(kT0 + absl::Hours(2));
  ASSERT_TRUE(
      CheckConsentCommand(consent, withdraw, kT0 + absl::Hours(2)).ok());
  ASSERT_TRUE(ApplyConsentEvent(withdraw, 2, &consent).ok());
  ProposedDisclosure d = Share();
  d.at = kT0 + absl::Hours(1);  // Before the withdrawal: still covered.
  EXPECT_TRUE(CheckConsentCovers(consent, d).ok());
  d.at = kT0 + absl::Hours(2);
  ExpectNotCovered(consent, d, "withdrawn from");
}

TEST(ConsentRulesTest, WithdrawalCannotTakeEffectInThePast) {
  EventPayload withdraw;
  *withdraw.mutable_consent_withdrawn()->mutable_effective_at() = At(kT0);
  absl::Status status =
      CheckConsentCommand(Granted(), withdraw, kT0 + absl::Minutes(1));
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(status.message().find("prospective"), std::string::npos);
}

EventPayload WithdrawAt(absl::Time at) {
  EventPayload p;
  p.mutable_consent_withdrawn()->set_consent_id("c-1");
  *p.mutable_consent_withdrawn()->mutable_effective_at() = At(at);
  return p;
}

EventPayload Vary() {
  EventPayload p;
  p.mutable_consent_varied()->set_consent_id("c-1");
  *p.mutable_consent_varied()->mutable_terms() = Terms();
  return p;
}

// Checked at `now` (must pass), then folded at the next version.
void Step(const EventPayload& p, absl::Time now, ConsentView* view) {
  absl::Status s = CheckConsentCommand(*view, p, now);
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_TRUE(ApplyConsentEvent(p, view->version + 1, view).ok());
}

void ExpectRefused(const ConsentView& view, const EventPayload& p,
                   absl::Time now, absl::StatusCode code,
                   const std::string& why) {
  absl::Status s = CheckConsentCommand(view, p, now);
  EXPECT_EQ(s.code(), code) << s;
  EXPECT_NE(s.message().find(why), std::string::npos) << s;
}

constexpr absl::Duration kDay = absl::Hours(24);

// A withdrawal scheduled ahead leaves the consent open to variation until it
// takes effect; it covers disclosures until then, and no longer.
TEST(ConsentRulesTest, AScheduledWithdrawalLeavesTheConsentOpenUntilThen) {
  ConsentView consent = Granted();
  const absl::Time scheduled = kT0 + 30 * kDay;
  Step(WithdrawAt(scheduled), kT0 + absl::Hours(1), &consent);
  Step(Vary(), kT0 + absl::Hours(2), &consent);
  EXPECT_EQ(consent.version, 3u);
  EXPECT_TRUE(
      CheckConsentCommand(consent, Vary(), scheduled - absl::Seconds(1)).ok());
  ExpectRefused(consent, Vary(), scheduled,
                absl::StatusCode::kFailedPrecondition,
                "whose withdrawal has not taken effect can be varied");
  ProposedDisclosure d = Share();
  d.at = scheduled - absl::Seconds(1);
  EXPECT_TRUE(CheckConsentCovers(consent, d).ok());
  d.at = scheduled;
  ExpectNotCovered(consent, d, "withdrawn from");
}

// "Stop now" always wins: an earlier withdrawal supersedes a scheduled one,
// even one scheduled far ahead.
TEST(ConsentRulesTest, AnEarlierWithdrawalSupersedesAScheduledOne) {
  ConsentView consent = Granted();
  const absl::Time now = kT0 + absl::Hours(2);
  Step(WithdrawAt(kT0 + 700 * kDay), kT0 + absl::Hours(1), &consent);
  Step(WithdrawAt(now), now, &consent);
  ASSERT_TRUE(consent.withdrawn_at.has_value());
  EXPECT_EQ(*consent.withdrawn_at, now);
  ProposedDisclosure d = Share();
  d.at = now;
  ExpectNotCovered(consent, d, "withdrawn from");
  // Withdrawn now: nothing more is varied or withdrawn.
  ExpectRefused(consent, Vary(), now, absl::StatusCode::kFailedPrecondition,
                "can be varied");
  ExpectRefused(consent, WithdrawAt(now + kDay), now,
                absl::StatusCode::kFailedPrecondition, "can be withdrawn");
}

TEST(ConsentRulesTest, AWithdrawalNoEarlierThanTheScheduledOneIsRefused) {
  ConsentView consent = Granted();
  const absl::Time scheduled = kT0 + 30 * kDay;
  Step(WithdrawAt(scheduled), kT0, &consent);
  for (absl::Time at : {scheduled, scheduled + kDay}) {
    ExpectRefused(consent, WithdrawAt(at), kT0 + absl::Hours(1),
                  absl::StatusCode::kFailedPrecondition,
                  "withdrawal rule: consent c-1 already has a withdrawal "
                  "taking effect at 2026-06-27T20:26:40+00:00");
  }
  EXPECT_TRUE(CheckConsentCommand(consent, WithdrawAt(scheduled - kDay),
                                  kT0 + absl::Hours(1))
                  .ok());
}

TEST(ConsentRulesTest, TheEarliestWithdrawalFoldedWins) {
  ConsentView consent = Granted();
  ASSERT_TRUE(ApplyConsentEvent(WithdrawAt(kT0 + kDay), 2, &consent).ok());
  ASSERT_TRUE(ApplyConsentEvent(WithdrawAt(kT0 + 9 * kDay), 3, &consent).ok());
  EXPECT_EQ(*consent.withdrawn_at, kT0 + kDay);
  EXPECT_EQ(consent.version, 3u);
}

// Bounded: not before 1900, at most two years ahead (an effective date in
// year 9999 would otherwise hold the withdrawal open for good), a valid
// timestamp.
TEST(ConsentRulesTest, EffectiveDatesAreBounded) {
  const absl::Time now = kT0;  // 2026-05-28T20:26:40Z
  const absl::Time horizon = absl::FromCivil(
      absl::CivilSecond(2028, 5, 28, 20, 26, 40), absl::UTCTimeZone());
  EXPECT_TRUE(CheckConsentCommand(Granted(), WithdrawAt(horizon), now).ok());
  ExpectRefused(Granted(), WithdrawAt(horizon + absl::Seconds(1)), now,
                absl::StatusCode::kInvalidArgument,
                "effective_at: at most 2 years ahead (no later than "
                "2028-05-28T20:26:40+00:00)");
  ExpectRefused(Granted(),
                WithdrawAt(absl::FromCivil(absl::CivilSecond(9999, 12, 31),
                                           absl::UTCTimeZone())),
                now, absl::StatusCode::kInvalidArgument,
                "effective_at: at most 2 years ahead");
  ExpectRefused(Granted(),
                WithdrawAt(absl::FromCivil(absl::CivilSecond(1899, 12, 31),
                                           absl::UTCTimeZone())),
                now, absl::StatusCode::kInvalidArgument,
                "effective_at: not before 1900-01-01T00:00:00+00:00");
  EventPayload bad_nanos = WithdrawAt(now + kDay);
  bad_nanos.mutable_consent_withdrawn()->mutable_effective_at()->set_nanos(
      1'000'000'000);
  ExpectRefused(Granted(), bad_nanos, now, absl::StatusCode::kInvalidArgument,
                "effective_at: out of range");
  EventPayload unset = WithdrawAt(now);
  unset.mutable_consent_withdrawn()->clear_effective_at();
  ExpectRefused(Granted(), unset, now, absl::StatusCode::kInvalidArgument,
                "effective_at: is required");
  // Bounds are checked before state: no consent yet, the same answer.
  ConsentView none;
  ExpectRefused(none, WithdrawAt(horizon + kDay), now,
                absl::StatusCode::kInvalidArgument, "effective_at");
}

TEST(ConsentRulesTest, RefusedConsentCoversNothing) {
  EventPayload refuse;
  auto* r = refuse.mutable_consent_refused();
  r->set_consent_id("c-1");
  r->set_subject_id("s-1");
  r->mutable_given_by()->mutable_parent()->set_person_ref("p-1");
  *r->mutable_terms() = Terms();
  ASSERT_TRUE(CheckConsentCommand(ConsentView(), refuse, kT0).ok());
  ConsentView consent;
  ASSERT_TRUE(ApplyConsentEvent(refuse, 1, &consent).ok());
  ExpectNotCovered(consent, Share(), "refused");
  ExpectNotCovered(ConsentView(), Share(), "no such consent");
}

TEST(ConsentRulesTest, ConsentForAnotherSubjectIsNotCovered) {
  ProposedDisclosure d = Share();
  d.subject_id = "s-2";
  ExpectNotCovered(Granted(), d, "another subject");
}

TEST(ConsentRulesTest, CompetentYoungPersonMayConsentButNotAnIncompetentOne) {
  EXPECT_TRUE(CheckConsentCommand(ConsentView(), Grant(true, true), kT0).ok());
  absl::Status status =
      CheckConsentCommand(ConsentView(), Grant(true, false), kT0);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(status.message().find("competence rule"), std::string::npos);
  EventPayload unassessed = Grant(true, true);
  unassessed.mutable_consent_granted()
      ->mutable_given_by()
      ->mutable_young_person()
      ->clear_assessed_by_user();
  EXPECT_EQ(CheckConsentCommand(ConsentView(), unassessed, kT0).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ConsentRulesTest, CommandsFollowTheConsentsState) {
  const ConsentView granted = Granted();
  EXPECT_EQ(CheckConsentCommand(granted, Grant(), kT0).code(),
            absl::StatusCode::kFailedPrecondition);
  EventPayload vary;
  *vary.mutable_consent_varied()->mutable_terms() = Terms();
  EXPECT_TRUE(CheckConsentCommand(granted, vary, kT0).ok());
  EXPECT_EQ(CheckConsentCommand(ConsentView(), vary, kT0).code(),
            absl::StatusCode::kFailedPrecondition);
  ConsentView withdrawn = granted;
  withdrawn.withdrawn_at = kT0;
  EXPECT_EQ(CheckConsentCommand(withdrawn, vary, kT0).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(ConsentRulesTest, VariationReplacesTermsFromItsVersionOn) {
  ConsentView consent = Granted();
  EventPayload vary;
  v1::ConsentTerms narrower = Terms();
  narrower.clear_categories();
  narrower.add_categories(v1::DATA_CATEGORY_IDENTITY);
  *vary.mutable_consent_varied()->mutable_terms() = narrower;
  ASSERT_TRUE(ApplyConsentEvent(vary, 2, &consent).ok());
  EXPECT_EQ(consent.version, 2u);
  ExpectNotCovered(consent, Share(), "DATA_CATEGORY_CARING_SITUATION");
}

TEST(ConsentRulesTest, IncompleteTermsAreInvalidArgumentNamingThePart) {
  struct Case {
    void (*mutate)(v1::ConsentTerms*);
    const char* field;
  };
  const Case cases[] = {
      {[](v1::ConsentTerms* t) { t->clear_purposes(); }, "terms.purposes"},
      {[](v1::ConsentTerms* t) { t->add_purposes(v1::PURPOSE_UNSPECIFIED); },
       "terms.purposes"},
      {[](v1::ConsentTerms* t) { t->clear_categories(); }, "terms.categories"},
      {[](v1::ConsentTerms* t) { t->clear_recipients(); }, "terms.recipients"},
      {[](v1::ConsentTerms* t) { t->add_recipients(); },
       "terms.recipients[2].organisation"},
      {[](v1::ConsentTerms* t) { t->clear_valid_until(); },
       "terms.valid_until: is required"},
      {[](v1::ConsentTerms* t) { t->clear_valid_from(); },
       "terms.valid_from: is required"},
      {[](v1::ConsentTerms* t) { *t->mutable_valid_until() = t->valid_from(); },
       "terms.valid_until"},
  };
  for (const Case& c : cases) {
    v1::ConsentTerms terms = Terms();
    c.mutate(&terms);
    absl::Status status = ValidateTerms(terms, "terms");
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.field;
    EXPECT_NE(status.message().find(c.field), std::string::npos) << status;
  }
  EXPECT_TRUE(ValidateTerms(Terms(), "terms").ok());
}

// The relationship of whoever has parental responsibility is a code in a
// plain event (issue 14): free text about the parent is refused, naming the
// field and listing the codes.
TEST(ConsentRulesTest, TheParentsRelationshipIsACodeNotFreeText) {
  EventPayload grant = Grant();
  grant.mutable_consent_granted()
      ->mutable_given_by()
      ->mutable_parent()
      ->set_relationship("mother, who has a terminal diagnosis");
  absl::Status status = CheckConsentCommand(ConsentView(), grant, kT0);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_NE(status.message().find("given_by.parent.relationship: must be one "
                                  "of mother, father, parent"),
            std::string::npos)
      << status;
  ASSERT_EQ(DetailsOf(status).field_violations.size(), 1u);
  EXPECT_EQ(DetailsOf(status).field_violations[0].field,
            "given_by.parent.relationship");
  EventPayload refuse;
  *refuse.mutable_consent_refused()->mutable_given_by() =
      grant.consent_granted().given_by();
  refuse.mutable_consent_refused()->set_consent_id("c-2");
  refuse.mutable_consent_refused()->set_subject_id("s-1");
  *refuse.mutable_consent_refused()->mutable_terms() = Terms();
  EXPECT_EQ(CheckConsentCommand(ConsentView(), refuse, kT0).code(),
            absl::StatusCode::kInvalidArgument);
  for (const char* code : {"mother", "step-parent", "kinship-carer", ""}) {
    grant.mutable_consent_granted()
        ->mutable_given_by()
        ->mutable_parent()
        ->set_relationship(code);
    EXPECT_TRUE(CheckConsentCommand(ConsentView(), grant, kT0).ok()) << code;
  }
}

// The refusals carry their reasons: a disclosure no consent covers is
// NOT_COVERED naming the consent; a step the state does not allow is
// INVALID_STATE.
TEST(ConsentRulesTest, RefusalsCarryTheirReasons) {
  absl::Status status = CheckConsentCovers(Granted(), [] {
    ProposedDisclosure d = Share();
    d.purpose = v1::PURPOSE_IMPACT_REPORTING;
    return d;
  }());
  ErrorDetails details = DetailsOf(status);
  EXPECT_EQ(details.reason, reason::kNotCovered);
  ASSERT_EQ(details.precondition_violations.size(), 1u);
  EXPECT_EQ(details.precondition_violations[0].type, "CONSENT");
  EXPECT_EQ(details.precondition_violations[0].subject, "consent_id/c-1");
  EXPECT_EQ(details.precondition_violations[0].description, status.message());
  status = CheckConsentCommand(Granted(), Grant(), kT0);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(DetailsOf(status).reason, reason::kInvalidState);
}

}  // namespace
}  // namespace ycr::domain
