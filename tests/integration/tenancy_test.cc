// Tenancy, tested exhaustively against a real server: every RPC of ycr.v1
// (found from the compiled-in descriptors, so a new RPC without a row here
// fails) called as every role, once from organisation A's side ("own": the
// organisation the record belongs to) and once from another organisation of
// the same role ("other"), each with a valid request about A's data.
//
// The rules the rows assert:
// - A role the policy table refuses gets the gate's PERMISSION_DENIED, own
//   or other (and the row's expectations may not name it: checked).
// - A role the table allows: own succeeds; other gets PERMISSION_DENIED.
//   NOT_FOUND is never expected for another organisation's record: the
//   services do not hide existence (a missing record is NOT_FOUND to
//   everyone, another organisation's is PERMISSION_DENIED naming the rule;
//   ids are not secrets), so the rows expect PERMISSION_DENIED throughout,
//   but for one kind: a safeguarding concern, whose existence is itself
//   confidential, answers another organisation as a missing one does
//   (NOT_FOUND naming no one; README, "Who sees what").
// - RPCs that name no organisation (EventStore.*, Testing.*, Admin.Backup,
//   Projections.*, Deadlines.FlagOverdue) and the auditors' AccessLog.*
//   are "own" for both callers: their rows expect the same for both.
// - Auditors and the scheduler are cross-organisation by design: where
//   they may read a thing, they read A's as "other" too (auditor-b reads
//   school A's audit trail). The record reads (Referrals.Get etc.) are for
//   the parties only: the auditor's path to them is the audit trail.
// - The local authority: school A and service A are in la-a's area, B's in
//   la-b's (Areas.Assign, by the operator). "Own" for a local authority is
//   la-a reading A's data; "other" is la-b. It reads what its area's
//   organisations are party to (records, trails, deadlines, caseloads,
//   disclosures) and places legal holds on its area's records.
// - Every refused write leaves the log head unchanged.
//
// Where a row asserts behaviour that is a known gap rather than the rule,
// it says `HOLE:` (none today).

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/text_format.h"
#include "services/security/access_policy.h"
#include "tests/integration/domain_flows_fixture.h"
#include "tests/integration/every_rpc.h"
#include "ycr/v1/area_service.grpc.pb.h"

namespace ycr::testing {
namespace {

using google::protobuf::MethodDescriptor;
using services::kAdminRole;
using services::kAuditorRole;
using services::kLocalAuthorityRole;
using services::kSchedulerRole;
using services::kSchoolRole;
using services::kServiceRole;

constexpr StatusCode OK = StatusCode::OK;
constexpr StatusCode DENIED = StatusCode::PERMISSION_DENIED;

// Organisation B's school and service (A's are kSchool and kService).
const std::string kSchoolB = "school-200002";
const std::string kServiceB = "service-8";

// The organisation a caller of `role` acts for on side A or side B.
std::string OrgOf(const std::string& role, bool own) {
  static const auto* orgs =
      new std::map<std::string, std::pair<std::string, std::string>>{
          {kSchoolRole, {kSchool, kSchoolB}},
          {kServiceRole, {kService, kServiceB}},
          {kLocalAuthorityRole, {"la-a", "la-b"}},
          {kAuditorRole, {"auditor-a", "auditor-b"}},
          {kSchedulerRole, {"scheduler-a", "scheduler-b"}},
          {kAdminRole, {"ops-a", "ops-b"}},
      };
  const auto& pair = orgs->at(role);
  return own ? pair.first : pair.second;
}

// Calls `path` with the serialized `request` as (organisation, role).
grpc::Status Call(const std::shared_ptr<grpc::Channel>& channel,
                  const std::string& path, const std::string& request,
                  const std::string& organisation, const std::string& role) {
  return CallRaw(channel, path, request, organisation, "user-1", role);
}

// The request of `method` written in text format, with a fresh request_id
// when the message has one.
std::string Encode(const MethodDescriptor* method, const std::string& text) {
  const google::protobuf::Message* prototype =
      google::protobuf::MessageFactory::generated_factory()->GetPrototype(
          method->input_type());
  std::unique_ptr<google::protobuf::Message> message(prototype->New());
  EXPECT_TRUE(
      google::protobuf::TextFormat::ParseFromString(text, message.get()))
      << method->full_name() << ": " << text;
  const auto* field = message->GetDescriptor()->FindFieldByName("request_id");
  if (field != nullptr) {
    message->GetReflection()->SetString(message.get(), field, NewUuid());
  }
  return message->SerializeAsString();
}

std::string Seconds(absl::Time t) {
  return absl::StrCat("{ seconds: ", absl::ToUnixSeconds(t), " }");
}

// An expected outcome: a code, and a fragment its message contains.
struct Outcome {
  StatusCode code = OK;
  std::string fragment;
};

// One RPC's row: the request about A's data a caller of `role` sends, an
// optional setup run as A's organisation of that role first (with the
// call's fresh id), and the outcomes (own, other) for each role the policy
// table allows (a role not listed must be one the table refuses).
struct Row {
  using Request = std::function<std::string(const std::string& role,
                                            const std::string& id)>;
  using Setup =
      std::function<void(const std::string& role, const std::string& id)>;
  using Outcomes = std::map<std::string, std::pair<Outcome, Outcome>>;
  Row() = default;
  Row(Request request, Outcomes allowed, Setup setup = nullptr)
      : request(std::move(request)),
        allowed(std::move(allowed)),
        setup(std::move(setup)) {}
  Request request;
  Outcomes allowed;
  Setup setup;
};

const Outcome kOk{OK, ""};

// Own succeeds, another organisation is refused with `fragment`.
std::pair<Outcome, Outcome> OwnOnly(const std::string& fragment) {
  return {kOk, {DENIED, fragment}};
}
// Both succeed (cross-organisation by design, or no organisation named).
std::pair<Outcome, Outcome> Both() { return {kOk, kOk}; }
// Both refused with `fragment` (the role may call the RPC, but not for
// this record).
std::pair<Outcome, Outcome> Neither(const std::string& fragment) {
  return {{DENIED, fragment}, {DENIED, fragment}};
}
// A confidential record (a concern): own succeeds; another organisation
// gets the answer for a missing one.
std::pair<Outcome, Outcome> OwnOnlyHidden(const std::string& fragment) {
  return {kOk, {StatusCode::NOT_FOUND, fragment}};
}
std::pair<Outcome, Outcome> NeitherHidden(const std::string& fragment) {
  return {{StatusCode::NOT_FOUND, fragment}, {StatusCode::NOT_FOUND, fragment}};
}

// The domain-flows fixture's server, serving ycr.v1.Testing too, with its
// helpers for building the two organisations' worlds.
class TenancyTest : public DomainFlowsTest {
 protected:
  TenancyTest()
      : DomainFlowsTest(
            [](services::ServerOptions* options, ManualClock* clock) {
              options->testing_clock = clock;  // Serves ycr.v1.Testing too.
              options->backup_dir = "";
            }) {}

