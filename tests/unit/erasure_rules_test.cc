#include "domain/erasure_rules.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "common/proto_time.h"
#include "domain/retention_rules.h"
#include "gtest/gtest.h"

namespace ycr::domain {
namespace {

const absl::Time kNow =
    absl::FromCivil(absl::CivilDay(2026, 11, 1), absl::UTCTimeZone());

v1::Actor Caller(const std::string& organisation,
                 const std::string& role = "school") {
  v1::Actor a;
  a.set_organisation(organisation);
  a.set_user("u");
  a.set_role(role);
  return a;
}

v1::SubjectRecord Record() {
  v1::SubjectRecord r;
  r.set_subject_id("pupil-1");
  r.set_holder("school-a");
  r.set_date_of_birth("2012-03-04");
  return r;
}

v1::EventPayload EraseAsked() {
  v1::EventPayload e;
  e.mutable_subject_erased()->set_subject_id("pupil-1");
  e.mutable_subject_erased()->set_request_ref("SAR-17");
  return e;
}

ErasureFacts Facts() {
  ErasureFacts f;
  f.date_of_birth = absl::CivilDay(2012, 3, 4);
  return f;
}

TEST(ErasureRulesTest, WithoutHoldOrChildProtectionTheLawAllowsErasure) {
  EXPECT_EQ(ErasureRefusalGround(Facts(), "school-a", kNow), std::nullopt);
}

TEST(ErasureRulesTest, ALegalHoldRefusesFirst) {
  ErasureFacts f = Facts();
  f.holds = {"hold-1"};
  f.child_protection_by = {"school-a"};
  EXPECT_EQ(ErasureRefusalGround(f, "school-a", kNow),
            v1::ERASURE_GROUND_LEGAL_HOLD);
}

TEST(ErasureRulesTest,
     TheHoldersChildProtectionRecordsAreKeptUntilBirthPlus25Years) {
  ErasureFacts f = Facts();
  f.child_protection_by = {"school-a"};
  EXPECT_EQ(ErasureRefusalGround(f, "school-a", kNow),
            v1::ERASURE_GROUND_LEGAL_OBLIGATION);
  const absl::Time day_before =
      absl::FromCivil(absl::CivilDay(2037, 3, 3), absl::UTCTimeZone());
  const absl::Time that_day =
      absl::FromCivil(absl::CivilDay(2037, 3, 4), absl::UTCTimeZone());
  EXPECT_EQ(ErasureRefusalGround(f, "school-a", day_before),
            v1::ERASURE_GROUND_LEGAL_OBLIGATION);
  EXPECT_EQ(ErasureRefusalGround(f, "school-a", that_day), std::nullopt);
  f.date_of_birth.reset();  // Unknown: the period is taken as running.
  EXPECT_EQ(ErasureRefusalGround(f, "school-a", that_day),
            v1::ERASURE_GROUND_LEGAL_OBLIGATION);
}

TEST(ErasureRulesTest, TheHolderErases) {
  std::vector<std::string> retain;
  v1::SubjectRecord r = Record();
  v1::EventPayload e = EraseAsked();
  ASSERT_TRUE(DecideErasure(&r, SubjectView(), Facts(), Caller("school-a"),
                            kNow, &e, &retain)
                  .ok());
  ASSERT_TRUE(e.has_subject_erased());
  EXPECT_EQ(e.subject_erased().holder(), "school-a");
}

TEST(ErasureRulesTest, OnlyTheHolderDecides) {
  std::vector<std::string> retain;
  v1::SubjectRecord r = Record();
  v1::EventPayload e = EraseAsked();
  EXPECT_EQ(DecideErasure(&r, SubjectView(), Facts(), Caller("school-b"), kNow,
                          &e, &retain)
                .code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(ErasureRulesTest, TheServersGroundTurnsAnErasureIntoARefusal) {
  std::vector<std::string> retain;
  v1::SubjectRecord r = Record();
  SubjectView view;
  view.holds["hold-1"] = "council";
  ErasureFacts f = Facts();
  f.holds = {"hold-1"};
  v1::EventPayload e = EraseAsked();
  ASSERT_TRUE(
      DecideErasure(&r, view, f, Caller("school-a"), kNow, &e, &retain).ok());
  ASSERT_TRUE(e.has_erasure_refused());
  EXPECT_EQ(e.erasure_refused().ground(), v1::ERASURE_GROUND_LEGAL_HOLD);
  EXPECT_EQ(e.erasure_refused().request_ref(), "SAR-17");
  ASSERT_EQ(e.erasure_refused().hold_ids_size(), 1);
  EXPECT_EQ(e.erasure_refused().hold_ids(0), "hold-1");
}

TEST(ErasureRulesTest, TheHolderRefusesOnlyOnItsOwnGrounds) {
  std::vector<std::string> retain;
  v1::SubjectRecord r = Record();
  v1::EventPayload e;
  e.mutable_erasure_refused()->set_subject_id("pupil-1");
  e.mutable_erasure_refused()->set_request_ref("SAR-17");
  e.mutable_erasure_refused()->set_ground(v1::ERASURE_GROUND_PUBLIC_TASK);
  EXPECT_TRUE(DecideErasure(&r, SubjectView(), Facts(), Caller("school-a"),
                            kNow, &e, &retain)
                  .ok());
  e.mutable_erasure_refused()->set_ground(v1::ERASURE_GROUND_LEGAL_HOLD);
  EXPECT_EQ(DecideErasure(&r, SubjectView(), Facts(), Caller("school-a"), kNow,
                          &e, &retain)
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ErasureRulesTest, AnErasedSubjectOrOneWithoutARecordIsRefused) {
  std::vector<std::string> retain;
  v1::SubjectRecord r = Record();
  SubjectView erased;
  erased.erased = true;
  v1::EventPayload e = EraseAsked();
  EXPECT_EQ(
      DecideErasure(&r, erased, Facts(), Caller("school-a"), kNow, &e, &retain)
          .code(),
      absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(DecideErasure(nullptr, SubjectView(), Facts(), Caller("school-a"),
                          kNow, &e, &retain)
                .code(),
            absl::StatusCode::kNotFound);
  e.mutable_subject_erased()->clear_request_ref();
  EXPECT_EQ(DecideErasure(&r, SubjectView(), Facts(), Caller("school-a"), kNow,
                          &e, &retain)
                .code(),
            absl::StatusCode::kInvalidArgument);
}

v1::EventPayload Hold(const std::string& id) {
  v1::EventPayload e;
  e.mutable_legal_hold_placed()->set_subject_id("pupil-1");
  e.mutable_legal_hold_placed()->set_hold_id(id);
  e.mutable_personal()->set_reason("serious case review");
  return e;
}

TEST(ErasureRulesTest, TheLocalAuthorityOfTheAreaOrTheHolderPlacesAHold) {
  v1::SubjectRecord r = Record();
  v1::EventPayload e = Hold("hold-1");
  // The holder (school-a) is in the council's area.
  ASSERT_TRUE(DecidePlaceHold(&r, "council", SubjectView(),
                              Caller("council", "local_authority"), &e)
                  .ok());
  EXPECT_EQ(e.legal_hold_placed().organisation(), "council");
  e = Hold("hold-2");
  EXPECT_TRUE(
      DecidePlaceHold(&r, "council", SubjectView(), Caller("school-a"), &e)
          .ok());
  e = Hold("hold-3");
  EXPECT_EQ(DecidePlaceHold(&r, "council", SubjectView(),
                            Caller("service-b", "service"), &e)
                .code(),
            absl::StatusCode::kPermissionDenied);
  // Another local authority, or any while the holder is in no area.
  e = Hold("hold-4");
  absl::Status s =
      DecidePlaceHold(&r, "council", SubjectView(),
                      Caller("other-council", "local_authority"), &e);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  // Neither the holder nor its area is named.
  EXPECT_TRUE(
      absl::StrContains(s.message(), "outside the area of other-council"))
      << s;
  EXPECT_FALSE(absl::StrContains(s.message(), "school-a")) << s;
  e = Hold("hold-5");
  s = DecidePlaceHold(&r, "", SubjectView(),
                      Caller("council", "local_authority"), &e);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(absl::StrContains(s.message(), "outside the area of council"))
      << s;
}

TEST(ErasureRulesTest, AHoldInForceCannotBePlacedTwiceAndNeedsAReason) {
  v1::SubjectRecord r = Record();
  SubjectView view;
  view.holds["hold-1"] = "council";
  v1::EventPayload e = Hold("hold-1");
  EXPECT_EQ(DecidePlaceHold(&r, "", view, Caller("school-a"), &e).code(),
            absl::StatusCode::kAlreadyExists);
  e = Hold("hold-2");
  e.mutable_personal()->clear_reason();
  absl::Status no_reason =
      DecidePlaceHold(&r, "", view, Caller("school-a"), &e);
  EXPECT_EQ(no_reason.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(no_reason.message(), "personal.reason"))
      << no_reason;
}

TEST(ErasureRulesTest, OnlyThePlacerLiftsAHold) {
  SubjectView view;
  view.holds["hold-1"] = "council";
  v1::EventPayload e;
  e.mutable_legal_hold_lifted()->set_subject_id("pupil-1");
  e.mutable_legal_hold_lifted()->set_hold_id("hold-1");
  const absl::Status stranger = DecideLiftHold(view, Caller("school-a"), e);
  EXPECT_EQ(stranger.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_FALSE(absl::StrContains(stranger.message(), "council")) << stranger;
  // A stranger learns nothing of which holds are in force.
  v1::EventPayload none = e;
  none.mutable_legal_hold_lifted()->set_hold_id("hold-9");
  EXPECT_EQ(DecideLiftHold(view, Caller("school-a"), none), stranger);
  EXPECT_TRUE(
      DecideLiftHold(view, Caller("council", "local_authority"), e).ok());
  e.mutable_legal_hold_lifted()->set_hold_id("hold-9");
  EXPECT_EQ(
      DecideLiftHold(view, Caller("council", "local_authority"), e).code(),
      absl::StatusCode::kNotFound);
}

TEST(ErasureRulesTest, TheSubjectViewFollowsHoldsAndErasure) {
  SubjectView view;
  v1::RecordedEvent e;
  e.set_stream_version(1);
  *e.mutable_payload() = Hold("hold-1");
  e.mutable_payload()->mutable_legal_hold_placed()->set_organisation("council");
  ASSERT_TRUE(ApplySubjectEvent(e, &view).ok());
  EXPECT_EQ(view.holds.at("hold-1"), "council");
  e.set_stream_version(2);
  e.mutable_payload()->mutable_legal_hold_lifted()->set_hold_id("hold-1");
  ASSERT_TRUE(ApplySubjectEvent(e, &view).ok());
  EXPECT_TRUE(view.holds.empty());
  e.set_stream_version(3);
  *e.mutable_payload() = EraseAsked();
  ASSERT_TRUE(ApplySubjectEvent(e, &view).ok());
  EXPECT_TRUE(view.erased);
  EXPECT_EQ(view.version, 3u);
}

TEST(ErasureRulesTest, AnotherOrganisationsChildProtectionRecordsStayUnnamed) {
  // The service raised a concern and did not tell the school: the school's
  // erasure is answered as any other, and only the key list keeps them.
  v1::SubjectRecord r = Record();
  ErasureFacts f = Facts();
  f.child_protection_by = {"service-b"};
  EXPECT_EQ(ErasureRefusalGround(f, "school-a", kNow), std::nullopt);
  v1::EventPayload e = EraseAsked();
  std::vector<std::string> retain = {"stale"};
  ASSERT_TRUE(
      DecideErasure(&r, SubjectView(), f, Caller("school-a"), kNow, &e, &retain)
          .ok());
  ASSERT_TRUE(e.has_subject_erased());
  EXPECT_EQ(retain, std::vector<std::string>{"service-b"});
  EXPECT_EQ(e.DebugString().find("service-b"), std::string::npos)
      << e.DebugString();

  // Once the child is 25, nothing is kept.
  const absl::Time at_25 =
      absl::FromCivil(absl::CivilDay(2037, 3, 4), absl::UTCTimeZone());
  e = EraseAsked();
  ASSERT_TRUE(DecideErasure(&r, SubjectView(), f, Caller("school-a"), at_25, &e,
                            &retain)
                  .ok());
  EXPECT_TRUE(retain.empty());
}

TEST(ErasureRulesTest, TheHoldersOwnRecordRefusesEvenWithOthers) {
  v1::SubjectRecord r = Record();
  ErasureFacts f = Facts();
  f.child_protection_by = {"school-a", "service-b"};
  v1::EventPayload e = EraseAsked();
  std::vector<std::string> retain;
  ASSERT_TRUE(
      DecideErasure(&r, SubjectView(), f, Caller("school-a"), kNow, &e, &retain)
          .ok());
  ASSERT_TRUE(e.has_erasure_refused());
  EXPECT_EQ(e.erasure_refused().ground(), v1::ERASURE_GROUND_LEGAL_OBLIGATION);
  EXPECT_TRUE(retain.empty());
}

// The review date of kept child-protection records: date of birth + 25
// years; the erasure's date + 25 years when it is unknown.
TEST(RetentionRulesTest, TheReviewDayIsBirthPlus25OrTheErasurePlus25) {
  EXPECT_EQ(KeptReviewDay(absl::CivilDay(2012, 3, 4), kNow),
            absl::CivilDay(2037, 3, 4));
  EXPECT_EQ(KeptReviewDay(std::nullopt, kNow), absl::CivilDay(2051, 11, 1));
  // 29 February: the day after 28 February of the review year.
  EXPECT_EQ(KeptReviewDay(absl::CivilDay(2012, 2, 29), kNow),
            absl::CivilDay(2037, 3, 1));
  EXPECT_EQ(KeptReviewNote(absl::CivilDay(2037, 3, 4)), "2037-03-04");
  EXPECT_EQ(ParseKeptReviewNote("2037-03-04"),
            absl::FromCivil(absl::CivilDay(2037, 3, 4), absl::UTCTimeZone()));
  EXPECT_EQ(ParseKeptReviewNote("soon"), std::nullopt);
  const v1::EventPayload kept =
      KeptEvent("pupil-1", {"service-2", "service-1", "service-2"},
                absl::CivilDay(2037, 3, 4));
  EXPECT_EQ(kept.child_protection_kept().organisation(), "");
  EXPECT_EQ(KeepersOf(kept.child_protection_kept()),
            (std::vector<std::string>{"service-1", "service-2"}));
  EXPECT_EQ(kept.personal().subject_id(), "pupil-1");
  EXPECT_EQ(kept.personal().notes(), "2037-03-04");
  // Nothing kept: the same one event, naming no one.
  EXPECT_TRUE(KeepersOf(KeptEvent("pupil-1", {}, absl::CivilDay(2037, 3, 4))
                            .child_protection_kept())
                  .empty());
  // A store's older form named its one keeper.
  v1::ChildProtectionKept older;
  older.set_organisation("service-3");
  EXPECT_EQ(KeepersOf(older), std::vector<std::string>{"service-3"});
}

TEST(RetentionRulesTest, ADecisionIsDestroyOrKeepWithADateAndAReason) {
  v1::ChildProtectionReviewed r;
  EXPECT_TRUE(absl::StrContains(ValidateRetentionReview(r, kNow).message(),
                                "decision"));
  r.set_decision(static_cast<v1::RetentionDecision>(9));
  EXPECT_EQ(ValidateRetentionReview(r, kNow).code(),
            absl::StatusCode::kInvalidArgument);
  r.set_decision(v1::RETENTION_DECISION_DESTROY);
  EXPECT_TRUE(ValidateRetentionReview(r, kNow).ok());
  r.set_keep_reason(v1::RETENTION_KEEP_REASON_OPEN_INQUIRY);
  EXPECT_FALSE(ValidateRetentionReview(r, kNow).ok());
  r.set_decision(v1::RETENTION_DECISION_KEEP);
  EXPECT_TRUE(absl::StrContains(ValidateRetentionReview(r, kNow).message(),
                                "next_review_at"));
  *r.mutable_next_review_at() = ToProtoTime(kNow + absl::Hours(24));
  EXPECT_TRUE(ValidateRetentionReview(r, kNow).ok());
  *r.mutable_next_review_at() = ToProtoTime(kNow);
  EXPECT_FALSE(ValidateRetentionReview(r, kNow).ok());
  *r.mutable_next_review_at() = ToProtoTime(
      absl::FromCivil(absl::CivilDay(2036, 11, 2), absl::UTCTimeZone()));
  EXPECT_FALSE(ValidateRetentionReview(r, kNow).ok());
  *r.mutable_next_review_at() = ToProtoTime(kNow + absl::Hours(24));
  r.set_keep_reason(static_cast<v1::RetentionKeepReason>(77));
  EXPECT_TRUE(absl::StrContains(ValidateRetentionReview(r, kNow).message(),
                                "keep_reason"));
  r.set_keep_reason(v1::RETENTION_KEEP_REASON_UNSPECIFIED);
  EXPECT_TRUE(absl::StrContains(ValidateRetentionReview(r, kNow).message(),
                                "keep_reason"));
}

TEST(RetentionRulesTest, OnlyTheKeeperReviewsAndOnlyOnceDue) {
  SubjectView view;
  view.kept["service-1"].kept_position = 7;
  EXPECT_TRUE(
      CallersKeptRecord(view, Caller("service-1", "service"), "p").ok());
  const absl::Status other =
      CallersKeptRecord(view, Caller("school-a"), "p").status();
  EXPECT_EQ(other.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(CallersKeptRecord(SubjectView(), Caller("school-a"), "p").status(),
            other);
  EXPECT_EQ(RequireReviewDue("p", kNow + absl::Seconds(1), kNow).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(RequireReviewDue("p", kNow, kNow).ok());
}

}  // namespace
}  // namespace ycr::domain
