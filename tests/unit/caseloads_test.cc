// The caseloads projection over a real log and store: counts per service
// (open referrals by state, open interventions by worker) and per school
// (identified, referred, accepted, supported, closed) moved by every
// transition; open referrals listed per organisation, in pages; equal to a
// rebuild.

#include "projections/caseloads.h"

#include <map>

#include "common/clock.h"
#include "common/ids.h"
#include "common/proto_time.h"
#include "gtest/gtest.h"
#include "projections/host.h"
#include "storage/rocksdb_event_log.h"
#include "tests/unit/test_util.h"

namespace ycr::projections {
namespace {

using v1::CaseloadCounts;
using v1::CaseloadReferral;

constexpr char kSchool[] = "school-100001";
constexpr char kNewSchool[] = "school-200002";
constexpr char kService[] = "service-7";
const absl::Time kT0 = absl::FromUnixSeconds(1'780'000'000);

std::string StateKey(v1::ReferralState state) {
  return v1::ReferralState_Name(state);
}

class CaseloadsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    storage::RocksDbEventLogOptions options;
    options.path = dir_.path() + "/store";
    options.clock = &clock_;
    options.sync = false;
    auto log = storage::RocksDbEventLog::Open(options);
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = *std::move(log);
    store_ = log_->NewProjectionStore();
    host_ = std::make_unique<ProjectionHost>(log_.get(), store_.get());
    host_->Add(std::make_unique<CaseloadsProjection>());
    ASSERT_TRUE(host_->Start().ok());
  }

  void TearDown() override {
    host_->Stop();
    log_->Close();
  }

  // Appends `payload` to `stream` as `organisation`, at the clock's time.
  uint64_t Append(const std::string& stream, v1::EventPayload payload,
                  const std::string& organisation = kSchool) {
    storage::AppendRequest request;
    request.stream = stream;
    request.actor.set_organisation(organisation);
    request.actor.set_user("u");
    request.actor.set_role("r");
    v1::ProposedEvent& e = request.events.emplace_back();
    e.set_event_id(NewUuid());
    *e.mutable_payload() = std::move(payload);
    auto result = log_->Append(std::move(request));
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? result->last_position : 0;
  }

  uint32_t Generation() {
    auto lease = host_->Await("caseloads", log_->GetHead().position,
                              absl::Now() + absl::Seconds(10));
    EXPECT_TRUE(lease.ok()) << lease.status();
    return lease.ok() ? (*lease)->generation() : 0;
  }

  CaseloadCounts Of(const std::string& organisation) {
    auto counts = Counts(*store_, Generation(), organisation);
    EXPECT_TRUE(counts.ok()) << counts.status();
    return counts.ok() ? *counts : CaseloadCounts();
  }

  // Every open referral listed under `organisation`.
  std::vector<CaseloadReferral> List(const std::string& organisation) {
    std::vector<CaseloadReferral> out;
    std::string token;
    absl::Status s = ListReferrals(*store_, Generation(), organisation, "",
                                   1000, &out, &token);
    EXPECT_TRUE(s.ok()) << s;
    EXPECT_TRUE(token.empty());
    return out;
  }

  // The subject of referral `id`: "subject-of-<id>" unless SubmitFor named
  // another.
  std::string SubjectOf(const std::string& id) {
    auto it = subjects_.find(id);
    return it == subjects_.end() ? "subject-of-" + id : it->second;
  }

  // Submits referral `id` about `subject_id`.
  uint64_t SubmitFor(const std::string& id, const std::string& subject_id) {
    subjects_[id] = subject_id;
    return Referral(id, "submit");
  }

  // Submitted (unless SubmitFor did), accepted, assessed and registered.
  void Registered(const std::string& id) {
    if (subjects_.count(id) == 0) Referral(id, "submit");
    for (const char* step : {"accept", "schedule", "complete", "register"}) {
      Referral(id, step);
    }
  }

