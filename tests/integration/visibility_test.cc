// Who sees what, through the real read paths of a real server: a young
// carer's case where the service recorded things the school must not read
// (an assessment, outcome notes, a safeguarding concern "the child asked us
// not to tell school", a decision not to share with the school), and the
// school recorded its own concern. Each reader (the holder school, the
// local authority of the area, the organisation a concern was referred to,
// another school, an auditor) reads every path: Audit.Trail, the subject
// access pack, OrganisationDisclosures and the Get of each service. The
// table the rows follow is domain/visibility.h (its own matrix is
// tests/unit/visibility_test.cc).

#include "domain/visibility.h"

#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "domain/safeguarding_rules.h"
#include "tests/integration/domain_flows_fixture.h"
#include "ycr/v1/queries_service.grpc.pb.h"

namespace ycr::testing {
namespace {

const std::string kLa = "la-a";
const std::string kOtherLa = "la-b";

// Written by the service only; the school, the local authority and other
// schools must never read any of it.
const std::vector<std::string>& ServiceSecrets() {
  static const auto* secrets = new std::vector<std::string>{
      "NEEDS-7f3-respite for the mothers illness",
      "OUTCOME-NOTES-7f3",
      "child asked us not to tell school",
      "CHILD-WORDS-7f3",
      "WITHHELD-NOTES-7f3",
      "RISK-7f3",
  };
  return *secrets;
}
const std::string kSchoolFacts = "SCHOOL-FACTS-7f3";

using Shown = v1::AuditEntry::Shown;

class VisibilityTest : public DomainFlowsTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(PutInArea(kSchool, kLa));
    ASSERT_NO_FATAL_FAILURE(PutInArea(kService, kLa));
    ASSERT_NO_FATAL_FAILURE(AddSubject("s-1"));
    ASSERT_NO_FATAL_FAILURE(ReferToService("s-1"));
    const std::string referral = "r-ref-s-1";
    // The service assesses.
    v1::ReferralTransitionRequest step;
    step.set_referral_id(referral);
    step.mutable_receive();
    ASSERT_TRUE(Ok(Refer(step, kService)));
    step.mutable_accept();
    ASSERT_TRUE(Ok(Refer(step, kService)));
    *step.mutable_schedule_assessment()->mutable_scheduled_for() =
        At(clock_.Now() + kDay);
    ASSERT_TRUE(Ok(Refer(step, kService)));
    clock_.Advance(2 * kDay);
    step.mutable_complete_assessment();
    step.mutable_personal()->add_needs(ServiceSecrets()[0]);
    ASSERT_TRUE(Ok(Refer(step, kService)));
    // An intervention with the school named, and outcomes NOT reported.
    ASSERT_TRUE(Ok(Intervene(
        Plan("i-1", "s-1", v1::INTERVENTION_TYPE_MENTORING, clock_.Now()),
        kService)));
    v1::InterventionCommand outcomes;
    outcomes.set_intervention_id("i-1");
    outcomes.mutable_record_outcomes()->set_wellbeing(
        v1::OUTCOME_CHANGE_WORSENED);
    outcomes.mutable_personal()->set_notes(ServiceSecrets()[1]);
    ASSERT_TRUE(Ok(Intervene(outcomes, kService)));
    // The service's concern, its decision not to tell the school, and its
    // referral to children's social care.
    v1::SafeguardingCommand raise = Raise("g-1", "s-1", ServiceSecrets()[2]);
    raise.mutable_personal()->set_childs_words(ServiceSecrets()[3]);
    ASSERT_TRUE(Ok(Safeguard(raise, kService)));
    v1::SafeguardingCommand dsl = NotifyDsl("g-1");
    ASSERT_TRUE(Ok(Safeguard(dsl, kService)));
    v1::RecordDecisionNotToShareRequest decline;
    auto* d = decline.mutable_decision();
    d->set_subject_id("s-1");
    d->mutable_to()->set_organisation(kSchool);
    d->set_decision_maker("dsl-s");
    d->set_concern_id("g-1");
    d->add_categories(v1::DATA_CATEGORY_WELLBEING);
    decline.mutable_personal()->set_reason("the child asked us not to");
    decline.mutable_personal()->set_notes(ServiceSecrets()[4]);
    ASSERT_TRUE(Ok(DeclineToShare(decline, kService)));
    v1::SafeguardingCommand refer;
    refer.set_concern_id("g-1");
    auto* disclosure =
        refer.mutable_refer_to_social_care()->mutable_disclosure();
    *disclosure =
        Disclosure("s-1", kService, kSocialCare, v1::PURPOSE_SAFEGUARDING,
                   {v1::DATA_CATEGORY_WELLBEING}, "");
    *disclosure->mutable_safeguarding() = Basis();
    refer.mutable_personal()->set_risk_statement(ServiceSecrets()[5]);
    refer.mutable_personal()->set_not_told_reason("the child's wish");
    ASSERT_TRUE(Ok(Safeguard(refer, kService)));
    // The school's own concern.
    ASSERT_TRUE(Ok(Safeguard(Raise("g-2", "s-1", kSchoolFacts), kSchool)));
  }

