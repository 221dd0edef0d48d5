// Interventions: what a plan must say (a young carer for pupil-level support,
// none for whole-school work), that only the delivering service records,
// sessions, ending, and outcomes with their report to the school.

#include "domain/intervention_rules.h"

#include <string>

#include "common/proto_time.h"
#include "gtest/gtest.h"
#include "tests/unit/domain_test_util.h"

namespace ycr::domain {
namespace {

using testing::As;
using testing::ExpectStatus;

using State = InterventionView::State;
using v1::EventPayload;

constexpr char kSchool[] = "school-100001";
constexpr char kService[] = "service-7";

const absl::Time kT0 = absl::FromUnixSeconds(1'780'000'000);
const absl::Duration kDay = absl::Hours(24);
// Planned to start at kT0; commands come at kNow.
const absl::Time kNow = kT0 + 30 * kDay;

// One-to-one support for s-1 at the school, by the service (left for the
// server to fill in).
EventPayload Plan(v1::InterventionType type = v1::INTERVENTION_TYPE_ONE_TO_ONE,
                  const std::string& subject = "s-1") {
  EventPayload p;
  auto* e = p.mutable_intervention_planned();
  e->set_intervention_id("i-1");
  e->set_school(kSchool);
  e->set_subject_id(subject);
  e->set_type(type);
  *e->mutable_starts_at() = ToProtoTime(kT0);
  // What support for one young carer is for is about the child: sealed.
  if (IsForOneYoungCarer(type)) p.mutable_personal()->set_notes("time to talk");
  return p;
}

EventPayload Session(absl::Time at, uint32_t minutes = 60,
                     bool attended = true) {
  EventPayload p;
  *p.mutable_session_delivered()->mutable_delivered_at() = ToProtoTime(at);
  p.mutable_session_delivered()->set_duration_minutes(minutes);
  p.mutable_session_delivered()->set_attended(attended);
  return p;
}

EventPayload End() {
  EventPayload p;
  p.mutable_intervention_ended();
  p.mutable_personal()->set_reason("plan complete");
  return p;
}

// Outcomes: attendance improved, wellbeing no change, attainment unset.
EventPayload Outcomes() {
  EventPayload p;
  auto* e = p.mutable_outcomes_recorded();
  e->set_attendance(v1::OUTCOME_CHANGE_IMPROVED);
  e->set_wellbeing(v1::OUTCOME_CHANGE_NO_CHANGE);
  return p;
}

// A report of Outcomes() to the school under a consent.
v1::DisclosureRecorded Report() {
  v1::DisclosureRecorded d;
  d.set_disclosure_id("d-1");
  d.set_subject_id("s-1");
  d.mutable_from()->set_organisation(kService);
  d.mutable_to()->set_organisation(kSchool);
  d.add_categories(v1::DATA_CATEGORY_ATTENDANCE);
  d.add_categories(v1::DATA_CATEGORY_WELLBEING);
  d.set_purpose(v1::PURPOSE_IMPACT_REPORTING);
  d.mutable_consent()->set_consent_id("c-1");
  return d;
}

EventPayload Reported(const v1::DisclosureRecorded& report = Report()) {
  EventPayload p = Outcomes();
  *p.mutable_outcomes_recorded()->mutable_report() = report;
  return p;
}

void Record(const EventPayload& payload, InterventionView* view) {
  testing::RecordInto(payload, kNow, view, ApplyInterventionEvent);
}

// Planned by the service (decided, so the service is filled in, and folded).
InterventionView Planned(EventPayload plan = Plan()) {
  InterventionView view;
  absl::Status status =
      DecideInterventionCommand(view, As(kService), kT0, &plan);
  EXPECT_TRUE(status.ok()) << status;
  Record(plan, &view);
  return view;
}

InterventionView Ended() {
  InterventionView view = Planned();
  Record(End(), &view);
  return view;
}

absl::Status Decide(const InterventionView& view, EventPayload payload,
                    const std::string& by = kService, absl::Time now = kNow) {
  return DecideInterventionCommand(view, As(by), now, &payload);
}

// ---- Plan ----

TEST(InterventionRulesTest, ThePlanningServiceIsFilledIn) {
  EventPayload plan = Plan();
  ASSERT_TRUE(
      DecideInterventionCommand(InterventionView(), As(kService), kT0, &plan)
          .ok());
  EXPECT_EQ(plan.intervention_planned().service(), kService);
  EXPECT_EQ(Planned().plan.service(), kService);
}

TEST(InterventionRulesTest, OnlyTheDeliveringServicePlans) {
  EventPayload plan = Plan();
  plan.mutable_intervention_planned()->set_service(kService);
  EXPECT_TRUE(Decide(InterventionView(), plan, kService).ok());
  ExpectStatus(Decide(InterventionView(), plan, kSchool),
               absl::StatusCode::kPermissionDenied,
               "only the delivering service may plan its "
               "interventions; the caller acts for school-100001");
}

TEST(InterventionRulesTest, ASchoolCannotPlanAsItsOwnService) {
  // Left empty, the service would be the caller: a school is not one.
  EventPayload plan = Plan();
  ExpectStatus(Decide(InterventionView(), plan, kSchool),
               absl::StatusCode::kInvalidArgument, "plan.service");
}

TEST(InterventionRulesTest, PlanNamesEachMissingOrBadField) {
  struct Case {
    void (*change)(v1::InterventionPlanned*);
    const char* message;
  };
  const Case cases[] = {
      {[](v1::InterventionPlanned* e) { e->clear_intervention_id(); },
       "plan.intervention_id: is required"},
      {[](v1::InterventionPlanned* e) { e->set_intervention_id("i/1"); },
       "plan.intervention_id: only letters"},
      {[](v1::InterventionPlanned* e) { e->clear_school(); },
       "plan.school: is required"},
      {[](v1::InterventionPlanned* e) {
         e->set_type(v1::INTERVENTION_TYPE_UNSPECIFIED);
       },
       "plan.type: is required"},
      {[](v1::InterventionPlanned* e) { e->set_referral_id("r 1"); },
       "plan.referral_id"},
      {[](v1::InterventionPlanned* e) { e->clear_starts_at(); },
       "plan.starts_at: is required"},
      {[](v1::InterventionPlanned* e) {
         e->mutable_starts_at()->set_seconds(-62135596801);
       },
       "plan.starts_at: out of range"},
      {[](v1::InterventionPlanned* e) {
         *e->mutable_ends_at() = e->starts_at();
       },
       "plan.ends_at: must be after starts_at"},
      {[](v1::InterventionPlanned* e) {
         e->mutable_ends_at()->set_seconds(253402300800);
       },
       "plan.ends_at: out of range"},
      {[](v1::InterventionPlanned* e) {
         e->set_worker(std::string(16 * 1024 + 1, 'w'));
       },
       "plan.worker: at most"},
  };
  for (const Case& c : cases) {
    EventPayload plan = Plan();
    c.change(plan.mutable_intervention_planned());
    ExpectStatus(Decide(InterventionView(), plan, kService, kT0),
                 absl::StatusCode::kInvalidArgument, c.message);
  }
}

TEST(InterventionRulesTest, OptionalPlanFieldsMayBeGiven) {
  EventPayload plan = Plan();
  auto* e = plan.mutable_intervention_planned();
  e->set_referral_id("r-1");
  *e->mutable_ends_at() = ToProtoTime(kT0 + absl::Seconds(1));
  e->set_worker("worker-3");
  EXPECT_TRUE(Decide(InterventionView(), plan, kService, kT0).ok());
}

TEST(InterventionRulesTest, PupilLevelSupportNeedsItsYoungCarer) {
  for (v1::InterventionType type :
       {v1::INTERVENTION_TYPE_ONE_TO_ONE, v1::INTERVENTION_TYPE_GROUP_IN_SCHOOL,
        v1::INTERVENTION_TYPE_MENTORING, v1::INTERVENTION_TYPE_RESPITE_CLUB,
        v1::INTERVENTION_TYPE_AFTER_SCHOOL_AND_TUITION,
        v1::INTERVENTION_TYPE_WHOLE_FAMILY}) {
    EXPECT_TRUE(IsForOneYoungCarer(type)) << type;
    EXPECT_TRUE(Decide(InterventionView(), Plan(type, "s-1")).ok()) << type;
    ExpectStatus(Decide(InterventionView(), Plan(type, "")),
                 absl::StatusCode::kInvalidArgument,
                 "plan.subject_id: is required (support for one young carer)");
    ExpectStatus(Decide(InterventionView(), Plan(type, "s 1")),
                 absl::StatusCode::kInvalidArgument,
                 "(support for one young carer)");
  }
}

TEST(InterventionRulesTest, WholeSchoolWorkNamesNoYoungCarer) {
  for (v1::InterventionType type :
       {v1::INTERVENTION_TYPE_ASSEMBLY_OR_PSE_LESSON,
        v1::INTERVENTION_TYPE_STAFF_TRAINING}) {
    EXPECT_FALSE(IsForOneYoungCarer(type)) << type;
    EXPECT_TRUE(Decide(InterventionView(), Plan(type, "")).ok()) << type;
    ExpectStatus(Decide(InterventionView(), Plan(type, "s-1")),
                 absl::StatusCode::kInvalidArgument,
                 "plan.subject_id: whole-school work");
  }
  EXPECT_FALSE(IsForOneYoungCarer(v1::INTERVENTION_TYPE_UNSPECIFIED));
}

// What support for one young carer is for is required, in the personal
// part; whole-school work is described by its type.
TEST(InterventionRulesTest, PlanForOneYoungCarerSaysWhatItIsForInPersonal) {
  EventPayload plan = Plan();
  plan.mutable_personal()->set_notes("\t");
  ExpectStatus(Decide(InterventionView(), plan),
               absl::StatusCode::kInvalidArgument,
               "personal.notes: is required (what the intervention is for)");
  EventPayload assembly =
      Plan(v1::INTERVENTION_TYPE_ASSEMBLY_OR_PSE_LESSON, "");
  ASSERT_FALSE(assembly.has_personal());
  EXPECT_TRUE(Decide(InterventionView(), assembly).ok());
}

TEST(InterventionRulesTest, PlanningTwiceIsRefused) {
  ExpectStatus(Decide(Planned(), Plan()), absl::StatusCode::kFailedPrecondition,
               "intervention i-1 already exists (planned)");
  ExpectStatus(Decide(Ended(), Plan()), absl::StatusCode::kFailedPrecondition,
               "intervention i-1 already exists (ended)");
}

// ---- Commands on a planned intervention ----

TEST(InterventionRulesTest, CommandsOnNoInterventionAreNotFound) {
  for (const EventPayload& p : {Session(kNow), End(), Outcomes()}) {
    ExpectStatus(Decide(InterventionView(), p), absl::StatusCode::kNotFound,
                 "no such intervention");
  }
}

TEST(InterventionRulesTest, OnlyTheDeliveringServiceRecords) {
  for (const EventPayload& p : {Session(kNow), End(), Outcomes(), Reported()}) {
    ExpectStatus(Decide(Planned(), p, kSchool),
                 absl::StatusCode::kPermissionDenied,
                 "only the delivering service may record it");
  }
}

TEST(InterventionRulesTest, NonInterventionCommandIsInvalid) {
  EventPayload p;
  p.mutable_concern_closed();
  ExpectStatus(Decide(Planned(), p), absl::StatusCode::kInvalidArgument,
               "command: is not an intervention command");
}

// ---- Sessions ----

TEST(InterventionRulesTest, SessionBetweenThePlannedStartAndNow) {
  EXPECT_TRUE(Decide(Planned(), Session(kT0)).ok());
  EXPECT_TRUE(Decide(Planned(), Session(kNow)).ok());
  for (absl::Time at : {kT0 - absl::Seconds(1), kNow + absl::Seconds(1)}) {
    ExpectStatus(Decide(Planned(), Session(at)),
                 absl::StatusCode::kInvalidArgument,
                 "record_session.delivered_at: between the planned start and "
                 "now");
  }
  EventPayload session = Session(kNow);
  session.mutable_session_delivered()->clear_delivered_at();
  ExpectStatus(Decide(Planned(), session), absl::StatusCode::kInvalidArgument,
               "record_session.delivered_at: is required");
}

TEST(InterventionRulesTest, SessionLastsAMinuteToADay) {
  for (uint32_t minutes : {0u, 1441u}) {
    ExpectStatus(Decide(Planned(), Session(kNow, minutes)),
                 absl::StatusCode::kInvalidArgument,
                 "record_session.duration_minutes: 1 to 1440");
  }
  for (uint32_t minutes : {1u, 1440u}) {
    EXPECT_TRUE(Decide(Planned(), Session(kNow, minutes)).ok()) << minutes;
  }
}

TEST(InterventionRulesTest, NoSessionsAfterTheEnd) {
  ExpectStatus(Decide(Ended(), Session(kNow)),
               absl::StatusCode::kFailedPrecondition,
               "cannot record a session of an intervention that is ended");
}

TEST(InterventionRulesTest, SessionsFoldIntoCounts) {
  InterventionView view = Planned();
  Record(Session(kT0 + 2 * kDay, 60, true), &view);
  Record(Session(kT0 + 5 * kDay, 60, false), &view);
  // Recorded late, about an earlier session.
  Record(Session(kT0 + kDay, 30, true), &view);
  EXPECT_EQ(view.sessions_delivered, 3u);
  EXPECT_EQ(view.sessions_attended, 2u);
  EXPECT_EQ(view.last_session_at, kT0 + 5 * kDay);
  EXPECT_EQ(view.version, 4u);
  EXPECT_EQ(view.state, State::kPlanned);
}

// ---- End ----

TEST(InterventionRulesTest, EndNeedsAReasonAndEndsOnce) {
  EXPECT_TRUE(Decide(Planned(), End()).ok());
  EventPayload end = End();
  end.mutable_personal()->set_reason(" ");
  ExpectStatus(Decide(Planned(), end), absl::StatusCode::kInvalidArgument,
               "personal.reason: is required");
  // Whole-school work ends without one (it has no personal part to carry
  // it).
  EventPayload bare;
  bare.mutable_intervention_ended();
  EXPECT_TRUE(
      Decide(Planned(Plan(v1::INTERVENTION_TYPE_STAFF_TRAINING, "")), bare)
          .ok());
  ExpectStatus(Decide(Ended(), End()), absl::StatusCode::kFailedPrecondition,
               "cannot end an intervention that is ended");
  InterventionView view = Ended();
  EXPECT_EQ(view.state, State::kEnded);
  EXPECT_EQ(view.version, 2u);
}

// ---- Outcomes ----

TEST(InterventionRulesTest, OutcomesMeasureAtLeastOneArea) {
  EventPayload p;
  p.mutable_outcomes_recorded()->set_attendance(
      v1::OUTCOME_CHANGE_NOT_MEASURED);
  ExpectStatus(Decide(Planned(), p), absl::StatusCode::kInvalidArgument,
               "record_outcomes: measure at least one of attendance, "
               "attainment and wellbeing");
  for (v1::OutcomeChange change :
       {v1::OUTCOME_CHANGE_IMPROVED, v1::OUTCOME_CHANGE_NO_CHANGE,
        v1::OUTCOME_CHANGE_WORSENED}) {
    EventPayload one;
    one.mutable_outcomes_recorded()->set_attainment(change);
    EXPECT_TRUE(Decide(Planned(), one).ok()) << change;
  }
}

TEST(InterventionRulesTest, OutcomesWithoutAReportDuringOrAfter) {
  EXPECT_TRUE(Decide(Planned(), Outcomes()).ok());
  EXPECT_TRUE(Decide(Ended(), Outcomes()).ok());
  EXPECT_TRUE(Decide(Ended(), Reported()).ok());
}

TEST(InterventionRulesTest, OutcomesOfWholeSchoolWorkAreRecordedNotReported) {
  const InterventionView view =
      Planned(Plan(v1::INTERVENTION_TYPE_STAFF_TRAINING, ""));
  EXPECT_TRUE(Decide(view, Outcomes()).ok());
  ExpectStatus(Decide(view, Reported()), absl::StatusCode::kInvalidArgument,
               "record_outcomes.report: whole-school work has no young "
               "carer's outcomes to report");
}

TEST(InterventionRulesTest, ReportGoesToThePlansSchoolForImpactReporting) {
  EXPECT_TRUE(Decide(Planned(), Reported()).ok());
  v1::DisclosureRecorded report = Report();
  report.mutable_to()->set_organisation("school-100002");
  ExpectStatus(Decide(Planned(), Reported(report)),
               absl::StatusCode::kInvalidArgument,
               "record_outcomes.report.to.organisation: must be "
               "school-100001");
  report = Report();
  report.set_purpose(v1::PURPOSE_SUPPORT_IN_SCHOOL);
  ExpectStatus(Decide(Planned(), Reported(report)),
               absl::StatusCode::kInvalidArgument,
               "record_outcomes.report.purpose: must be "
               "PURPOSE_IMPACT_REPORTING");
  report = Report();
  report.set_subject_id("s-2");
  ExpectStatus(Decide(Planned(), Reported(report)),
               absl::StatusCode::kInvalidArgument,
               "record_outcomes.report.subject_id: must be s-1");
}

TEST(InterventionRulesTest, ReportIsAValidDisclosureFromTheService) {
  v1::DisclosureRecorded report = Report();
  report.mutable_from()->set_organisation(kSchool);
  ExpectStatus(Decide(Planned(), Reported(report)),
               absl::StatusCode::kPermissionDenied,
               "record_outcomes.report.from.organisation");
  report = Report();
  report.clear_consent();
  ExpectStatus(Decide(Planned(), Reported(report)),
               absl::StatusCode::kFailedPrecondition,
               "record_outcomes.report.sharing rule");
  report = Report();
  report.clear_disclosure_id();
  ExpectStatus(Decide(Planned(), Reported(report)),
               absl::StatusCode::kInvalidArgument,
               "record_outcomes.report.disclosure_id: is required");
}

TEST(InterventionRulesTest, ReportListsTheCategoryOfEveryMeasuredOutcome) {
  struct Case {
    v1::OutcomeChange attendance, attainment, wellbeing;
    const char* missing;
  };
  const Case cases[] = {
      {v1::OUTCOME_CHANGE_IMPROVED, {}, {}, "DATA_CATEGORY_ATTENDANCE"},
      {{}, v1::OUTCOME_CHANGE_WORSENED, {}, "DATA_CATEGORY_ATTAINMENT"},
      {{}, {}, v1::OUTCOME_CHANGE_NO_CHANGE, "DATA_CATEGORY_WELLBEING"},
  };
  for (const Case& c : cases) {
    EventPayload p;
    auto* e = p.mutable_outcomes_recorded();
    e->set_attendance(c.attendance);
    e->set_attainment(c.attainment);
    e->set_wellbeing(c.wellbeing);
    *e->mutable_report() = Report();
    e->mutable_report()->clear_categories();
    e->mutable_report()->add_categories(v1::DATA_CATEGORY_IDENTITY);
    ExpectStatus(Decide(Planned(), p), absl::StatusCode::kInvalidArgument,
                 std::string("record_outcomes.report.categories: the report "
                             "discloses ") +
                     (c.attendance   ? "attendance"
                      : c.attainment ? "attainment"
                                     : "wellbeing") +
                     ", so it must list " + c.missing);
  }
  // All three measured: all three listed.
  EventPayload p = Reported();
  p.mutable_outcomes_recorded()->set_attainment(v1::OUTCOME_CHANGE_IMPROVED);
  ExpectStatus(Decide(Planned(), p), absl::StatusCode::kInvalidArgument,
               "must list DATA_CATEGORY_ATTAINMENT");
  p.mutable_outcomes_recorded()->mutable_report()->add_categories(
      v1::DATA_CATEGORY_ATTAINMENT);
  EXPECT_TRUE(Decide(Planned(), p).ok());
}

TEST(InterventionRulesTest, UnmeasuredOutcomesNeedNoCategory) {
  EventPayload p = Reported();
  p.mutable_outcomes_recorded()->set_attainment(
      v1::OUTCOME_CHANGE_NOT_MEASURED);
  EXPECT_TRUE(Decide(Planned(), p).ok());
}

TEST(InterventionRulesTest, OutcomesFoldAsTheLatest) {
  InterventionView view = Planned();
  Record(Outcomes(), &view);
  EventPayload later;
  later.mutable_outcomes_recorded()->set_attainment(
      v1::OUTCOME_CHANGE_WORSENED);
  Record(later, &view);
  EXPECT_EQ(view.latest_outcomes.attainment(), v1::OUTCOME_CHANGE_WORSENED);
  EXPECT_EQ(view.latest_outcomes.attendance(), v1::OUTCOME_CHANGE_UNSPECIFIED);
  EXPECT_EQ(view.version, 3u);
}

TEST(InterventionRulesTest, ApplyRefusesOtherEvents) {
  InterventionView view = Planned();
  v1::RecordedEvent recorded;
  recorded.mutable_payload()->mutable_concern_closed();
  recorded.set_stream_version(5);
  ExpectStatus(ApplyInterventionEvent(recorded, &view),
               absl::StatusCode::kInvalidArgument,
               "payload: is not an intervention event");
  EXPECT_EQ(view.version, 1u);
}

}  // namespace
}  // namespace ycr::domain