  // The referral's transitions, by name.
  uint64_t Referral(const std::string& id, const std::string& transition,
                    const std::string& to_school = "") {
    v1::EventPayload p;
    std::string by = kService;
    if (transition == "submit") {
      auto* s = p.mutable_referral_submitted();
      s->set_referral_id(id);
      s->set_subject_id(SubjectOf(id));
      s->set_school(kSchool);
      s->set_service(kService);
      by = kSchool;
    } else if (transition == "receive") {
      p.mutable_referral_received();
    } else if (transition == "accept") {
      p.mutable_referral_accepted();
    } else if (transition == "decline") {
      p.mutable_referral_declined();
    } else if (transition == "schedule") {
      *p.mutable_assessment_scheduled()->mutable_scheduled_for() =
          ToProtoTime(kT0 + absl::Hours(48));
    } else if (transition == "complete") {
      p.mutable_assessment_completed();
      // The log seals a personal part under its subject's key.
      p.mutable_personal()->set_subject_id(SubjectOf(id));
      p.mutable_personal()->add_needs("respite");
    } else if (transition == "register") {
      p.mutable_referral_registered();
    } else if (transition == "hold") {
      p.mutable_referral_held();
    } else if (transition == "resume") {
      p.mutable_referral_resumed();
    } else if (transition == "close") {
      p.mutable_referral_closed();
    } else if (transition == "withdraw") {
      p.mutable_referral_withdrawn();
      by = kSchool;
    } else if (transition == "cancel") {
      p.mutable_referral_cancelled();
    } else if (transition == "error") {
      p.mutable_referral_entered_in_error();
      by = kSchool;
    } else if (transition == "transfer") {
      p.mutable_referral_transferred()->set_to_school(to_school);
      by = kSchool;
    } else {
      ADD_FAILURE() << "unknown transition " << transition;
    }
    return Append("referral-" + id, p, by);
  }

  void Plan(const std::string& id, const std::string& subject_id,
            const std::string& worker) {
    v1::EventPayload p;
    auto* plan = p.mutable_intervention_planned();
    plan->set_intervention_id(id);
    plan->set_service(kService);
    plan->set_school(kSchool);
    plan->set_subject_id(subject_id);
    plan->set_type(subject_id.empty()
                       ? v1::INTERVENTION_TYPE_ASSEMBLY_OR_PSE_LESSON
                       : v1::INTERVENTION_TYPE_ONE_TO_ONE);
    plan->set_worker(worker);
    Append("intervention-" + id, p, kService);
  }

  void End(const std::string& id) {
    v1::EventPayload p;
    p.mutable_intervention_ended();
    Append("intervention-" + id, p, kService);
  }

  void Identify(const std::string& subject_id, v1::CensusCode code,
                const std::string& school = kSchool) {
    v1::EventPayload p;
    auto* y = p.mutable_young_carer_identified();
    y->set_subject_id(subject_id);
    y->set_school(school);
    y->set_census_code(code);
    Append("subject-" + subject_id, p, school);
  }

  // The state counts of the service, as a plain map.
  std::map<std::string, uint64_t> ByState() {
    CaseloadCounts c = Of(kService);
    return {c.by_state().begin(), c.by_state().end()};
  }