  // Calls `path` with the message `request` as `organisation` (role by its
  // prefix) and requires success.
  void Must(const std::string& path, const google::protobuf::Message& request,
            const std::string& organisation) {
    const grpc::Status status =
        Call(channel_, path, request.SerializeAsString(), organisation,
             RoleOf(organisation));
    ASSERT_TRUE(Ok(status)) << path << " as " << organisation;
  }

  void PutSubject(const std::string& subject, const std::string& holder) {
    v1::PutSubjectRecordRequest put;
    *put.mutable_record() = Record(subject);
    ASSERT_TRUE(Ok(Put(put, holder))) << subject << " by " << holder;
  }

  void GrantConsent(const std::string& id, const std::string& subject,
                    const std::string& recipient, const std::string& by) {
    ASSERT_TRUE(Ok(Grant(Consent(id, subject, recipient, {v1::PURPOSE_REFERRAL},
                                 {v1::DATA_CATEGORY_IDENTITY}, clock_.Now()),
                         by)))
        << id;
  }

  void SubmitReferral(const std::string& id) {
    ASSERT_TRUE(Ok(Refer(Submit(id, "s-a", "c-a"), kSchool))) << id;
  }

  void RaiseConcern(const std::string& id, const std::string& by) {
    ASSERT_TRUE(Ok(Safeguard(Raise(id, "s-a", "seen at the gate"), by))) << id;
  }

  void Agreement(const std::string& id, const std::string& school,
                 const std::string& service) {
    v1::AgreementTerms terms = Terms();
    *terms.mutable_school() = Party(school);
    *terms.mutable_service() = Party(service);
    ASSERT_TRUE(Ok(Agree(Draft(id, terms), school))) << id;
    ASSERT_TRUE(Ok(Agree(Sign(id), school))) << id;
    ASSERT_TRUE(Ok(Agree(Sign(id), service))) << id;
  }

  // A's world: school A's pupil s-a with a consent c-a to refer to service
  // A, a referral r-a, an agreement ag-a in force, correspondence co-a (to
  // service A), a concern sc-a, an intervention i-a, a disclosure; service
  // A's own record s-sa. B's world: school B's pupil s-b and an agreement
  // ag-b between school B and service B. Nothing of A's involves B.
  void BuildWorld() {
    PutSubject("s-a", kSchool);
    PutSubject("s-sa", kService);
    PutSubject("s-b", kSchoolB);
    GrantConsent("c-a", "s-a", kService, kSchool);
    SubmitReferral("r-a");
    Agreement("ag-a", kSchool, kService);
    Agreement("ag-b", kSchoolB, kServiceB);
    for (const auto& [organisation, area] :
         std::vector<std::pair<std::string, std::string>>{
             {kSchool, "la-a"},
             {kService, "la-a"},
             {kSchoolB, "la-b"},
             {kServiceB, "la-b"}}) {
      PutInArea(organisation, area);
    }
    ASSERT_TRUE(Ok(
        Correspond(Receive("co-a", "ag-a", kSchool, clock_.Now()), kService)));
    RaiseConcern("sc-a", kSchool);
    ASSERT_TRUE(Ok(Intervene(
        Plan("i-a", "s-a", v1::INTERVENTION_TYPE_ONE_TO_ONE, clock_.Now()),
        kService)));
    v1::RecordDisclosureRequest disclose;
    *disclose.mutable_disclosure() =
        Disclosure("s-a", kSchool, kService, v1::PURPOSE_REFERRAL,
                   {v1::DATA_CATEGORY_IDENTITY}, "c-a");
    ASSERT_TRUE(Ok(Disclose(disclose, kSchool)));
  }