  // The subject's trail as `org` reads it (role from its name).
  grpc::Status TrailAs(const std::string& org,
                       std::vector<v1::AuditEntry>* out) {
    auto audit = v1::Audit::NewStub(channel_);
    v1::AuditTrailRequest request;
    request.set_subject_id("s-1");
    request.set_min_position(Head());
    grpc::ClientContext context;
    AsCaller(&context, org);
    auto reader = audit->Trail(&context, request);
    v1::AuditEntry entry;
    while (reader->Read(&entry)) out->push_back(entry);
    return reader->Finish();
  }

  std::vector<v1::AuditEntry> Trail(const std::string& org) {
    std::vector<v1::AuditEntry> entries;
    EXPECT_TRUE(Ok(TrailAs(org, &entries))) << org;
    return entries;
  }

  template <typename Stub, typename Request, typename Response>
  grpc::Status GetAs(Stub* stub,
                     grpc::Status (Stub::*method)(grpc::ClientContext*,
                                                  const Request&, Response*),
                     const Request& request, const std::string& org,
                     Response* out) {
    grpc::ClientContext context;
    AsCaller(&context, org);
    return (stub->*method)(&context, request, out);
  }

  grpc::Status ConcernAs(const std::string& org, const std::string& id,
                         v1::Concern* out, const std::string& raised_by = "") {
    v1::GetConcernRequest r;
    r.set_concern_id(id);
    r.set_raised_by(raised_by);
    return GetAs(safeguarding_.get(), &v1::Safeguarding::Stub::Get, r, org,
                 out);
  }

  grpc::Status InterventionAs(const std::string& org, v1::Intervention* out) {
    v1::GetInterventionRequest r;
    r.set_intervention_id("i-1");
    return GetAs(interventions_.get(), &v1::Interventions::Stub::Get, r, org,
                 out);
  }

  // event_type -> how each entry of that type was shown (in log order).
  static std::map<std::string, std::vector<Shown>> ShownByType(
      const std::vector<v1::AuditEntry>& entries) {
    std::map<std::string, std::vector<Shown>> out;
    for (const v1::AuditEntry& e : entries) {
      out[e.event().event_type()].push_back(e.shown());
    }
    return out;
  }

  static std::string Text(const std::vector<v1::AuditEntry>& entries) {
    std::string text;
    for (const v1::AuditEntry& e : entries) text += e.DebugString();
    return text;
  }

  static ::testing::AssertionResult HasNoSecret(const std::string& text) {
    for (const std::string& secret : ServiceSecrets()) {
      if (absl::StrContains(text, secret)) {
        return ::testing::AssertionFailure() << "shows \"" << secret << "\"";
      }
    }
    return ::testing::AssertionSuccess();
  }
};

