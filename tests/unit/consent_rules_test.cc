// Consent: which commands a consent's state allows, and whether it covers a
// disclosure (recipient, purpose, categories, validity window, withdrawal).

#include "services/domain/consent_rules.h"

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
       "terms.valid_from and valid_until"},
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

}  // namespace
}  // namespace ycr::domain