  std::map<std::string, Row> Rows();
};

// The A-side organisation of a party role (school or service).
std::string Own(const std::string& role) { return OrgOf(role, true); }

std::map<std::string, Row> TenancyTest::Rows() {
  const std::string now = Seconds(clock_.Now());
  const std::string later = Seconds(clock_.Now() + 30 * kDay);
  const std::string year = Seconds(clock_.Now() + 365 * kDay);
  const std::string hour_ago = Seconds(clock_.Now() - absl::Hours(1));
  const std::string terms = absl::StrCat(
      "terms { purposes: PURPOSE_REFERRAL recipients { organisation: \"",
      kService, "\" } categories: DATA_CATEGORY_IDENTITY valid_from ", hour_ago,
      " valid_until ", year, " }");
  const std::string not_party = "only the organisations party to";
  const std::string lists_own = "lists what its own organisation owes";
  const std::string caseload_own = "only auditors read others'";
  auto constant = [](std::string text) {
    return [text](const std::string&, const std::string&) { return text; };
  };
  // A party's own record for role school (s-a) or service (s-sa).
  auto subject_of = [](const std::string& role) {
    return role == kSchoolRole ? std::string("s-a") : std::string("s-sa");
  };
  // Reads of A's records: the parties and the local authority of their
  // area, never the auditor (the audit trail is its path).
  auto party_read = [&](const std::string& school_fragment,
                        const std::string& service_fragment) {
    std::map<std::string, std::pair<Outcome, Outcome>> m{
        {kSchoolRole, OwnOnly(school_fragment)},
        {kServiceRole, OwnOnly(service_fragment)},
        {kLocalAuthorityRole, OwnOnly(school_fragment)},
        {kAuditorRole, Neither(school_fragment)}};
    return m;
  };
  // Lists by organisation: own only, for each role; auditors (and the
  // scheduler for deadlines) anyone's.
  auto by_organisation = [&](const std::string& fragment, bool scheduler) {
    std::map<std::string, std::pair<Outcome, Outcome>> m{
        {kSchoolRole, OwnOnly(fragment)},
        {kServiceRole, OwnOnly(fragment)},
        {kLocalAuthorityRole, OwnOnly(fragment)},
        {kAuditorRole, Both()}};
    if (scheduler) m[kSchedulerRole] = Both();
    return m;
  };
  // The organisation field: A's organisation of the caller's role; the
  // auditor, the scheduler and the local authority ask about school A.
  auto org_of = [](const std::string& role) {
    return role == kAuditorRole || role == kSchedulerRole ||
                   role == kLocalAuthorityRole
               ? kSchool
               : Own(role);
  };
  std::map<std::string, Row> rows;
  const auto everyone = [] {
    std::map<std::string, std::pair<Outcome, Outcome>> m;
    for (const std::string& role : services::AllRoles()) m[role] = Both();
    return m;
  }();

  // The raw log: names no organisation.
  rows["/ycr.v1.EventStore/Append"] = {
      [](const std::string&, const std::string& id) {
        return absl::StrCat("stream: \"ops-note-", id,
                            "\" expected { kind: ANY } events { event_id: \"",
                            NewUuid(),
                            "\" payload { opaque { type: \"test.note\" data: "
                            "\"x\" } } }");
      },
      {{kAdminRole, Both()}}};
  rows["/ycr.v1.EventStore/ReadStream"] = {constant("stream: \"referral-r-a\""),
                                           {{kAuditorRole, Both()}}};
  rows["/ycr.v1.EventStore/ReadAll"] = {constant("limit: 10"),
                                        {{kAuditorRole, Both()}}};
  rows["/ycr.v1.EventStore/Subscribe"] = {constant(""),
                                          {{kAuditorRole, Both()}}};
  rows["/ycr.v1.EventStore/Head"] = {constant(""), everyone};

  // Subjects.
  rows["/ycr.v1.Subjects/PutRecord"] = {
      [=](const std::string& role, const std::string&) {
        return absl::StrCat("record { subject_id: \"", subject_of(role),
                            "\" given_name: \"Given\" family_name: \"Family\" "
                            "date_of_birth: \"2012-03-04\" }");
      },
      {{kSchoolRole, OwnOnly("only the record's holder")},
       {kServiceRole, OwnOnly("only the record's holder")}}};
  rows["/ycr.v1.Subjects/GetRecord"] = {
      [=](const std::string& role, const std::string&) {
        return absl::StrCat("subject_id: \"", subject_of(role), "\"");
      },
      {{kSchoolRole, OwnOnly(not_party)},
       {kServiceRole, OwnOnly(not_party)},
       {kLocalAuthorityRole, OwnOnly(not_party)}}};
  rows["/ycr.v1.Subjects/IdentifyYoungCarer"] = {
      // The school field left to default to the caller's own.
      constant("identification { subject_id: \"s-a\" census_code: "
               "CENSUS_CODE_IDENTIFIED_BY_PARENT }"),
      {{kSchoolRole, OwnOnly("only the record's holder")}}};

  // Erasure and legal holds. Erase is asked to refuse (on the holder's own
  // ground), so that it leaves A's pupil in place for the other rows.
  const std::string holder_decides = "only the record's holder";
  rows["/ycr.v1.Subjects/Erase"] = {
      [](const std::string&, const std::string& id) {
        return absl::StrCat("subject_id: \"s-a\" request_ref: \"sar-", id,
                            "\" refuse_on: ERASURE_GROUND_PUBLIC_TASK");
      },
      {{kSchoolRole, OwnOnly(holder_decides)},
       {kServiceRole, Neither(holder_decides)}}};
  const std::string placed_by = "placed by the local authority of the";
  auto hold = [](const std::string&, const std::string& id) {
    return absl::StrCat("hold { subject_id: \"s-a\" hold_id: \"h-", id,
                        "\" } personal { reason: \"an inquiry\" }");
  };
  rows["/ycr.v1.Subjects/PlaceLegalHold"] = {
      hold,
      // The local authority of the holder's area (la-a), or the holder.
      {{kSchoolRole, OwnOnly(placed_by)},
       {kServiceRole, Neither(placed_by)},
       {kLocalAuthorityRole,
        OwnOnly("a local authority places holds on the records of its area "
                "only")}}};
  rows["/ycr.v1.Subjects/LiftLegalHold"] = {
      [](const std::string&, const std::string& id) {
        return absl::StrCat("subject_id: \"s-a\" hold_id: \"h-", id, "\"");
      },
      {{kSchoolRole, OwnOnly("lifted only by the organisation that placed it")},
       {kServiceRole,
        Neither("lifted only by the organisation that placed it")},
       {kLocalAuthorityRole,
        Neither("lifted only by the organisation that placed it")}},
      // Placed by the record's holder (school A): only it lifts it.
      [this](const std::string&, const std::string& id) {
        v1::PlaceLegalHoldRequest place;
        place.set_request_id(NewUuid());
        place.mutable_hold()->set_subject_id("s-a");
        place.mutable_hold()->set_hold_id("h-" + id);
        place.mutable_personal()->set_reason("an inquiry");
        Must("/ycr.v1.Subjects/PlaceLegalHold", place, kSchool);
      }};

  // Kept child-protection records: none of A's pupils was erased, so each
  // list is empty and a review finds nothing kept, for every organisation
  // alike (a real one: retention_review_test.cc).
  rows["/ycr.v1.Subjects/RetentionReviews"] = {
      constant(""),
      {{kSchoolRole, Both()}, {kServiceRole, Both()}, {kAuditorRole, Both()}}};
  const Outcome keeps_none{StatusCode::FAILED_PRECONDITION,
                           "keeps no child-protection record"};
  rows["/ycr.v1.Subjects/ReviewRetention"] = {
      constant("subject_id: \"s-a\" decision: RETENTION_DECISION_DESTROY"),
      {{kSchoolRole, {keeps_none, keeps_none}},
       {kServiceRole, {keeps_none, keeps_none}}}};

  // Consents: each party records its own (the service records consents
  // given to it, e.g. to report outcomes back).
  auto grant = [=](const std::string&, const std::string& id) {
    return absl::StrCat("consent { consent_id: \"c-", id,
                        "\" subject_id: \"s-a\" given_by { parent { "
                        "person_ref: \"parent-1\" } } ",
                        terms, " } personal { verification: \"signed form\" }");
  };
  const std::string own_pupils = "a school records only about its own pupils";
  const std::string referred =
      "a service records only about young carers referred to it";
  rows["/ycr.v1.Consents/Grant"] = {
      grant,
      // A school records only about its own pupils; a service only about
      // those referred to it (s-a was referred to service A).
      {{kSchoolRole, OwnOnly(own_pupils)}, {kServiceRole, OwnOnly(referred)}}};
  rows["/ycr.v1.Consents/Refuse"] = {
      [=](const std::string&, const std::string& id) {
        return absl::StrCat("consent { consent_id: \"c-", id,
                            "\" subject_id: \"s-a\" given_by { parent { "
                            "person_ref: \"parent-1\" } } ",
                            terms, " }");
      },
      {{kSchoolRole, OwnOnly(own_pupils)}, {kServiceRole, OwnOnly(referred)}}};
  auto grant_first = [this](const std::string& role, const std::string& id) {
    GrantConsent("c-" + id, "s-a", kService, Own(role));
  };
  rows["/ycr.v1.Consents/Vary"] = {
      [=](const std::string&, const std::string& id) {
        return absl::StrCat("variation { consent_id: \"c-", id, "\" ", terms,
                            " } personal { reason: \"parent asked\" }");
      },
      {{kSchoolRole, OwnOnly("only the organisation that recorded")},
       {kServiceRole, OwnOnly("only the organisation that recorded")}},
      grant_first};
  rows["/ycr.v1.Consents/Withdraw"] = {
      [](const std::string&, const std::string& id) {
        return absl::StrCat("withdrawal { consent_id: \"c-", id,
                            "\" } personal { reason: \"parent asked\" }");
      },
      {{kSchoolRole, OwnOnly("only the organisation that recorded")},
       {kServiceRole, OwnOnly("only the organisation that recorded")}},
      grant_first};
  // c-a: recorded by school A, naming service A.
  rows["/ycr.v1.Consents/Get"] = {constant("consent_id: \"c-a\""),
                                  party_read(not_party, not_party)};

  // Sharing: a party records its own disclosures and decisions.
  rows["/ycr.v1.Sharing/RecordDisclosure"] = {
      [](const std::string& role, const std::string&) {
        const std::string from = Own(role);
        const std::string to = role == kSchoolRole ? kService : kSchool;
        return absl::StrCat("disclosure { disclosure_id: \"", NewUuid(),
                            "\" subject_id: \"s-a\" from { organisation: \"",
                            from, "\" } to { organisation: \"", to,
                            "\" } categories: DATA_CATEGORY_IDENTITY purpose: "
                            "PURPOSE_SAFEGUARDING safeguarding { lawful_basis: "
                            "\"dpa2018-sch1-para18\" "
                            "decision_maker: \"dsl-1\" family_told: true } }",
                            " personal { risk_statement: \"risk\" }");
      },
      {{kSchoolRole, OwnOnly("from.organisation")},
       {kServiceRole, OwnOnly("from.organisation")}}};
  rows["/ycr.v1.Sharing/RecordDecisionNotToShare"] = {
      [](const std::string& role, const std::string&) {
        return absl::StrCat(
            "decision { subject_id: \"s-a\" to { organisation: \"la-a\" } "
            "decision_maker: \"dsl-1\" organisation: \"",
            Own(role), "\" } personal { reason: \"not needed\" }");
      },
      {{kSchoolRole, OwnOnly("decision.organisation")},
       {kServiceRole, OwnOnly("decision.organisation")}}};

  // Referrals: the school submits; the service receives (a referral school
  // A submitted first).
  rows["/ycr.v1.Referrals/Transition"] = {
      [](const std::string& role, const std::string& id) {
        if (role == kServiceRole) {
          return absl::StrCat("referral_id: \"r-", id, "\" receive {}");
        }
        v1::ReferralTransitionRequest submit = Submit("r-" + id, "s-a", "c-a");
        std::string text;
        google::protobuf::TextFormat::PrintToString(submit, &text);
        return text;
      },
      {{kSchoolRole, OwnOnly("only the referral's school")},
       {kServiceRole, OwnOnly("only the referral's service")}},
      [this](const std::string& role, const std::string& id) {
        if (role == kServiceRole) SubmitReferral("r-" + id);
      }};
  rows["/ycr.v1.Referrals/Get"] = {constant("referral_id: \"r-a\""),
                                   party_read(not_party, not_party)};

  // Interventions: the service plans (for its referral r-a).
  rows["/ycr.v1.Interventions/Record"] = {
      [](const std::string&, const std::string& id) {
        v1::InterventionCommand plan =
            Plan("i-" + id, "s-a", v1::INTERVENTION_TYPE_ONE_TO_ONE, kStart);
        plan.mutable_plan()->set_referral_id("r-a");
        plan.mutable_plan()->set_service(kService);
        std::string text;
        google::protobuf::TextFormat::PrintToString(plan, &text);
        return text;
      },
      {{kServiceRole, OwnOnly("only the delivering service")}}};
  rows["/ycr.v1.Interventions/Get"] = {constant("intervention_id: \"i-a\""),
                                       party_read(not_party, not_party)};

  // Areas: the operator places organisations (no organisation of its own:
  // the same for both); anyone reads them.
  rows["/ycr.v1.Areas/Assign"] = {
      [](const std::string&, const std::string& id) {
        return absl::StrCat("assignment { organisation: \"school-", id,
                            "\" local_authority: \"la-a\" }");
      },
      {{kAdminRole, Both()}}};
  rows["/ycr.v1.Areas/Get"] = {
      constant(absl::StrCat("organisation: \"", kSchool, "\"")), everyone};

  // Agreements: either party reviews ag-a.
  rows["/ycr.v1.Agreements/Record"] = {
      constant("agreement_id: \"ag-a\" review { review_outcome: "
               "REVIEW_OUTCOME_CONTINUE }"),
      {{kSchoolRole, OwnOnly("only a party to agreement ag-a")},
       {kServiceRole, OwnOnly("only a party to agreement ag-a")}}};
  rows["/ycr.v1.Agreements/Get"] = {constant("agreement_id: \"ag-a\""),
                                    party_read(not_party, not_party)};

  // Correspondence: each party receives from the other under ag-a.
  rows["/ycr.v1.Correspondence/Record"] = {
      [=](const std::string& role, const std::string& id) {
        return absl::StrCat(
            "correspondence_id: \"co-", id,
            "\" receive { correspondence_id: \"co-", id,
            "\" agreement_id: \"ag-a\" channel: CHANNEL_EMAIL from: \"",
            role == kSchoolRole ? kService : kSchool,
            "\" topic_code: CORRESPONDENCE_TOPIC_AWARENESS received_at ", now,
            " }");
      },
      {{kSchoolRole, OwnOnly("only a party to agreement ag-a")},
       {kServiceRole, OwnOnly("only a party to agreement ag-a")}}};
  rows["/ycr.v1.Correspondence/Get"] = {constant("correspondence_id: \"co-a\""),
                                        party_read(not_party, not_party)};

  // Safeguarding: the raiser records the handling of its own concern.
  rows["/ycr.v1.Safeguarding/Record"] = {
      [](const std::string&, const std::string& id) {
        return absl::StrCat("concern_id: \"sc-", id,
                            "\" notify_dsl { dsl: \"dsl-1\" }");
      },
      {{kSchoolRole, OwnOnlyHidden("does not exist")},
       {kServiceRole, OwnOnlyHidden("does not exist")}},
      [this](const std::string& role, const std::string& id) {
        RaiseConcern("sc-" + id, Own(role));
      }};
  // sc-a: raised by school A and referred to no one; the service is not a
  // party to it, and a concern is confidential: the local authority of the
  // area reads it only once it is referred to it.
  const std::string hidden_concern =
      "no concern sc-a that the caller's organisation raised or was referred";
  rows["/ycr.v1.Safeguarding/Get"] = {
      constant("concern_id: \"sc-a\""),
      {{kSchoolRole, OwnOnlyHidden(hidden_concern)},
       {kServiceRole, NeitherHidden(hidden_concern)},
       {kLocalAuthorityRole, NeitherHidden(hidden_concern)},
       {kAuditorRole, NeitherHidden(hidden_concern)}}};

  // Audit: a subject's for its record's holder (school A holds s-a), the
  // local authority of the holder's area, and auditors; an organisation's
  // disclosures for itself, its local authority and auditors.
  const std::string holder = "for its record's holder, the local authority";
  const std::map<std::string, std::pair<Outcome, Outcome>> subject_audit{
      {kSchoolRole, OwnOnly(holder)},
      {kServiceRole, Neither(holder)},
      {kLocalAuthorityRole, OwnOnly(holder)},
      {kAuditorRole, Both()}};
  rows["/ycr.v1.Audit/Trail"] = {constant("subject_id: \"s-a\""),
                                 subject_audit};
  rows["/ycr.v1.Audit/OrganisationDisclosures"] = {
      [=](const std::string& role, const std::string&) {
        return absl::StrCat("organisation: \"", org_of(role), "\"");
      },
      by_organisation("for itself, the local authority of its area", false)};
  rows["/ycr.v1.Audit/SubjectAccessPack"] = {constant("subject_id: \"s-a\""),
                                             {{kSchoolRole, OwnOnly(holder)},
                                              {kServiceRole, Neither(holder)},
                                              {kAuditorRole, Both()}}};
  rows["/ycr.v1.Audit/ConsentInForce"] = {
      constant(absl::StrCat("subject_id: \"s-a\" recipient { organisation: \"",
                            kService,
                            "\" } purpose: PURPOSE_REFERRAL category: "
                            "DATA_CATEGORY_IDENTITY at ",
                            now)),
      subject_audit};

  // Deadlines: an organisation's own; auditors and the scheduler anyone's.
  rows["/ycr.v1.Deadlines/ListDue"] = {
      [=](const std::string& role, const std::string&) {
        return absl::StrCat("by ", later, " organisation: \"", org_of(role),
                            "\"");
      },
      by_organisation(lists_own, true)};
  rows["/ycr.v1.Deadlines/ListOverdue"] = {
      [=](const std::string& role, const std::string&) {
        return absl::StrCat("as_of ", later, " organisation: \"", org_of(role),
                            "\"");
      },
      by_organisation(lists_own, true)};
  // Names no organisation: the scheduler flags anyone's. Nothing is owed
  // about this id: a domain refusal, the same for both.
  rows["/ycr.v1.Deadlines/FlagOverdue"] = {
      constant(absl::StrCat("flag { kind: 1 id: \"co-a\" "
                            "due_at ",
                            hour_ago, " }")),
      {{kSchedulerRole,
        {{StatusCode::FAILED_PRECONDITION, "nothing of that kind is owed"},
         {StatusCode::FAILED_PRECONDITION, "nothing of that kind is owed"}}}}};

  rows["/ycr.v1.Caseloads/Counts"] = {
      [=](const std::string& role, const std::string&) {
        return absl::StrCat("organisation: \"", org_of(role), "\"");
      },
      by_organisation(caseload_own, false)};
  rows["/ycr.v1.Caseloads/ListReferrals"] = rows["/ycr.v1.Caseloads/Counts"];

  // The access log: auditors, across organisations.
  rows["/ycr.v1.AccessLog/ListBySubject"] = {constant("subject_id: \"s-a\""),
                                             {{kAuditorRole, Both()}}};
  rows["/ycr.v1.AccessLog/ListByReader"] = {
      constant(absl::StrCat("reader_organisation: \"", kSchool,
                            "\" reader_user: \"user-1\"")),
      {{kAuditorRole, Both()}}};

  // Operations: no organisation. Backups are off in this server: a
  // domain refusal, the same for both.
  rows["/ycr.v1.Admin/Backup"] = {
      constant("name: \"nightly\""),
      {{kAdminRole,
        {{StatusCode::FAILED_PRECONDITION, "backup"},
         {StatusCode::FAILED_PRECONDITION, "backup"}}}}};
  rows["/ycr.v1.Projections/Status"] = {constant(""), {{kAdminRole, Both()}}};
  // A projection already being rebuilt refuses a second rebuild: each call
  // rebuilds the next one of the three (only the admin's calls get past
  // the gate, so own and other rebuild different projections).
  auto next_projection = std::make_shared<int>(0);
  rows["/ycr.v1.Projections/Rebuild"] = {
      [next_projection](const std::string&, const std::string&) {
        static const char* const kNames[] = {"deadlines", "audit_trail",
                                             "caseloads"};
        return absl::StrCat("name: \"", kNames[(*next_projection)++ % 3], "\"");
      },
      {{kAdminRole, Both()}}};
  rows["/ycr.v1.Testing/AdvanceTime"] = {constant("by { seconds: 0 }"),
                                         {{kAdminRole, Both()}}};
  rows["/ycr.v1.Testing/GetTime"] = {constant(""), everyone};

  // The transparency tree: hashes, no organisation's records; a checkpoint
  // of the head is signed first, so record 1 is in it.
  const auto signed_now = [this](const std::string&, const std::string&) {
    ASSERT_TRUE(server_.server().checkpointer().Tick().ok());
  };
  rows["/ycr.v1.Audit/Checkpoint"] = {constant(""), everyone};
  rows["/ycr.v1.Audit/InclusionProof"] = {constant("position: 1"), everyone,
                                          signed_now};
  rows["/ycr.v1.Audit/InclusionProofs"] = {constant("positions: 1"), everyone,
                                           signed_now};
  rows["/ycr.v1.Audit/ConsistencyProof"] = {constant("old_size: 1"), everyone,
                                            signed_now};
  return rows;
}

bool Allowed(const std::string& path, const std::string& role) {
  for (const services::PolicyRow& row : services::PolicyTable()) {
    if (row.method == path) {
      return std::find(row.roles.begin(), row.roles.end(), role) !=
             row.roles.end();
    }
  }
  return false;
}

bool IsWrite(const MethodDescriptor* m) {
  return m->output_type()->full_name() == "ycr.v1.CommandResponse" ||
         m->full_name() == "ycr.v1.EventStore.Append";
}

TEST_F(TenancyTest, EveryRpcAsEveryRoleReachesOnlyItsOwnOrganisationsData) {
  BuildWorld();
  if (HasFatalFailure()) return;
  const std::map<std::string, Row> rows = Rows();
  std::set<std::string> seen;
  int calls = 0;
  int counter = 0;
  for (const MethodDescriptor* m : AllMethods()) {
    const std::string path = Path(m);
    seen.insert(path);
    auto it = rows.find(path);
    if (it == rows.end()) {
      ADD_FAILURE() << "an RPC without a tenancy row: " << path;
      continue;
    }
    const Row& row = it->second;
    for (const auto& [role, outcome] : row.allowed) {
      EXPECT_TRUE(Allowed(path, role))
          << path << ": the row expects " << role
          << " to be let through, but the policy table refuses it";
    }
    for (const std::string& role : services::AllRoles()) {
      const bool allowed = Allowed(path, role);
      if (allowed && !row.allowed.count(role)) {
        ADD_FAILURE() << path << ": the policy table lets " << role
                      << " through but the row says nothing of it";
        continue;
      }
      for (bool own : {true, false}) {
        const std::string id = absl::StrCat("t", ++counter);
        if (row.setup) {
          row.setup(
              role == kSchoolRole || role == kServiceRole ? role : kSchoolRole,
              id);
        }
        const std::string organisation = OrgOf(role, own);
        const std::string request = Encode(m, row.request(role, id));
        const uint64_t head = Head();
        const grpc::Status status =
            Call(channel_, path, request, organisation, role);
        ++calls;
        const std::string who =
            absl::StrCat(path, " as ", role, " of ", organisation,
                         own ? " (own)" : " (other)");
        if (!allowed) {
          EXPECT_TRUE(Is(status, DENIED, "may not call")) << who;
        } else {
          const Outcome& want =
              own ? row.allowed.at(role).first : row.allowed.at(role).second;
          EXPECT_TRUE(Is(status, want.code, want.fragment)) << who;
        }
        if (!status.ok() && IsWrite(m)) {
          EXPECT_EQ(Head(), head) << who << ": a refused write wrote";
        }
      }
    }
  }
  for (const auto& [path, row] : rows) {
    EXPECT_TRUE(seen.count(path)) << "a tenancy row for no RPC: " << path;
  }
  RecordProperty("calls", calls);
}

// Organisation B acting under its own name on school A's pupil, in whom
// it has no part (no record, no referral, no agreement with A). The table
// above sends A's requests; these are B's own, about A's pupil.
TEST_F(TenancyTest, AnotherOrganisationActingOnAPupilItHasNoPartIn) {
  BuildWorld();
  if (HasFatalFailure()) return;
  auto send = [this](const std::string& path,
                     const google::protobuf::Message& request,
                     const std::string& organisation) {
    return Call(channel_, path, request.SerializeAsString(), organisation,
                RoleOf(organisation));
  };
  // Fixed: identifying another school's pupil (the school field defaults
  // to the caller's own).
  v1::IdentifyYoungCarerRequest identify;
  identify.set_request_id(NewUuid());
  identify.mutable_identification()->set_subject_id("s-a");
  identify.mutable_identification()->set_census_code(
      v1::CENSUS_CODE_IDENTIFIED_BY_PARENT);
  uint64_t head = Head();
  EXPECT_TRUE(
      Is(send("/ycr.v1.Subjects/IdentifyYoungCarer", identify, kSchoolB),
         DENIED, "only the record's holder may identify"));
  EXPECT_EQ(Head(), head);

  // A school records only about its own pupils: another school's consent,
  // disclosure and concern about A's pupil are refused, and write nothing.
  const std::string own_pupils = "a school records only about its own pupils";
  v1::GrantConsentRequest grant =
      Consent("c-b", "s-a", kServiceB, {v1::PURPOSE_REFERRAL},
              {v1::DATA_CATEGORY_IDENTITY}, clock_.Now());
  grant.set_request_id(NewUuid());
  EXPECT_TRUE(
      Is(send("/ycr.v1.Consents/Grant", grant, kSchoolB), DENIED, own_pupils));
  v1::RecordDisclosureRequest disclose;
  disclose.set_request_id(NewUuid());
  *disclose.mutable_disclosure() =
      Disclosure("s-a", kSchoolB, kServiceB, v1::PURPOSE_REFERRAL,
                 {v1::DATA_CATEGORY_IDENTITY}, "c-b");
  EXPECT_TRUE(Is(send("/ycr.v1.Sharing/RecordDisclosure", disclose, kSchoolB),
                 DENIED, own_pupils));
  v1::SafeguardingCommand raise = Raise("sc-b", "s-a", "heard in town");
  raise.set_request_id(NewUuid());
  EXPECT_TRUE(Is(send("/ycr.v1.Safeguarding/Record", raise, kSchoolB), DENIED,
                 own_pupils));
  EXPECT_EQ(Head(), head);

  // A service records only about young carers referred to it: service B's
  // intervention, consent, disclosure, concern and letter about A's pupil
  // (referred to service A only) are refused, and write nothing.
  const std::string referred =
      "a service records only about young carers referred to it";
  v1::InterventionCommand plan =
      Plan("i-b", "s-a", v1::INTERVENTION_TYPE_ONE_TO_ONE, clock_.Now());
  plan.set_request_id(NewUuid());
  EXPECT_TRUE(Is(send("/ycr.v1.Interventions/Record", plan, kServiceB), DENIED,
                 referred));
  v1::GrantConsentRequest service_grant =
      Consent("c-sb", "s-a", kSchoolB, {v1::PURPOSE_IMPACT_REPORTING},
              {v1::DATA_CATEGORY_IDENTITY}, clock_.Now());
  service_grant.set_request_id(NewUuid());
  EXPECT_TRUE(Is(send("/ycr.v1.Consents/Grant", service_grant, kServiceB),
                 DENIED, referred));
  v1::RecordDisclosureRequest service_disclose = disclose;
  service_disclose.set_request_id(NewUuid());
  *service_disclose.mutable_disclosure() =
      Disclosure("s-a", kServiceB, kSchoolB, v1::PURPOSE_REFERRAL,
                 {v1::DATA_CATEGORY_IDENTITY}, "c-sb");
  EXPECT_TRUE(
      Is(send("/ycr.v1.Sharing/RecordDisclosure", service_disclose, kServiceB),
         DENIED, referred));
  raise.set_request_id(NewUuid());
  EXPECT_TRUE(Is(send("/ycr.v1.Safeguarding/Record", raise, kServiceB), DENIED,
                 referred));
  // A letter about A's pupil under B's own agreement (with school B).
  v1::CorrespondenceCommand letter =
      Receive("co-b", "ag-b", kSchoolB, clock_.Now());
  letter.mutable_receive()->set_subject_id("s-a");
  letter.set_request_id(NewUuid());
  EXPECT_TRUE(Is(send("/ycr.v1.Correspondence/Record", letter, kServiceB),
                 DENIED, referred));
  v1::RecordDecisionNotToShareRequest decline;
  decline.set_request_id(NewUuid());
  decline.mutable_decision()->set_subject_id("s-a");
  decline.mutable_decision()->mutable_to()->set_organisation(kSchoolB);
  decline.mutable_decision()->set_decision_maker("manager-1");
  decline.mutable_personal()->set_reason("not needed");
  EXPECT_TRUE(
      Is(send("/ycr.v1.Sharing/RecordDecisionNotToShare", decline, kServiceB),
         DENIED, referred));
  EXPECT_EQ(Head(), head);

  // A letter may be about a pupil of the school the agreement is with, even
  // one not referred (school A's s-a2, under ag-a); a consent about them may
  // not.
  PutSubject("s-a2", kSchool);
  v1::CorrespondenceCommand about_a2 =
      Receive("co-a2", "ag-a", kSchool, clock_.Now());
  about_a2.mutable_receive()->set_subject_id("s-a2");
  about_a2.set_request_id(NewUuid());
  EXPECT_TRUE(Ok(send("/ycr.v1.Correspondence/Record", about_a2, kService)));
  v1::GrantConsentRequest a2_grant =
      Consent("c-a2", "s-a2", kSchool, {v1::PURPOSE_IMPACT_REPORTING},
              {v1::DATA_CATEGORY_IDENTITY}, clock_.Now());
  a2_grant.set_request_id(NewUuid());
  EXPECT_TRUE(
      Is(send("/ycr.v1.Consents/Grant", a2_grant, kService), DENIED, referred));

  // An intervention names the young carer's own school: the referral's, or
  // the record's holder.
  v1::InterventionCommand elsewhere =
      Plan("i-x", "s-a", v1::INTERVENTION_TYPE_ONE_TO_ONE, clock_.Now());
  elsewhere.set_request_id(NewUuid());
  elsewhere.mutable_plan()->set_school(kSchoolB);
  EXPECT_TRUE(Is(send("/ycr.v1.Interventions/Record", elsewhere, kService),
                 StatusCode::FAILED_PRECONDITION,
                 "plan.school must be the young carer's school, " + kSchool));
  elsewhere.set_request_id(NewUuid());
  elsewhere.mutable_plan()->set_referral_id("r-a");
  EXPECT_TRUE(Is(send("/ycr.v1.Interventions/Record", elsewhere, kService),
                 StatusCode::FAILED_PRECONDITION,
                 "plan.school must be the referral's school, " + kSchool));

  // Once school A refers its pupil to service B as well, B records about
  // them.
  v1::GrantConsentRequest to_b =
      Consent("c-to-b", "s-a", kServiceB, {v1::PURPOSE_REFERRAL},
              {v1::DATA_CATEGORY_IDENTITY}, clock_.Now());
  to_b.set_request_id(NewUuid());
  Must("/ycr.v1.Consents/Grant", to_b, kSchool);
  v1::ReferralTransitionRequest submit = Submit("r-b", "s-a", "c-to-b");
  submit.set_request_id(NewUuid());
  submit.mutable_submit()->set_service(kServiceB);
  submit.mutable_submit()->mutable_disclosure()->mutable_to()->set_organisation(
      kServiceB);
  Must("/ycr.v1.Referrals/Transition", submit, kSchool);
  plan.set_request_id(NewUuid());
  EXPECT_TRUE(Ok(send("/ycr.v1.Interventions/Record", plan, kServiceB)));

  // A referral entered in error gives the service no part: B's second plan
  // is refused once school A says r-b was a mistake.
  v1::ReferralTransitionRequest error;
  error.set_request_id(NewUuid());
  error.set_referral_id("r-b");
  error.mutable_entered_in_error();
  error.mutable_personal()->set_reason("sent to the wrong service");
  Must("/ycr.v1.Referrals/Transition", error, kSchool);
  v1::InterventionCommand again =
      Plan("i-b2", "s-a", v1::INTERVENTION_TYPE_MENTORING, clock_.Now());
  again.set_request_id(NewUuid());
  EXPECT_TRUE(Is(send("/ycr.v1.Interventions/Record", again, kServiceB), DENIED,
                 "every referral of subject s-a to service-8 was entered in "
                 "error"));

  // But B reads none of A's: the reads check the record's parties.
  v1::GetSubjectRecordRequest get;
  get.set_subject_id("s-a");
  EXPECT_TRUE(Is(send("/ycr.v1.Subjects/GetRecord", get, kSchoolB), DENIED,
                 "only the organisations party to the subject record"));
}

}  // namespace
}  // namespace ycr::testing