TEST_F(VisibilityTest, TheHolderSeesTheServicesCaseAsCodesAndNoneOfItsConcern) {
  const std::vector<v1::AuditEntry> trail = Trail(kSchool);
  EXPECT_TRUE(HasNoSecret(Text(trail)));
  for (const v1::AuditEntry& e : trail) {
    EXPECT_NE(e.event().stream(), domain::ConcernStream(kService, "g-1"))
        << e.DebugString();
    EXPECT_NE(e.event().event_type(), "sharing_declined") << e.DebugString();
    EXPECT_NE(e.shown(), v1::AuditEntry::SHOWN_UNSPECIFIED);
    if (e.shown() != v1::AuditEntry::SHOWN_FULL) {
      EXPECT_FALSE(e.event().payload().has_personal()) << e.DebugString();
      EXPECT_FALSE(e.event().payload().has_encrypted_personal());
      EXPECT_EQ(e.event().actor().user(), "") << e.DebugString();
      // Without the record's random bytes its hash cannot be tested against
      // guesses of what is hidden (the staff id, say).
      EXPECT_EQ(e.event().salt(), "") << e.DebugString();
    }
  }
  auto shown = ShownByType(trail);
  using E = v1::AuditEntry;
  // Its own records in full.
  EXPECT_EQ(shown["consent_granted"], std::vector<Shown>{E::SHOWN_FULL});
  EXPECT_EQ(shown["referral_submitted"], std::vector<Shown>{E::SHOWN_FULL});
  EXPECT_EQ(shown["concern_raised"], std::vector<Shown>{E::SHOWN_FULL});
  EXPECT_TRUE(absl::StrContains(Text(trail), kSchoolFacts));
  // The service's steps in the case it is party to: codes.
  EXPECT_EQ(shown["referral_accepted"], std::vector<Shown>{E::SHOWN_CODES});
  EXPECT_EQ(shown["assessment_completed"], std::vector<Shown>{E::SHOWN_CODES});
  EXPECT_EQ(shown["intervention_planned"], std::vector<Shown>{E::SHOWN_CODES});
  // Outcomes not reported to it: only that they were recorded.
  EXPECT_EQ(shown["outcomes_recorded"], std::vector<Shown>{E::SHOWN_SKELETON});
  // Nothing of the service's concern, its decision not to share, or its
  // referral to social care.
  EXPECT_EQ(shown.count("sharing_declined"), 0u);
  EXPECT_EQ(shown.count("social_care_referral_made"), 0u);
  EXPECT_EQ(shown.count("dsl_notified"), 0u);
}

TEST_F(VisibilityTest, AnAuditorSeesEverythingInFull) {
  const std::vector<v1::AuditEntry> trail = Trail("auditor-1");
  for (const v1::AuditEntry& e : trail) {
    EXPECT_EQ(e.shown(), v1::AuditEntry::SHOWN_FULL) << e.DebugString();
    EXPECT_EQ(e.event().salt().size(), 16u) << e.DebugString();
  }
  const std::string text = Text(trail);
  for (const std::string& secret : ServiceSecrets()) {
    EXPECT_TRUE(absl::StrContains(text, secret)) << secret;
  }
  EXPECT_EQ(ShownByType(trail)["concern_raised"].size(), 2u);
  EXPECT_EQ(ShownByType(trail)["sharing_declined"].size(), 1u);
}

TEST_F(VisibilityTest, TheAreaAuthoritySeesCodesOfTheCaseAndNoConcern) {
  const std::vector<v1::AuditEntry> trail = Trail(kLa);
  EXPECT_TRUE(HasNoSecret(Text(trail)));
  EXPECT_FALSE(absl::StrContains(Text(trail), kSchoolFacts));
  auto shown = ShownByType(trail);
  using E = v1::AuditEntry;
  EXPECT_EQ(shown["consent_granted"], std::vector<Shown>{E::SHOWN_CODES});
  EXPECT_EQ(shown["assessment_completed"], std::vector<Shown>{E::SHOWN_CODES});
  EXPECT_EQ(shown["outcomes_recorded"], std::vector<Shown>{E::SHOWN_SKELETON});
  EXPECT_EQ(shown.count("concern_raised"), 0u);
  EXPECT_EQ(shown.count("sharing_declined"), 0u);
  // Another area's authority and another school read no trail at all.
  std::vector<v1::AuditEntry> none;
  EXPECT_TRUE(Is(TrailAs(kOtherLa, &none), StatusCode::PERMISSION_DENIED));
  EXPECT_TRUE(Is(TrailAs(kOtherSchool, &none), StatusCode::PERMISSION_DENIED));
  EXPECT_TRUE(none.empty());
}

