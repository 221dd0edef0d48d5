// The checks every rule file shares: ids, text, times, NOT_FOUND and "acts
// for"; and disclosures embedded in other events (an outcome report, a
// referral to social care, a referral's submission).

#include "domain/field_checks.h"

#include <string>

#include "common/proto_time.h"
#include "domain/referral_rules.h"
#include "domain/sharing_rules.h"
#include "gtest/gtest.h"
#include "tests/unit/domain_test_util.h"

namespace ycr::domain {
namespace {

using testing::As;
using testing::ExpectStatus;

constexpr char kSchool[] = "school-100001";
constexpr char kService[] = "service-7";

google::protobuf::Timestamp Ts(int64_t seconds, int32_t nanos = 0) {
  google::protobuf::Timestamp t;
  t.set_seconds(seconds);
  t.set_nanos(nanos);
  return t;
}

// ---- Field checks ----

TEST(FieldChecksTest, BlankIsEmptyOrWhitespace) {
  EXPECT_TRUE(Blank(""));
  EXPECT_TRUE(Blank(" \t\r\n"));
  EXPECT_FALSE(Blank(" x "));
}

TEST(FieldChecksTest, ValidIdAllowsLettersDigitsAndDotUnderscoreColonDash) {
  for (const std::string& id :
       {std::string("a"), std::string("Z9"), std::string("s-1"),
        std::string("urn:school.100001_x"), std::string(kMaxIdBytes, 'a')}) {
    EXPECT_TRUE(ValidId(id, "f").ok()) << id;
  }
}

TEST(FieldChecksTest, ValidIdRefusesEmptyLongAndOtherCharacters) {
  ExpectStatus(ValidId("", "x.id"), absl::StatusCode::kInvalidArgument,
               "x.id: is required");
  ExpectStatus(ValidId(std::string(kMaxIdBytes + 1, 'a'), "x.id"),
               absl::StatusCode::kInvalidArgument, "x.id: at most 128 bytes");
  for (const std::string& id :
       {std::string(" "), std::string("a b"), std::string("a/b"),
        std::string("a\nb"), std::string("\xC3\xA9"), std::string("a\0b", 3),
        std::string("a@b"), std::string("a+b")}) {
    ExpectStatus(ValidId(id, "x.id"), absl::StatusCode::kInvalidArgument,
                 "x.id: only letters, digits and . _ : - are allowed");
  }
}

TEST(FieldChecksTest, RequiredTextIsNotBlankAndBounded) {
  EXPECT_TRUE(RequiredText("x", "f").ok());
  EXPECT_TRUE(RequiredText(std::string(kMaxTextBytes, 'x'), "f").ok());
  ExpectStatus(RequiredText("", "a.b"), absl::StatusCode::kInvalidArgument,
               "a.b: is required");
  ExpectStatus(RequiredText("  \n", "a.b"), absl::StatusCode::kInvalidArgument,
               "a.b: is required");
  ExpectStatus(RequiredText(std::string(kMaxTextBytes + 1, 'x'), "a.b"),
               absl::StatusCode::kInvalidArgument, "a.b: at most 16384 bytes");
}

TEST(FieldChecksTest, OptionalTextMayBeEmptyButIsBounded) {
  EXPECT_TRUE(OptionalText("", "f").ok());
  EXPECT_TRUE(OptionalText(" ", "f").ok());
  EXPECT_TRUE(OptionalText(std::string(kMaxTextBytes, 'x'), "f").ok());
  ExpectStatus(OptionalText(std::string(kMaxTextBytes + 1, 'x'), "a.b"),
               absl::StatusCode::kInvalidArgument, "a.b: at most");
}

TEST(FieldChecksTest, RequiredTimeIsPresentAndInRfc3339Range) {
  ExpectStatus(RequiredTime(false, Ts(0), "t"),
               absl::StatusCode::kInvalidArgument, "t: is required");
  // 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z.
  EXPECT_TRUE(RequiredTime(true, Ts(0), "t").ok());
  EXPECT_TRUE(RequiredTime(true, Ts(-62135596800), "t").ok());
  EXPECT_TRUE(RequiredTime(true, Ts(253402300799, 999999999), "t").ok());
  for (const auto& t :
       {Ts(-62135596801), Ts(253402300800), Ts(0, -1), Ts(0, 1000000000)}) {
    ExpectStatus(RequiredTime(true, t, "t"), absl::StatusCode::kInvalidArgument,
                 "t: out of range");
  }
}

TEST(FieldChecksTest, TimeOrUsesTheGivenTimeWhenPresent) {
  const absl::Time otherwise = absl::FromUnixSeconds(1'780'000'000);
  EXPECT_EQ(TimeOr(false, Ts(5), otherwise), otherwise);
  EXPECT_EQ(TimeOr(true, Ts(5, 7), otherwise),
            absl::FromUnixSeconds(5) + absl::Nanoseconds(7));
}

TEST(FieldChecksTest, NotFoundNamesWhat) {
  ExpectStatus(NotFound("widget"), absl::StatusCode::kNotFound,
               "no such widget");
}

TEST(FieldChecksTest, ActsForOnlyTheSameOrganisation) {
  EXPECT_TRUE(ActsFor(kSchool, kSchool, "the school", "do it").ok());
  ExpectStatus(ActsFor(kService, kSchool, "the school", "do it"),
               absl::StatusCode::kPermissionDenied,
               "only the school may do it; the caller acts "
               "for service-7");
  ExpectStatus(ActsFor("", kSchool, "the school", "do it"),
               absl::StatusCode::kPermissionDenied, "only the school");
}

// ---- Embedded disclosures ----

// From the school to the service about s-1, for a referral, under consent.
v1::DisclosureRecorded Disclosure() {
  v1::DisclosureRecorded d;
  d.set_disclosure_id("d-1");
  d.set_subject_id("s-1");
  d.mutable_from()->set_organisation(kSchool);
  d.mutable_to()->set_organisation(kService);
  d.add_categories(v1::DATA_CATEGORY_IDENTITY);
  d.set_purpose(v1::PURPOSE_REFERRAL);
  d.mutable_consent()->set_consent_id("c-1");
  return d;
}

absl::Status Embedded(const v1::DisclosureRecorded& d,
                      const std::string& to = kService,
                      const std::string& by = kSchool,
                      v1::Purpose purpose = v1::PURPOSE_REFERRAL,
                      const v1::PersonalData& personal = {}) {
  return ValidateEmbeddedDisclosure(d, personal, As(by), "x.disclosure", "s-1",
                                    to, purpose);
}

TEST(EmbeddedDisclosureTest, AMatchingDisclosurePasses) {
  EXPECT_TRUE(Embedded(Disclosure()).ok());
  // No recipient asked for: any other organisation.
  v1::DisclosureRecorded d = Disclosure();
  d.mutable_to()->set_organisation("la-802");
  EXPECT_TRUE(Embedded(d, "").ok());
}

TEST(EmbeddedDisclosureTest, MustBeAboutTheSubjectToTheRecipientForThePurpose) {
  v1::DisclosureRecorded d = Disclosure();
  d.set_subject_id("s-2");
  ExpectStatus(Embedded(d), absl::StatusCode::kInvalidArgument,
               "x.disclosure.subject_id: must be s-1, whom it is about");
  d = Disclosure();
  d.mutable_to()->set_organisation("service-8");
  ExpectStatus(Embedded(d), absl::StatusCode::kInvalidArgument,
               "x.disclosure.to.organisation: must be service-7");
  d = Disclosure();
  d.set_purpose(v1::PURPOSE_NEEDS_ASSESSMENT);
  ExpectStatus(Embedded(d), absl::StatusCode::kInvalidArgument,
               "x.disclosure.purpose: must be PURPOSE_REFERRAL");
}

TEST(EmbeddedDisclosureTest, DisclosureChecksArePrefixedWithTheField) {
  struct Case {
    void (*change)(v1::DisclosureRecorded*);
    absl::StatusCode code;
    const char* message;
  };
  const Case cases[] = {
      {[](v1::DisclosureRecorded* d) { d->clear_disclosure_id(); },
       absl::StatusCode::kInvalidArgument,
       "x.disclosure.disclosure_id: is required"},
      {[](v1::DisclosureRecorded* d) { d->set_subject_id(" "); },
       absl::StatusCode::kInvalidArgument,
       "x.disclosure.subject_id: is required"},
      {[](v1::DisclosureRecorded* d) { d->clear_from(); },
       absl::StatusCode::kInvalidArgument,
       "x.disclosure.from.organisation: is required"},
      {[](v1::DisclosureRecorded* d) { d->clear_to(); },
       absl::StatusCode::kInvalidArgument,
       "x.disclosure.to.organisation: is required"},
      {[](v1::DisclosureRecorded* d) { d->clear_categories(); },
       absl::StatusCode::kInvalidArgument,
       "x.disclosure.categories: at least one, none unspecified"},
      {[](v1::DisclosureRecorded* d) {
         d->add_categories(v1::DATA_CATEGORY_UNSPECIFIED);
       },
       absl::StatusCode::kInvalidArgument, "x.disclosure.categories"},
      {[](v1::DisclosureRecorded* d) {
         d->set_purpose(v1::PURPOSE_UNSPECIFIED);
       },
       absl::StatusCode::kInvalidArgument, "x.disclosure.purpose: is required"},
      {[](v1::DisclosureRecorded* d) {
         d->mutable_from()->set_organisation(kService);
       },
       absl::StatusCode::kPermissionDenied,
       "x.disclosure.from.organisation: a caller records only its own"},
      {[](v1::DisclosureRecorded* d) { d->clear_consent(); },
       absl::StatusCode::kFailedPrecondition,
       "x.disclosure.sharing rule: a disclosure needs a consent"},
      {[](v1::DisclosureRecorded* d) {
         d->mutable_consent()->set_consent_id(" ");
       },
       absl::StatusCode::kInvalidArgument,
       "x.disclosure.consent.consent_id: is required"},
  };
  for (const Case& c : cases) {
    v1::DisclosureRecorded d = Disclosure();
    c.change(&d);
    ExpectStatus(Embedded(d), c.code, c.message);
  }
}

TEST(EmbeddedDisclosureTest, ADisclosureGoesToAnotherOrganisation) {
  v1::DisclosureRecorded d = Disclosure();
  d.mutable_to()->set_organisation(kSchool);
  ExpectStatus(Embedded(d, ""), absl::StatusCode::kInvalidArgument,
               "x.disclosure.to.organisation: a disclosure goes to another "
               "organisation");
}

TEST(EmbeddedDisclosureTest, ASafeguardingBasisRecordsWhatTheLawAsks) {
  v1::DisclosureRecorded d = Disclosure();
  d.set_purpose(v1::PURPOSE_SAFEGUARDING);
  auto* b = d.mutable_safeguarding();
  b->set_lawful_basis("dpa2018-sch1-para18");
  b->set_decision_maker("dsl-1");
  b->set_family_told(true);
  v1::PersonalData personal;
  personal.set_risk_statement("risk");
  auto check = [&](const v1::DisclosureRecorded& d,
                   const v1::PersonalData& personal) {
    return Embedded(d, kService, kSchool, v1::PURPOSE_SAFEGUARDING, personal);
  };
  EXPECT_TRUE(check(d, personal).ok());
  for (const char* field :
       {"safeguarding.lawful_basis", "safeguarding.decision_maker",
        "personal.risk_statement"}) {
    v1::DisclosureRecorded missing = d;
    v1::PersonalData missing_text = personal;
    const std::string f = field;
    if (f == "safeguarding.lawful_basis") {
      missing.mutable_safeguarding()->clear_lawful_basis();
    }
    if (f == "safeguarding.decision_maker") {
      missing.mutable_safeguarding()->set_decision_maker(" ");
    }
    if (f == "personal.risk_statement") missing_text.clear_risk_statement();
    ExpectStatus(check(missing, missing_text),
                 absl::StatusCode::kFailedPrecondition,
                 "x.disclosure.safeguarding basis rule: sharing without "
                 "consent must record " +
                     f);
  }
  b->set_family_told(false);
  ExpectStatus(check(d, personal), absl::StatusCode::kFailedPrecondition,
               "personal.not_told_reason must say why");
  personal.set_not_told_reason("would put the child at risk");
  EXPECT_TRUE(check(d, personal).ok());
  // The lawful basis is a code: text about the child would sit in the
  // plain event and outlive erasure.
  b->set_lawful_basis("DPA 2018; father was arrested");
  ExpectStatus(check(d, personal), absl::StatusCode::kInvalidArgument,
               "safeguarding.lawful_basis: must be one of");
}

TEST(EmbeddedDisclosureTest, ASafeguardingBasisIsOnlyForSafeguarding) {
  v1::DisclosureRecorded d = Disclosure();
  auto* b = d.mutable_safeguarding();
  b->set_lawful_basis("dpa2018-sch1-para18");
  b->set_decision_maker("dsl-1");
  b->set_family_told(true);
  v1::PersonalData personal;
  personal.set_risk_statement("risk");
  // A referral (or an outcome report) without consent is refused.
  ExpectStatus(Embedded(d, kService, kSchool, v1::PURPOSE_REFERRAL, personal),
               absl::StatusCode::kFailedPrecondition,
               "purpose PURPOSE_SAFEGUARDING");
}

// ---- Referral submission ----

v1::ReferralSubmitted Submission() {
  v1::ReferralSubmitted s;
  s.set_referral_id("r-1");
  s.set_subject_id("s-1");
  s.set_school(kSchool);
  s.set_service(kService);
  *s.mutable_disclosure() = Disclosure();
  return s;
}

absl::Status CheckSubmission(const v1::ReferralSubmitted& s,
                             const std::string& by = kSchool) {
  v1::EventPayload event;
  *event.mutable_referral_submitted() = s;
  return ValidateReferralDisclosure(ReferralView(), event, As(by));
}

TEST(SubmissionDisclosureTest, TheSubmissionDisclosesToItsService) {
  EXPECT_TRUE(CheckSubmission(Submission()).ok());
}

TEST(SubmissionDisclosureTest, TheDisclosureIsRequired) {
  v1::ReferralSubmitted s = Submission();
  s.clear_disclosure();
  ExpectStatus(CheckSubmission(s), absl::StatusCode::kInvalidArgument,
               "submit.disclosure: is required");
}

TEST(SubmissionDisclosureTest, AboutTheSubjectToTheServiceForReferral) {
  v1::ReferralSubmitted s = Submission();
  s.set_subject_id("s-2");
  ExpectStatus(CheckSubmission(s), absl::StatusCode::kInvalidArgument,
               "submit.disclosure.subject_id: must be s-2");
  s = Submission();
  s.set_service("service-8");
  ExpectStatus(CheckSubmission(s), absl::StatusCode::kInvalidArgument,
               "submit.disclosure.to.organisation: must be service-8");
  s = Submission();
  s.mutable_disclosure()->set_purpose(v1::PURPOSE_SUPPORT_IN_SCHOOL);
  ExpectStatus(CheckSubmission(s), absl::StatusCode::kInvalidArgument,
               "submit.disclosure.purpose: must be PURPOSE_REFERRAL");
}

TEST(SubmissionDisclosureTest, FromTheCallerWithABasis) {
  ExpectStatus(CheckSubmission(Submission(), kService),
               absl::StatusCode::kPermissionDenied,
               "submit.disclosure.from.organisation");
  v1::ReferralSubmitted s = Submission();
  s.mutable_disclosure()->clear_consent();
  ExpectStatus(CheckSubmission(s), absl::StatusCode::kFailedPrecondition,
               "submit.disclosure.sharing rule");
}

// A transfer tells the new school: a disclosure to it about the subject.
TEST(TransferDisclosureTest, TheTransferDisclosesToTheNewSchool) {
  ReferralView view;
  view.subject_id = "s-1";
  view.school = kSchool;
  view.service = kService;
  v1::EventPayload event;
  auto* t = event.mutable_referral_transferred();
  t->set_to_school("school-200002");
  ExpectStatus(ValidateReferralDisclosure(view, event, As(kSchool)),
               absl::StatusCode::kInvalidArgument,
               "transfer.disclosure: is required");
  v1::DisclosureRecorded d = Disclosure();
  d.mutable_to()->set_organisation("school-200002");
  d.set_purpose(v1::PURPOSE_SUPPORT_IN_SCHOOL);
  *t->mutable_disclosure() = d;
  EXPECT_TRUE(ValidateReferralDisclosure(view, event, As(kSchool)).ok());
  t->mutable_disclosure()->mutable_to()->set_organisation("school-300003");
  ExpectStatus(ValidateReferralDisclosure(view, event, As(kSchool)),
               absl::StatusCode::kInvalidArgument,
               "transfer.disclosure.to.organisation: must be school-200002");
  t->mutable_disclosure()->mutable_to()->set_organisation("school-200002");
  t->mutable_disclosure()->set_subject_id("s-2");
  ExpectStatus(ValidateReferralDisclosure(view, event, As(kSchool)),
               absl::StatusCode::kInvalidArgument,
               "transfer.disclosure.subject_id: must be s-1");
  // Other transitions disclose nothing.
  v1::EventPayload accept;
  accept.mutable_referral_accepted();
  EXPECT_TRUE(ValidateReferralDisclosure(view, accept, As(kService)).ok());
}

}  // namespace
}  // namespace ycr::domain