  std::map<std::string, std::string> subjects_;
  ManualClock clock_{kT0};
  test::TempDir dir_;
  std::unique_ptr<storage::RocksDbEventLog> log_;
  std::unique_ptr<storage::ProjectionStore> store_;
  std::unique_ptr<ProjectionHost> host_;
};

using Map = std::map<std::string, uint64_t>;

TEST_F(CaseloadsTest, ReferralCountsFollowTheStateMachine) {
  EXPECT_TRUE(ByState().empty());
  const uint64_t submitted = Referral("r-1", "submit");
  EXPECT_EQ(ByState(), (Map{{StateKey(v1::REFERRAL_STATE_SUBMITTED), 1}}));
  CaseloadCounts school = Of(kSchool);
  EXPECT_EQ(school.referred(), 1u);
  EXPECT_EQ(school.accepted(), 0u);
  EXPECT_TRUE(school.by_state().empty());  // By state is the service's.
  ASSERT_EQ(List(kService).size(), 1u);
  EXPECT_EQ(List(kService)[0].position(), submitted);

  clock_.Advance(absl::Hours(1));
  Referral("r-1", "receive");
  EXPECT_EQ(ByState(), (Map{{StateKey(v1::REFERRAL_STATE_RECEIVED), 1}}));
  Referral("r-1", "accept");
  EXPECT_EQ(ByState(), (Map{{StateKey(v1::REFERRAL_STATE_ACCEPTED), 1}}));
  EXPECT_EQ(Of(kSchool).accepted(), 1u);
  Referral("r-1", "schedule");
  Referral("r-1", "schedule");  // Rescheduled: still one.
  EXPECT_EQ(ByState(),
            (Map{{StateKey(v1::REFERRAL_STATE_ASSESSMENT_SCHEDULED), 1}}));
  Referral("r-1", "complete");
  EXPECT_EQ(Of(kSchool).supported(), 0u);
  Referral("r-1", "register");
  EXPECT_EQ(ByState(), (Map{{StateKey(v1::REFERRAL_STATE_REGISTERED), 1}}));
  EXPECT_EQ(Of(kSchool).supported(), 1u);

  clock_.Advance(absl::Hours(1));
  Referral("r-1", "hold");
  EXPECT_EQ(ByState(), (Map{{StateKey(v1::REFERRAL_STATE_ON_HOLD), 1}}));
  EXPECT_EQ(FromProtoTime(List(kSchool)[0].since()), kT0 + absl::Hours(2));
  clock_.Advance(absl::Hours(1));
  const uint64_t resumed = Referral("r-1", "resume");
  EXPECT_EQ(ByState(), (Map{{StateKey(v1::REFERRAL_STATE_REGISTERED), 1}}));
  const CaseloadReferral listed = List(kSchool).at(0);
  EXPECT_EQ(listed.state(), v1::REFERRAL_STATE_REGISTERED);
  EXPECT_EQ(FromProtoTime(listed.since()), kT0 + absl::Hours(3));
  EXPECT_EQ(listed.position(), resumed);
  EXPECT_EQ(listed.subject_id(), "subject-of-r-1");

  Referral("r-1", "close");
  EXPECT_TRUE(ByState().empty());
  school = Of(kSchool);
  EXPECT_EQ(school.referred(), 1u);
  EXPECT_EQ(school.accepted(), 1u);
  EXPECT_EQ(school.supported(), 0u);  // No longer registered.
  EXPECT_EQ(school.closed(), 1u);
  EXPECT_TRUE(List(kSchool).empty());
  EXPECT_TRUE(List(kService).empty());

  // Entered in error: it never happened.
  Referral("r-1", "error");
  school = Of(kSchool);
  EXPECT_EQ(school.referred(), 0u);
  EXPECT_EQ(school.accepted(), 0u);
  EXPECT_EQ(school.supported(), 0u);
  EXPECT_EQ(school.closed(), 0u);
}

TEST_F(CaseloadsTest, DeclineWithdrawCancelAndErrorEndOpenReferrals) {
  Referral("r-1", "submit");
  Referral("r-1", "decline");
  Referral("r-2", "submit");
  Referral("r-2", "accept");
  Referral("r-2", "withdraw");
  Referral("r-3", "submit");
  Referral("r-3", "receive");
  Referral("r-3", "cancel");
  Referral("r-4", "submit");
  Referral("r-4", "accept");
  Referral("r-5", "submit");
  Referral("r-5", "receive");
  EXPECT_EQ(ByState(), (Map{{StateKey(v1::REFERRAL_STATE_ACCEPTED), 1},
                            {StateKey(v1::REFERRAL_STATE_RECEIVED), 1}}));
  CaseloadCounts school = Of(kSchool);
  EXPECT_EQ(school.referred(), 5u);
  EXPECT_EQ(school.accepted(), 2u);  // r-2 (withdrawn since) and r-4.
  EXPECT_EQ(school.closed(), 0u);

  // An open referral entered in error leaves every count.
  Referral("r-4", "error");
  EXPECT_EQ(ByState(), (Map{{StateKey(v1::REFERRAL_STATE_RECEIVED), 1}}));
  school = Of(kSchool);
  EXPECT_EQ(school.referred(), 4u);
  EXPECT_EQ(school.accepted(), 1u);
  std::vector<CaseloadReferral> open = List(kService);
  ASSERT_EQ(open.size(), 1u);
  EXPECT_EQ(open[0].referral_id(), "r-5");
  EXPECT_EQ(open[0].state(), v1::REFERRAL_STATE_RECEIVED);
  EXPECT_EQ(List(kSchool).size(), 1u);
}

TEST_F(CaseloadsTest, TransferMovesTheReferralToTheNewSchool) {
  Referral("r-1", "submit");
  Referral("r-1", "accept");
  Referral("r-2", "submit");
  const absl::Time since = clock_.Now();
  clock_.Advance(absl::Hours(5));
  const uint64_t moved = Referral("r-1", "transfer", kNewSchool);

  CaseloadCounts old_school = Of(kSchool);
  EXPECT_EQ(old_school.referred(), 1u);  // r-2 only.
  EXPECT_EQ(old_school.accepted(), 0u);
  CaseloadCounts new_school = Of(kNewSchool);
  EXPECT_EQ(new_school.referred(), 1u);
  EXPECT_EQ(new_school.accepted(), 1u);
  // The service's counts do not move.
  EXPECT_EQ(ByState(), (Map{{StateKey(v1::REFERRAL_STATE_ACCEPTED), 1},
                            {StateKey(v1::REFERRAL_STATE_SUBMITTED), 1}}));

  std::vector<CaseloadReferral> old_list = List(kSchool);
  ASSERT_EQ(old_list.size(), 1u);
  EXPECT_EQ(old_list[0].referral_id(), "r-2");
  std::vector<CaseloadReferral> new_list = List(kNewSchool);
  ASSERT_EQ(new_list.size(), 1u);
  EXPECT_EQ(new_list[0].referral_id(), "r-1");
  EXPECT_EQ(new_list[0].school(), kNewSchool);
  EXPECT_EQ(new_list[0].state(), v1::REFERRAL_STATE_ACCEPTED);
  EXPECT_EQ(FromProtoTime(new_list[0].since()), since);  // Same state.
  EXPECT_EQ(new_list[0].position(), moved);
  std::vector<CaseloadReferral> service_list = List(kService);
  ASSERT_EQ(service_list.size(), 2u);
  EXPECT_EQ(service_list[0].SerializeAsString(),
            new_list[0].SerializeAsString());

  // Later transitions count at the new school.
  Referral("r-1", "close");
  EXPECT_EQ(Of(kNewSchool).closed(), 1u);
  EXPECT_EQ(Of(kSchool).closed(), 0u);
  EXPECT_TRUE(List(kNewSchool).empty());
}

TEST_F(CaseloadsTest, InterventionsCountByWorkerAndSupportSubjects) {
  Plan("i-1", "s-1", "worker-a");
  Plan("i-2", "s-1", "worker-b");
  Plan("i-3", "s-2", "worker-a");
  Plan("i-4", "", "worker-c");  // Whole-school: nobody supported.
  CaseloadCounts service = Of(kService);
  EXPECT_EQ(Map(service.by_worker().begin(), service.by_worker().end()),
            (Map{{"worker-a", 2}, {"worker-b", 1}, {"worker-c", 1}}));
  EXPECT_EQ(Of(kSchool).supported(), 2u);

  End("i-1");
  service = Of(kService);
  EXPECT_EQ(Map(service.by_worker().begin(), service.by_worker().end()),
            (Map{{"worker-a", 1}, {"worker-b", 1}, {"worker-c", 1}}));
  EXPECT_EQ(Of(kSchool).supported(), 2u);  // s-1 still has i-2.
  End("i-2");
  End("i-2");  // Ended already: nothing more.
  EXPECT_EQ(Of(kSchool).supported(), 1u);
  End("i-3");
  End("i-4");
  service = Of(kService);
  EXPECT_TRUE(service.by_worker().empty());
  EXPECT_EQ(Of(kSchool).supported(), 0u);

  // A registered young carer and another in an intervention: two.
  Referral("r-1", "submit");
  Referral("r-1", "accept");
  Referral("r-1", "schedule");
  Referral("r-1", "complete");
  Referral("r-1", "register");
  Plan("i-5", "s-3", "worker-a");
  EXPECT_EQ(Of(kSchool).supported(), 2u);
}

// "Supported" counts a registration while it lasts: on hold from registered
// is a pause; closed or withdrawn, it ends; on hold before registration
// never counted.
TEST_F(CaseloadsTest, ARegistrationCountsWhileItLasts) {
  Registered("r-1");
  EXPECT_EQ(Of(kSchool).supported(), 1u);
  Referral("r-1", "hold");
  EXPECT_EQ(Of(kSchool).supported(), 1u);
  Referral("r-1", "resume");
  EXPECT_EQ(Of(kSchool).supported(), 1u);
  Referral("r-1", "close");
  EXPECT_EQ(Of(kSchool).supported(), 0u);

  Registered("r-2");
  EXPECT_EQ(Of(kSchool).supported(), 1u);
  Referral("r-2", "withdraw");
  EXPECT_EQ(Of(kSchool).supported(), 0u);

  Referral("r-3", "submit");
  Referral("r-3", "accept");
  Referral("r-3", "hold");
  EXPECT_EQ(Of(kSchool).supported(), 0u);
  Referral("r-3", "resume");
  Referral("r-3", "schedule");
  Referral("r-3", "complete");
  Referral("r-3", "register");
  EXPECT_EQ(Of(kSchool).supported(), 1u);
}

// "Supported" is the number of distinct young carers registered with a
// service (a referral that reached registered) or in an open intervention:
// each child once, however many reasons they have.
TEST_F(CaseloadsTest, SupportedCountsEachYoungCarerOnce) {
  const std::string child = SubjectOf("r-1");
  Registered("r-1");
  EXPECT_EQ(Of(kSchool).supported(), 1u);
  Plan("i-1", child, "worker-a");
  Plan("i-2", child, "worker-b");
  EXPECT_EQ(Of(kSchool).supported(), 1u);  // Registered and in two: one.
  End("i-1");
  EXPECT_EQ(Of(kSchool).supported(), 1u);

  // Referred again after a close and registered again: still one child.
  Referral("r-1", "close");
  SubmitFor("r-2", child);
  Registered("r-2");
  EXPECT_EQ(Of(kSchool).supported(), 1u);
  EXPECT_EQ(Of(kSchool).referred(), 2u);  // Referrals still count each.

  // Another child, in an intervention only: two.
  Plan("i-3", "s-9", "worker-a");
  EXPECT_EQ(Of(kSchool).supported(), 2u);

  // The child stays supported while any reason remains.
  Referral("r-2", "error");
  EXPECT_EQ(Of(kSchool).supported(), 2u);
  Referral("r-1", "error");
  EXPECT_EQ(Of(kSchool).supported(), 2u);  // i-2 is still open.
  End("i-2");
  EXPECT_EQ(Of(kSchool).supported(), 1u);
  End("i-3");
  EXPECT_EQ(Of(kSchool).supported(), 0u);

  // A transfer moves the registration; the intervention stays at the old
  // school: each school counts the child once.
  Registered("r-3");
  Plan("i-4", SubjectOf("r-3"), "worker-a");
  EXPECT_EQ(Of(kSchool).supported(), 1u);
  Referral("r-3", "transfer", kNewSchool);
  EXPECT_EQ(Of(kSchool).supported(), 1u);
  EXPECT_EQ(Of(kNewSchool).supported(), 1u);
  End("i-4");
  EXPECT_EQ(Of(kSchool).supported(), 0u);
  EXPECT_EQ(Of(kNewSchool).supported(), 1u);
}

TEST_F(CaseloadsTest, IdentificationCountsDistinctSubjectsCodedPOrS) {
  Identify("s-1", v1::CENSUS_CODE_IDENTIFIED_BY_PARENT);
  Identify("s-2", v1::CENSUS_CODE_IDENTIFIED_BY_SCHOOL);
  Identify("s-1", v1::CENSUS_CODE_IDENTIFIED_BY_SCHOOL);  // Still one.
  Identify("s-3", v1::CENSUS_CODE_NOT_DECLARED);
  EXPECT_EQ(Of(kSchool).identified(), 2u);
  Identify("s-2", v1::CENSUS_CODE_IDENTIFIED_BY_PARENT, kNewSchool);
  EXPECT_EQ(Of(kNewSchool).identified(), 1u);

  Identify("s-1", v1::CENSUS_CODE_NOT_DECLARED);
  EXPECT_EQ(Of(kSchool).identified(), 1u);
  Identify("s-1", v1::CENSUS_CODE_NOT_DECLARED);
  EXPECT_EQ(Of(kSchool).identified(), 1u);
  Identify("s-1", v1::CENSUS_CODE_IDENTIFIED_BY_PARENT);  // Again.
  EXPECT_EQ(Of(kSchool).identified(), 2u);
  EXPECT_EQ(Of(kNewSchool).identified(), 1u);
  EXPECT_EQ(Of("school-unknown").SerializeAsString(), "");
}

TEST_F(CaseloadsTest, ListsArePagedInReferralIdOrder) {
  for (const char* id : {"r-5", "r-1", "r-7", "r-3", "r-2", "r-6", "r-4"}) {
    Referral(id, "submit");
  }
  Referral("r-3", "decline");
  std::vector<CaseloadReferral> all = List(kSchool);
  ASSERT_EQ(all.size(), 6u);
  for (size_t i = 1; i < all.size(); ++i) {
    EXPECT_LT(all[i - 1].referral_id(), all[i].referral_id());
  }

  const uint32_t generation = Generation();
  std::vector<CaseloadReferral> paged;
  std::string token;
  int pages = 0;
  do {
    std::vector<CaseloadReferral> page;
    ASSERT_TRUE(
        ListReferrals(*store_, generation, kSchool, token, 2, &page, &token)
            .ok());
    EXPECT_LE(page.size(), 2u);
    paged.insert(paged.end(), page.begin(), page.end());
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(pages, 3);  // No empty last page.
  ASSERT_EQ(paged.size(), all.size());
  for (size_t i = 0; i < paged.size(); ++i) {
    EXPECT_EQ(paged[i].SerializeAsString(), all[i].SerializeAsString());
  }

  // A token from another organisation's list is refused.
  std::vector<CaseloadReferral> page;
  std::string service_token;
  ASSERT_TRUE(
      ListReferrals(*store_, generation, kService, "", 1, &page, &service_token)
          .ok());
  ASSERT_FALSE(service_token.empty());
  std::string next;
  EXPECT_EQ(ListReferrals(*store_, generation, kSchool, service_token, 1, &page,
                          &next)
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ListReferrals(*store_, generation, kSchool, "not base64!", 1, &page,
                          &next)
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(CaseloadsTest, LiveStateEqualsARebuildByteForByte) {
  for (int i = 0; i < 12; ++i) {
    const std::string id = "r-" + std::to_string(i);
    Referral(id, "submit");
    clock_.Advance(absl::Minutes(7));
    if (i % 4 == 0) Referral(id, "decline");
    if (i % 4 == 1 || i % 4 == 2) Referral(id, "accept");
    if (i % 4 == 2) {
      Referral(id, "schedule");
      Referral(id, "complete");
      Referral(id, "register");
      Referral(id, "hold");
      if (i % 3 == 0) Referral(id, "resume");
    }
    if (i == 5) Referral(id, "transfer", kNewSchool);
    if (i == 6) Referral(id, "close");
    if (i == 9) Referral(id, "error");
    Plan("i-" + std::to_string(i), "s-" + std::to_string(i % 5),
         "worker-" + std::to_string(i % 3));
    if (i % 2 == 0) End("i-" + std::to_string(i));
    Identify("s-" + std::to_string(i % 4),
             i % 3 == 0 ? v1::CENSUS_CODE_NOT_DECLARED
                        : v1::CENSUS_CODE_IDENTIFIED_BY_SCHOOL);
  }

  auto live = host_->Await("caseloads", log_->GetHead().position,
                           absl::Now() + absl::Seconds(10));
  ASSERT_TRUE(live.ok());
  std::map<std::string, std::string> before;
  ASSERT_TRUE(store_
                  ->Scan("caseloads", (*live)->generation(), "", "",
                         [&](absl::string_view k, absl::string_view v) {
                           before[std::string(k)] = std::string(v);
                           return true;
                         })
                  .ok());
  ASSERT_TRUE(host_->Rebuild("caseloads").ok());
  ASSERT_TRUE(
      host_->AwaitRebuilt("caseloads", absl::Now() + absl::Seconds(10)).ok());
  auto rebuilt = host_->Await("caseloads", log_->GetHead().position,
                              absl::Now() + absl::Seconds(10));
  ASSERT_TRUE(rebuilt.ok());
  const uint32_t generation = (*rebuilt)->generation();
  ASSERT_NE(generation, (*live)->generation());
  std::map<std::string, std::string> after;
  ASSERT_TRUE(store_
                  ->Scan("caseloads", generation, "", "",
                         [&](absl::string_view k, absl::string_view v) {
                           after[std::string(k)] = std::string(v);
                           return true;
                         })
                  .ok());
  EXPECT_FALSE(before.empty());
  EXPECT_TRUE(before == after);
}

}  // namespace
}  // namespace ycr::projections