TEST_F(VisibilityTest, AConcernIsForItsRaiserAndWhomItWasReferredTo) {
  v1::Concern concern;
  EXPECT_TRUE(Ok(ConcernAs(kService, "g-1", &concern)));
  concern.Clear();
  EXPECT_TRUE(Ok(ConcernAs(kSocialCare, "g-1", &concern, kService)));
  EXPECT_TRUE(concern.referred_to_social_care());
  for (const std::string& org : {kSchool, kLa, kOtherSchool}) {
    v1::Concern refused;
    // A concern's existence is itself confidential: to anyone else it
    // answers exactly as a concern that does not exist.
    EXPECT_TRUE(Is(ConcernAs(org, "g-1", &refused), StatusCode::NOT_FOUND,
                   "no concern g-1"))
        << org;
  }
  // The school's own concern: not the service's, nor the authority's.
  EXPECT_TRUE(Ok(ConcernAs(kSchool, "g-2", &concern)));
  EXPECT_TRUE(Is(ConcernAs(kService, "g-2", &concern), StatusCode::NOT_FOUND));
  EXPECT_TRUE(Is(ConcernAs(kLa, "g-2", &concern), StatusCode::NOT_FOUND));
}

TEST_F(VisibilityTest, OutcomesReachTheSchoolOnlyWhenReportedToIt) {
  v1::Intervention intervention;
  ASSERT_TRUE(Ok(InterventionAs(kSchool, &intervention)));
  EXPECT_FALSE(intervention.has_latest_outcomes());
  EXPECT_EQ(intervention.plan().school(), kSchool);
  intervention.Clear();
  ASSERT_TRUE(Ok(InterventionAs(kLa, &intervention)));
  EXPECT_FALSE(intervention.has_latest_outcomes());
  intervention.Clear();
  ASSERT_TRUE(Ok(InterventionAs(kService, &intervention)));
  EXPECT_EQ(intervention.latest_outcomes().wellbeing(),
            v1::OUTCOME_CHANGE_WORSENED);

  // Reported under a consent for impact reporting: the school reads them.
  ASSERT_TRUE(Ok(
      Grant(Consent("c-impact", "s-1", kSchool, {v1::PURPOSE_IMPACT_REPORTING},
                    {v1::DATA_CATEGORY_WELLBEING}, clock_.Now()),
            kService)));
  v1::InterventionCommand report;
  report.set_intervention_id("i-1");
  report.mutable_record_outcomes()->set_wellbeing(v1::OUTCOME_CHANGE_IMPROVED);
  *report.mutable_record_outcomes()->mutable_report() =
      Disclosure("s-1", kService, kSchool, v1::PURPOSE_IMPACT_REPORTING,
                 {v1::DATA_CATEGORY_WELLBEING}, "c-impact");
  report.mutable_personal()->set_notes("REPORTED-NOTES");
  ASSERT_TRUE(Ok(Intervene(report, kService)));
  intervention.Clear();
  ASSERT_TRUE(Ok(InterventionAs(kSchool, &intervention)));
  EXPECT_EQ(intervention.latest_outcomes().wellbeing(),
            v1::OUTCOME_CHANGE_IMPROVED);
  const std::vector<v1::AuditEntry> trail = Trail(kSchool);
  using E = v1::AuditEntry;
  EXPECT_EQ(ShownByType(trail)["outcomes_recorded"],
            (std::vector<Shown>{E::SHOWN_SKELETON, E::SHOWN_FULL}));
  EXPECT_TRUE(absl::StrContains(Text(trail), "REPORTED-NOTES"));
  EXPECT_TRUE(HasNoSecret(Text(trail)));
}