namespace ycr::testing {
namespace {

// A local authority reads by area, and the area is the operator's to move:
// what it reads follows the assignment as it stands when it reads.
TEST_F(TenancyTest, ALocalAuthorityReadsWhatItsAreaIsPartyToWhileItIsItsArea) {
  BuildWorld();
  if (HasFatalFailure()) return;
  auto as = [this](const std::string& path,
                   const google::protobuf::Message& request,
                   const std::string& organisation, const std::string& role) {
    return Call(channel_, path, request.SerializeAsString(), organisation,
                role);
  };
  const std::string la = kLocalAuthorityRole;
  v1::GetSubjectRecordRequest record;
  record.set_subject_id("s-a");
  v1::GetReferralRequest referral;
  referral.set_referral_id("r-a");
  v1::PlaceLegalHoldRequest hold;
  hold.mutable_hold()->set_subject_id("s-a");
  hold.mutable_personal()->set_reason("an inquiry");
  EXPECT_TRUE(Ok(as("/ycr.v1.Subjects/GetRecord", record, "la-a", la)));
  EXPECT_TRUE(Is(as("/ycr.v1.Subjects/GetRecord", record, "la-b", la), DENIED,
                 "or the local authority of their area"));

  // School A moves to la-b's area; service A stays in la-a's.
  PutInArea(kSchool, "la-b");
  if (HasFatalFailure()) return;
  EXPECT_TRUE(Is(as("/ycr.v1.Subjects/GetRecord", record, "la-a", la), DENIED,
                 "or the local authority of their area"));
  EXPECT_TRUE(Ok(as("/ycr.v1.Subjects/GetRecord", record, "la-b", la)));
  // The referral has both for parties: each authority reads it.
  EXPECT_TRUE(Ok(as("/ycr.v1.Referrals/Get", referral, "la-a", la)));
  EXPECT_TRUE(Ok(as("/ycr.v1.Referrals/Get", referral, "la-b", la)));
  const uint64_t head = Head();
  hold.set_request_id(NewUuid());
  hold.mutable_hold()->set_hold_id("h-1");
  EXPECT_TRUE(Is(as("/ycr.v1.Subjects/PlaceLegalHold", hold, "la-a", la),
                 DENIED, "held outside the area of la-a"));
  EXPECT_EQ(Head(), head);
  hold.set_request_id(NewUuid());
  EXPECT_TRUE(Ok(as("/ycr.v1.Subjects/PlaceLegalHold", hold, "la-b", la)));

  v1::GetAreaRequest get;
  get.set_organisation(kSchool);
  v1::Area area;
  {
    grpc::ClientContext context;
    AsCaller(&context, "la-a", "user-1", la);
    v1::Areas::Stub stub(channel_);
    ASSERT_TRUE(Ok(stub.Get(&context, get, &area)));
  }
  EXPECT_EQ(area.local_authority(), "la-b");
  EXPECT_EQ(area.version(), 2u);

  // Assignments that are refused write nothing.
  const uint64_t before = Head();
  auto assign = [&](const std::string& organisation,
                    const std::string& authority) {
    v1::AssignAreaRequest a;
    a.set_request_id(NewUuid());
    a.mutable_assignment()->set_organisation(organisation);
    a.mutable_assignment()->set_local_authority(authority);
    return as("/ycr.v1.Areas/Assign", a, "ops-a", kAdminRole);
  };
  EXPECT_TRUE(Is(assign(kSchool, "la-b"), StatusCode::FAILED_PRECONDITION,
                 "already in the area of la-b"));
  EXPECT_TRUE(Is(assign(kSchool, kSchool), StatusCode::INVALID_ARGUMENT,
                 "assignment.local_authority"));
  EXPECT_TRUE(Is(assign("", "la-a"), StatusCode::INVALID_ARGUMENT,
                 "assignment.organisation"));
  EXPECT_TRUE(Is(assign(kSchool, "la b"), StatusCode::INVALID_ARGUMENT,
                 "assignment.local_authority"));
  EXPECT_TRUE(
      Is(as("/ycr.v1.Areas/Assign", v1::AssignAreaRequest(), "la-b", la),
         DENIED, "may not call"));
  EXPECT_EQ(Head(), before);

  // Out of every area: no authority reads the school's records.
  EXPECT_TRUE(Ok(assign(kSchool, "")));
  EXPECT_TRUE(Is(as("/ycr.v1.Subjects/GetRecord", record, "la-b", la), DENIED,
                 "or the local authority of their area"));
  EXPECT_TRUE(Is(assign(kSchool, ""), StatusCode::FAILED_PRECONDITION,
                 "already in no area"));
}

}  // namespace
}  // namespace ycr::testing
