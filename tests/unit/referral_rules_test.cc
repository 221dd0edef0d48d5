// The referral state machine: every transition from every state, the side
// that may make it, and the fields it needs.

#include "domain/referral_rules.h"

#include <map>
#include <set>

#include "gtest/gtest.h"

namespace ycr::domain {
namespace {

using v1::EventPayload;

constexpr char kSchool[] = "school-100001";
constexpr char kService[] = "service-7";

v1::Actor As(const std::string& organisation) {
  v1::Actor actor;
  actor.set_organisation(organisation);
  actor.set_user("u");
  actor.set_role("r");
  return actor;
}

ReferralView In(v1::ReferralState state) {
  ReferralView view;
  view.state = state;
  view.referral_id = "r-1";
  view.subject_id = "s-1";
  view.school = kSchool;
  view.service = kService;
  view.version = state == v1::REFERRAL_STATE_UNSPECIFIED ? 0 : 3;
  return view;
}

// A valid payload of each referral event kind, with the side that makes it.
struct Kind {
  EventPayload payload;
  const char* by;
};

std::map<std::string, Kind> Kinds() {
  std::map<std::string, Kind> kinds;
  EventPayload p;
  auto* submitted = p.mutable_referral_submitted();
  submitted->set_referral_id("r-1");
  submitted->set_subject_id("s-1");
  submitted->set_school(kSchool);
  submitted->set_service(kService);
  kinds["submit"] = {p, kSchool};
  p.Clear();
  p.mutable_referral_received();
  kinds["receive"] = {p, kService};
  p.Clear();
  p.mutable_referral_accepted();
  kinds["accept"] = {p, kService};
  p.Clear();
  p.mutable_referral_declined();
  p.mutable_personal()->set_reason("not a carer");
  kinds["decline"] = {p, kService};
  p.Clear();
  p.mutable_assessment_scheduled()->mutable_scheduled_for()->set_seconds(1);
  kinds["schedule"] = {p, kService};
  p.Clear();
  p.mutable_assessment_completed();
  p.mutable_personal()->add_needs("respite");
  kinds["complete"] = {p, kService};
  p.Clear();
  p.mutable_referral_registered();
  kinds["register"] = {p, kService};
  p.Clear();
  p.mutable_referral_held();
  p.mutable_personal()->set_reason("family away");
  kinds["hold"] = {p, kService};
  p.Clear();
  p.mutable_referral_resumed();
  kinds["resume"] = {p, kService};
  p.Clear();
  p.mutable_referral_closed();
  p.mutable_personal()->set_reason("support ended");
  kinds["close"] = {p, kService};
  p.Clear();
  p.mutable_referral_withdrawn();
  p.mutable_personal()->set_reason("family asked");
  kinds["withdraw"] = {p, kSchool};
  p.Clear();
  p.mutable_referral_cancelled();
  p.mutable_personal()->set_reason("duplicate");
  kinds["cancel"] = {p, kService};
  p.Clear();
  p.mutable_referral_entered_in_error();
  p.mutable_personal()->set_reason("wrong pupil");
  kinds["error"] = {p, kSchool};
  p.Clear();
  p.mutable_referral_transferred()->set_to_school("school-200002");
  kinds["transfer"] = {p, kSchool};
  return kinds;
}

// The specification, written independently of the implementation's table:
// from which states each transition is allowed. U = no referral yet.
std::map<std::string, std::set<std::string>> Allowed() {
  return {
      {"submit", {"U"}},
      {"receive", {"SUBMITTED"}},
      {"accept", {"SUBMITTED", "RECEIVED"}},
      {"decline", {"SUBMITTED", "RECEIVED"}},
      {"schedule", {"ACCEPTED", "ASSESSMENT_SCHEDULED"}},
      {"complete", {"ASSESSMENT_SCHEDULED"}},
      {"register", {"ASSESSMENT_COMPLETED"}},
      {"hold",
       {"ACCEPTED", "ASSESSMENT_SCHEDULED", "ASSESSMENT_COMPLETED",
        "REGISTERED"}},
      {"resume", {"ON_HOLD"}},
      {"close", {"ACCEPTED", "ASSESSMENT_COMPLETED", "REGISTERED", "ON_HOLD"}},
      {"withdraw",
       {"SUBMITTED", "RECEIVED", "ACCEPTED", "ASSESSMENT_SCHEDULED",
        "ASSESSMENT_COMPLETED", "ON_HOLD"}},
      {"cancel",
       {"SUBMITTED", "RECEIVED", "ACCEPTED", "ASSESSMENT_SCHEDULED",
        "ASSESSMENT_COMPLETED", "REGISTERED", "ON_HOLD"}},
      {"error",
       {"SUBMITTED", "RECEIVED", "ACCEPTED", "DECLINED", "ASSESSMENT_SCHEDULED",
        "ASSESSMENT_COMPLETED", "REGISTERED", "ON_HOLD", "CLOSED", "WITHDRAWN",
        "CANCELLED"}},
      {"transfer",
       {"SUBMITTED", "RECEIVED", "ACCEPTED", "ASSESSMENT_SCHEDULED",
        "ASSESSMENT_COMPLETED", "REGISTERED", "ON_HOLD"}},
  };
}

std::string Short(v1::ReferralState s) {
  if (s == v1::REFERRAL_STATE_UNSPECIFIED) return "U";
  return v1::ReferralState_Name(s).substr(sizeof("REFERRAL_STATE_") - 1);
}

TEST(ReferralRulesTest, EveryTransitionFromEveryStateFollowsTheSpecification) {
  const auto kinds = Kinds();
  const auto allowed = Allowed();
  ASSERT_EQ(kinds.size(), allowed.size());
  int checked = 0;
  for (int s = v1::ReferralState_MIN; s <= v1::ReferralState_MAX; ++s) {
    if (!v1::ReferralState_IsValid(s)) continue;
    const auto state = static_cast<v1::ReferralState>(s);
    for (const auto& [name, kind] : kinds) {
      const bool expect = allowed.at(name).count(Short(state)) > 0;
      absl::Status status =
          CheckReferralTransition(In(state), kind.payload, As(kind.by));
      if (expect) {
        EXPECT_TRUE(status.ok())
            << name << " from " << Short(state) << ": " << status;
      } else {
        EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition)
            << name << " from " << Short(state) << ": " << status;
        EXPECT_NE(status.message().find(state == v1::REFERRAL_STATE_UNSPECIFIED
                                            ? "no referral"
                                            : StateName(state)),
                  std::string::npos)
            << status;
      }
      ++checked;
    }
  }
  EXPECT_EQ(checked, 13 * 14);
}

TEST(ReferralRulesTest, RefusalNamesTheTransitionAndTheState) {
  absl::Status status =
      CheckReferralTransition(In(v1::REFERRAL_STATE_CLOSED),
                              Kinds().at("accept").payload, As(kService));
  EXPECT_EQ(status.message(),
            "referral state machine: cannot accept a referral that is closed");
}

TEST(ReferralRulesTest, OnlyTheRightSideMayMakeATransition) {
  const auto kinds = Kinds();
  // A school cannot accept; a service cannot withdraw; a stranger cannot
  // cancel; a school cannot submit as another school.
  EXPECT_EQ(CheckReferralTransition(In(v1::REFERRAL_STATE_SUBMITTED),
                                    kinds.at("accept").payload, As(kSchool))
                .code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(CheckReferralTransition(In(v1::REFERRAL_STATE_SUBMITTED),
                                    kinds.at("withdraw").payload, As(kService))
                .code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(
      CheckReferralTransition(In(v1::REFERRAL_STATE_SUBMITTED),
                              kinds.at("cancel").payload, As("school-999"))
          .code(),
      absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(CheckReferralTransition(In(v1::REFERRAL_STATE_SUBMITTED),
                                      kinds.at("cancel").payload, As(kSchool))
                  .ok());
  EXPECT_EQ(
      CheckReferralTransition(In(v1::REFERRAL_STATE_UNSPECIFIED),
                              kinds.at("submit").payload, As("school-999"))
          .code(),
      absl::StatusCode::kPermissionDenied);
}

TEST(ReferralRulesTest, MissingFieldsAreInvalidArgumentNamingTheField) {
  EventPayload decline;
  decline.mutable_referral_declined();
  absl::Status status = CheckReferralTransition(In(v1::REFERRAL_STATE_RECEIVED),
                                                decline, As(kService));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("personal.reason"), std::string::npos);

  EventPayload submit = Kinds().at("submit").payload;
  submit.mutable_referral_submitted()->clear_subject_id();
  status = CheckReferralTransition(In(v1::REFERRAL_STATE_UNSPECIFIED), submit,
                                   As(kSchool));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("subject_id"), std::string::npos);

  EventPayload transfer;
  transfer.mutable_referral_transferred()->set_to_school(kSchool);
  EXPECT_EQ(CheckReferralTransition(In(v1::REFERRAL_STATE_REGISTERED), transfer,
                                    As(kSchool))
                .code(),
            absl::StatusCode::kInvalidArgument);

  EventPayload opaque;
  opaque.mutable_opaque()->set_type("x");
  EXPECT_EQ(CheckReferralTransition(In(v1::REFERRAL_STATE_REGISTERED), opaque,
                                    As(kSchool))
                .code(),
            absl::StatusCode::kInvalidArgument);
}

// A reason is free text about the young carer: required where the rule asks
// for one, and read only from the sealed personal part.
TEST(ReferralRulesTest, ReasonsAreRequiredInThePersonalPart) {
  const auto kinds = Kinds();
  for (auto [kind, state] :
       {std::pair{"decline", v1::REFERRAL_STATE_RECEIVED},
        std::pair{"close", v1::REFERRAL_STATE_REGISTERED},
        std::pair{"error", v1::REFERRAL_STATE_REGISTERED}}) {
    EventPayload with = kinds.at(kind).payload;
    ASSERT_TRUE(
        CheckReferralTransition(In(state), with, As(kinds.at(kind).by)).ok())
        << kind;
    EventPayload without = with;
    without.mutable_personal()->clear_reason();
    absl::Status status =
        CheckReferralTransition(In(state), without, As(kinds.at(kind).by));
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << kind;
    EXPECT_NE(status.message().find("personal.reason"), std::string::npos)
        << status;
  }
  // Hold, withdraw and cancel take a reason if given, none required.
  for (auto [kind, state] :
       {std::pair{"hold", v1::REFERRAL_STATE_REGISTERED},
        std::pair{"withdraw", v1::REFERRAL_STATE_ON_HOLD},
        std::pair{"cancel", v1::REFERRAL_STATE_REGISTERED}}) {
    EventPayload without = kinds.at(kind).payload;
    without.clear_personal();
    EXPECT_TRUE(
        CheckReferralTransition(In(state), without, As(kinds.at(kind).by)).ok())
        << kind;
  }
}

TEST(ReferralRulesTest, FoldingWalksTheLifecycleAndResumesFromHold) {
  const auto kinds = Kinds();
  ReferralView view;
  uint64_t version = 0;
  for (const char* step :
       {"submit", "receive", "accept", "schedule", "complete", "hold"}) {
    const Kind& kind = kinds.at(step);
    ASSERT_TRUE(CheckReferralTransition(view, kind.payload, As(kind.by)).ok())
        << step;
    ASSERT_TRUE(ApplyReferralEvent(kind.payload, ++version, &view).ok());
  }
  EXPECT_EQ(view.state, v1::REFERRAL_STATE_ON_HOLD);
  ASSERT_TRUE(
      ApplyReferralEvent(kinds.at("resume").payload, ++version, &view).ok());
  EXPECT_EQ(view.state, v1::REFERRAL_STATE_ASSESSMENT_COMPLETED);
  ASSERT_TRUE(
      ApplyReferralEvent(kinds.at("transfer").payload, ++version, &view).ok());
  EXPECT_EQ(view.school, "school-200002");
  EXPECT_EQ(view.state, v1::REFERRAL_STATE_ASSESSMENT_COMPLETED);
  EXPECT_EQ(view.version, version);
  // The new school now acts for the referral; the old one does not.
  EXPECT_TRUE(CheckReferralTransition(view, kinds.at("withdraw").payload,
                                      As("school-200002"))
                  .ok());
  EXPECT_EQ(
      CheckReferralTransition(view, kinds.at("withdraw").payload, As(kSchool))
          .code(),
      absl::StatusCode::kPermissionDenied);
}

}  // namespace
}  // namespace ycr::domain