TEST_F(VisibilityTest, ThePackHoldsWhatTheChildMaySeeAndItsCompilerMayRead) {
  v1::SubjectAccessPack pack;
  ASSERT_TRUE(Ok(PackAs(kSchool, &pack)));
  const std::vector<v1::AuditEntry> trail(pack.trail().begin(),
                                          pack.trail().end());
  EXPECT_TRUE(HasNoSecret(pack.DebugString()));
  // No child-protection record, not even the school's own concern.
  EXPECT_FALSE(absl::StrContains(Text(trail), kSchoolFacts));
  for (const v1::AuditEntry& e : trail) {
    EXPECT_NE(domain::ClassOf(e.event().payload()),
              domain::EventClass::kConfidential)
        << e.DebugString();
    // Other organisations' staff are not named; the school's own are.
    if (e.event().actor().organisation() != kSchool) {
      EXPECT_EQ(e.event().actor().user(), "") << e.DebugString();
    } else {
      EXPECT_EQ(e.event().actor().user(), "dsl-1") << e.DebugString();
    }
  }
  // The people around the child are third parties: not named.
  ASSERT_EQ(pack.record().related_size(), 1);
  EXPECT_EQ(pack.record().related(0).name(), "");
  EXPECT_EQ(pack.record().related(0).relationship(), "mother");
  EXPECT_EQ(pack.record().given_name(), "Given");

  // Compiled by an auditor: everything about the child but its
  // child-protection records, staff unnamed.
  v1::SubjectAccessPack full;
  ASSERT_TRUE(Ok(PackAs("auditor-1", &full)));
  EXPECT_TRUE(absl::StrContains(full.DebugString(), ServiceSecrets()[0]));
  EXPECT_FALSE(absl::StrContains(full.DebugString(), ServiceSecrets()[2]));
  for (const v1::AuditEntry& e : full.trail()) {
    EXPECT_EQ(e.event().actor().user(), "") << e.DebugString();
  }
}

TEST_F(VisibilityTest, DisclosuresOfAnOrganisationFollowTheSameRule) {
  std::vector<v1::AuditEntry> own;
  ASSERT_TRUE(Ok(DisclosuresAs(kService, kService, &own)));
  bool referral_to_social_care = false;
  for (const v1::AuditEntry& e : own) {
    if (e.event().event_type() == "social_care_referral_made") {
      referral_to_social_care = true;
      EXPECT_EQ(e.shown(), v1::AuditEntry::SHOWN_FULL);
    }
  }
  EXPECT_TRUE(referral_to_social_care);
  std::vector<v1::AuditEntry> received;
  ASSERT_TRUE(Ok(DisclosuresAs(kSocialCare, kSocialCare, &received)));
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].shown(), v1::AuditEntry::SHOWN_FULL);
  EXPECT_TRUE(
      absl::StrContains(received[0].DebugString(), ServiceSecrets()[5]));
  // The service's area authority oversees its disclosures, but a referral
  // of a concern to another body is not its to read.
  std::vector<v1::AuditEntry> overseen;
  ASSERT_TRUE(Ok(DisclosuresAs(kLa, kService, &overseen)));
  EXPECT_TRUE(HasNoSecret(Text(overseen)));
  for (const v1::AuditEntry& e : overseen) {
    EXPECT_NE(e.event().event_type(), "social_care_referral_made");
  }
}

// Every read path as every outside reader: none of the service's text
// appears in any answer that succeeds.
TEST_F(VisibilityTest, NoReadPathShowsTheServicesTextToAnyoneElse) {
  for (const std::string& org :
       {kSchool, kLa, kOtherLa, kOtherSchool, std::string("service-8")}) {
    std::string seen;
    std::vector<v1::AuditEntry> entries;
    if (TrailAs(org, &entries).ok()) seen += Text(entries);
    v1::SubjectAccessPack pack;
    if (PackAs(org, &pack).ok()) seen += pack.DebugString();
    for (const std::string& of : {org, kService, kSchool, kSocialCare}) {
      entries.clear();
      if (DisclosuresAs(org, of, &entries).ok()) seen += Text(entries);
    }
    v1::Concern concern;
    if (ConcernAs(org, "g-1", &concern).ok()) seen += concern.DebugString();
    v1::Intervention intervention;
    if (InterventionAs(org, &intervention).ok()) {
      seen += intervention.DebugString();
    }
    v1::GetReferralRequest referral;
    referral.set_referral_id("r-ref-s-1");
    v1::Referral got;
    if (GetAs(referrals_.get(), &v1::Referrals::Stub::Get, referral, org, &got)
            .ok()) {
      seen += got.DebugString();
    }
    v1::GetSubjectRecordRequest record;
    record.set_subject_id("s-1");
    v1::SubjectRecord held;
    if (GetAs(subjects_.get(), &v1::Subjects::Stub::GetRecord, record, org,
              &held)
            .ok()) {
      seen += held.DebugString();
    }
    EXPECT_TRUE(HasNoSecret(seen)) << org;
  }
}

}  // namespace
}  // namespace ycr::testing
