// The `ycr` binary as an operator runs it, against a real server: --help at
// every level, every RPC as `ycr <service> <method>` with requests from
// --set and --data, human tables and --json lines, streamed audit trails,
// request ids that make retries replay, and the exit codes (1 refused, 2 bad
// usage) with messages that say what went wrong.

#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/integration/command_runner.h"
#include "tests/integration/test_server.h"

namespace ycr::testing {
namespace {

bool Has(const std::string& text, const std::string& fragment) {
  return text.find(fragment) != std::string::npos;
}

std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

// The request id `ycr` printed to stderr.
std::string RequestId(const std::string& err) {
  for (const std::string& line : Lines(err)) {
    if (line.rfind("request_id: ", 0) == 0) return line.substr(12);
  }
  return "";
}

class CliTest : public ::testing::Test {
 protected:
  CliTest() : server_(dir_.path()) {}

  // Runs `ycr args...` as `organisation` (role school).
  Outcome Ycr(std::vector<std::string> args,
              const std::string& organisation = "school-100001",
              const std::string& role = "school") {
    return RunCommand(CliAs(YCR_CLI_BINARY, server_.server().port(),
                            organisation, role, args));
  }

  Outcome RunCommand(const std::vector<std::string>& args) {
    return RunArgs(args, dir_.path() + "/stderr");
  }

  void PutSubject(const std::string& subject_id) {
    Outcome run = Ycr(
        {"subjects", "put-record", "--set", "record.subject_id=" + subject_id,
         "--set", "record.given_name=Amy", "--set", "record.family_name=Smith",
         "--set", "record.date_of_birth=2012-03-04", "--set",
         "record.related.person_ref=parent-1", "--set",
         "record.related.name=Parent Person", "--set",
         "record.related.relationship=mother", "--set",
         "record.related.parental_responsibility=true"});
    ASSERT_EQ(run.code, 0) << run.err;
  }

  void GrantConsent(const std::string& consent_id,
                    const std::string& subject_id) {
    Outcome run =
        Ycr({"consent", "grant",
             "--data={\"consent\":{\"consentId\":\"" + consent_id +
                 "\",\"subjectId\":\"" + subject_id +
                 "\",\"givenBy\":{\"parent\":{\"personRef\":\"parent-1\"}},"
                 "\"terms\":{\"purposes\":[\"PURPOSE_REFERRAL\"],"
                 "\"recipients\":[{\"organisation\":\"service-7\"}],"
                 "\"categories\":[\"DATA_CATEGORY_IDENTITY\"],"
                 "\"validFrom\":\"2020-01-01T00:00:00Z\","
                 "\"validUntil\":\"2099-01-01T00:00:00Z\"}},"
                 "\"personal\":{\"verification\":\"signed form\"}}"});
    ASSERT_EQ(run.code, 0) << run.err;
    EXPECT_TRUE(Has(run.out, "position: ")) << run.out;
  }

  std::vector<std::string> SubmitArgs(const std::string& referral_id,
                                      const std::string& subject_id,
                                      const std::string& consent_id) {
    return {"referral", "transition",
            "--set",    "referral_id=" + referral_id,
            "--set",    "submit.referral_id=" + referral_id,
            "--set",    "submit.subject_id=" + subject_id,
            "--set",    "submit.school=school-100001",
            "--set",    "submit.service=service-7",
            "--set",    "submit.disclosure.disclosure_id=" + NewUuid(),
            "--set",    "submit.disclosure.subject_id=" + subject_id,
            "--set",    "submit.disclosure.from.organisation=school-100001",
            "--set",    "submit.disclosure.to.organisation=service-7",
            "--set",    "submit.disclosure.categories=DATA_CATEGORY_IDENTITY",
            "--set",    "submit.disclosure.purpose=REFERRAL",
            "--set",    "submit.disclosure.consent.consent_id=" + consent_id};
  }

  TempDir dir_;
  TestServer server_;
};

TEST_F(CliTest, HelpAtEveryLevelListsWhatIsThere) {
  Outcome top = RunCommand({YCR_CLI_BINARY, "--help"});
  EXPECT_EQ(top.code, 0) << top.err;
  for (const char* service :
       {"event-store", "subjects", "consents", "sharing", "referrals",
        "interventions", "agreements", "correspondence", "safeguarding",
        "deadlines", "audit", "caseloads", "projections", "list-overdue",
        "--server", "--json", "log tail"}) {
    EXPECT_TRUE(Has(top.out, service)) << service << " in\n" << top.out;
  }

  Outcome service = RunCommand({YCR_CLI_BINARY, "referrals", "--help"});
  EXPECT_EQ(service.code, 0) << service.err;
  EXPECT_TRUE(Has(service.out, "transition")) << service.out;
  EXPECT_TRUE(Has(service.out, "ReferralTransitionRequest -> CommandResponse"))
      << service.out;
  // Singular alias, and a streaming method marked.
  Outcome audit = RunCommand({YCR_CLI_BINARY, "audit", "--help"});
  EXPECT_EQ(audit.code, 0);
  EXPECT_TRUE(Has(audit.out, "AuditTrailRequest -> stream AuditEntry"))
      << audit.out;

  Outcome method =
      RunCommand({YCR_CLI_BINARY, "subject", "put-record", "--help"});
  EXPECT_EQ(method.code, 0) << method.err;
  for (const char* field :
       {"request_id  string", "record  SubjectRecord", "given_name  string",
        "related  repeated RelatedPerson", "person_ref  string",
        "updated_at  timestamp (RFC 3339)", "expected_revision  uint64"}) {
    EXPECT_TRUE(Has(method.out, field)) << field << " in\n" << method.out;
  }
  Outcome shortcut = RunCommand({YCR_CLI_BINARY, "share", "--help"});
  EXPECT_EQ(shortcut.code, 0);
  EXPECT_TRUE(Has(shortcut.out, "ycr.v1.Sharing.RecordDisclosure"))
      << shortcut.out;
}

TEST_F(CliTest, PutRecordWithSetThenGetRecordAsJson) {
  ASSERT_NO_FATAL_FAILURE(PutSubject("s-1"));
  Outcome get =
      Ycr({"subjects", "get-record", "--set", "subject_id=s-1", "--json"});
  ASSERT_EQ(get.code, 0) << get.err;
  ASSERT_EQ(Lines(get.out).size(), 1u) << get.out;
  EXPECT_TRUE(Has(get.out, "\"givenName\":\"Amy\"")) << get.out;
  EXPECT_TRUE(Has(get.out, "\"personRef\":\"parent-1\"")) << get.out;
  EXPECT_TRUE(Has(get.out, "\"holder\":\"school-100001\"")) << get.out;

  // Human form, with a field given as its own flag.
  Outcome human = Ycr({"subject", "get-record", "--subject-id", "s-1"});
  ASSERT_EQ(human.code, 0) << human.err;
  EXPECT_TRUE(Has(human.out, "given_name: Amy\n")) << human.out;
  EXPECT_TRUE(Has(human.out, "related:\n  - person_ref: parent-1\n"))
      << human.out;
}

TEST_F(CliTest, AccessLogListsWhoReadASubject) {
  ASSERT_NO_FATAL_FAILURE(PutSubject("s-1"));
  ASSERT_EQ(Ycr({"subjects", "get-record", "--subject-id", "s-1"}).code, 0);
  ASSERT_TRUE(server_.server().access_recorder()->Flush().ok());
  Outcome list =
      Ycr({"access-log", "list-by-subject", "--subject-id", "s-1", "--json"},
          "auditor-1", "auditor");
  ASSERT_EQ(list.code, 0) << list.err;
  EXPECT_TRUE(Has(list.out, "\"view\":\"subject_record\"")) << list.out;
  EXPECT_TRUE(Has(list.out, "\"organisation\":\"school-100001\"")) << list.out;
  Outcome by_reader =
      Ycr({"access-log", "list-by-reader", "--reader-organisation",
           "school-100001", "--reader-user", "dsl-1"},
          "auditor-1", "auditor");
  ASSERT_EQ(by_reader.code, 0) << by_reader.err;
  EXPECT_TRUE(Has(by_reader.out, "s-1")) << by_reader.out;
  // Not for a school.
  EXPECT_EQ(Ycr({"access-log", "list-by-subject", "--subject-id", "s-1"}).code,
            1);
}

TEST_F(CliTest, ConsentReferralDeadlinesAndAuditTrail) {
  ASSERT_NO_FATAL_FAILURE(PutSubject("s-1"));
  ASSERT_NO_FATAL_FAILURE(GrantConsent("c-1", "s-1"));
  Outcome consent = Ycr({"consents", "get", "--consent-id=c-1", "--json"});
  ASSERT_EQ(consent.code, 0) << consent.err;
  EXPECT_TRUE(Has(consent.out, "\"decision\":\"GRANTED\"")) << consent.out;

  Outcome submit = Ycr(SubmitArgs("r-1", "s-1", "c-1"));
  ASSERT_EQ(submit.code, 0) << submit.err;
  // The service receives it.
  Outcome receive = Ycr({"referral", "transition", "--set", "referral_id=r-1",
                         "--set", "receive"},
                        "service-7", "service");
  ASSERT_EQ(receive.code, 0) << receive.err;
  Outcome referral = Ycr({"referral", "get", "--set", "referral_id=r-1"});
  ASSERT_EQ(referral.code, 0) << referral.err;
  EXPECT_TRUE(Has(referral.out, "state: REFERRAL_STATE_RECEIVED"))
      << referral.out;

  // The service owes a decision: overdue far in the future, as a table.
  Outcome overdue =
      Ycr({"deadlines", "list-overdue", "--set", "as_of=2099-01-01T00:00:00Z",
           "--set", "organisation=service-7"},
          "service-7", "service");
  ASSERT_EQ(overdue.code, 0) << overdue.err;
  std::vector<std::string> rows = Lines(overdue.out);
  ASSERT_GE(rows.size(), 2u) << overdue.out;
  EXPECT_EQ(rows[0].rfind("KIND", 0), 0u) << overdue.out;
  EXPECT_TRUE(Has(rows[0], "DUE_AT")) << overdue.out;
  EXPECT_TRUE(Has(rows[0], "OWED_BY")) << overdue.out;
  EXPECT_TRUE(Has(rows[1], "REFERRAL_DECISION")) << overdue.out;
  EXPECT_TRUE(Has(rows[1], "r-1")) << overdue.out;
  EXPECT_TRUE(Has(rows[1], "service-7")) << overdue.out;
  EXPECT_TRUE(Has(overdue.out, "as_of: 2099-01-01T00:00:00Z")) << overdue.out;

  // The audit trail streams one JSON line per entry, in log order.
  Outcome trail = Ycr({"audit", "trail", "--set", "subject_id=s-1", "--json"});
  ASSERT_EQ(trail.code, 0) << trail.err;
  std::vector<std::string> entries = Lines(trail.out);
  ASSERT_EQ(entries.size(), 4u) << trail.out;
  const char* types[] = {"subject_record_changed", "consent_granted",
                         "referral_submitted", "referral_received"};
  for (size_t i = 0; i < entries.size(); ++i) {
    EXPECT_TRUE(
        Has(entries[i], "\"position\":\"" + std::to_string(i + 1) + "\""))
        << entries[i];
    EXPECT_TRUE(Has(entries[i], std::string("\"eventType\":\"") + types[i]))
        << entries[i];
  }
  Outcome human_trail = Ycr({"trail", "--subject-id=s-1"});
  ASSERT_EQ(human_trail.code, 0) << human_trail.err;
  EXPECT_TRUE(Has(human_trail.out, "event_type: referral_received"))
      << human_trail.out;
}

// The spellings people type: an action word for a part of a request, a
// field's plain name as a flag (--subject, --service), a method as a flag
// (--overdue), hyphens in flag names.
TEST_F(CliTest, ActionsPlainFieldFlagsAndMethodFlags) {
  ASSERT_NO_FATAL_FAILURE(PutSubject("s-1"));
  ASSERT_NO_FATAL_FAILURE(GrantConsent("c-1", "s-1"));
  Outcome submit = Ycr({"referral",
                        "submit",
                        "--referral-id",
                        "r-1",
                        "--subject",
                        "s-1",
                        "--school",
                        "school-100001",
                        "--service",
                        "service-7",
                        "--disclosure.disclosure-id",
                        NewUuid(),
                        "--disclosure.subject",
                        "s-1",
                        "--disclosure.from.organisation=school-100001",
                        "--disclosure.to.organisation=service-7",
                        "--disclosure.categories=DATA_CATEGORY_IDENTITY",
                        "--disclosure.purpose=REFERRAL",
                        "--disclosure.consent.consent-id=c-1",
                        "--timeout-seconds",
                        "20"});
  ASSERT_EQ(submit.code, 0) << submit.err;
  Outcome receive = Ycr({"referral", "receive", "--referral-id", "r-1"},
                        "service-7", "service");
  ASSERT_EQ(receive.code, 0) << receive.err;

  Outcome caseload = Ycr({"caseload", "--service", "service-7", "--json"},
                         "service-7", "service");
  ASSERT_EQ(caseload.code, 0) << caseload.err;
  EXPECT_TRUE(Has(caseload.out, "REFERRAL_STATE_RECEIVED")) << caseload.out;

  Outcome overdue = Ycr({"deadlines", "--overdue", "--as-of",
                         "2099-01-01T00:00:00Z", "--service", "service-7"},
                        "service-7", "service");
  ASSERT_EQ(overdue.code, 0) << overdue.err;
  EXPECT_TRUE(Has(overdue.out, "REFERRAL_DECISION")) << overdue.out;

  Outcome trail = Ycr({"audit", "trail", "--subject", "s-1", "--json"});
  ASSERT_EQ(trail.code, 0) << trail.err;
  EXPECT_EQ(Lines(trail.out).size(), 4u) << trail.out;

  Outcome help = RunCommand({YCR_CLI_BINARY, "referral", "--help"});
  EXPECT_TRUE(Has(help.out, "submit = transition --set submit")) << help.out;

  // A word that is neither a method nor an action is still refused.
  Outcome wrong = Ycr({"referral", "submitt"});
  EXPECT_EQ(wrong.code, 2);
  EXPECT_TRUE(Has(wrong.err, "did you mean: transition")) << wrong.err;
}

// `ycr demo` seeds a county in which every view has data; a second run
// writes nothing.
TEST_F(CliTest, DemoSeedsACountyWithDataInEveryView) {
  Outcome demo = Ycr({"demo"});
  ASSERT_EQ(demo.code, 0) << demo.out << demo.err;
  EXPECT_TRUE(Has(demo.out, "77 calls in")) << demo.out;
  Outcome head = Ycr({"head", "--json"});
  ASSERT_EQ(head.code, 0) << head.err;

  const std::string service = "service-northshire-young-carers";
  Outcome caseload =
      Ycr({"caseload", "--service", service}, service, "service");
  ASSERT_EQ(caseload.code, 0) << caseload.err;
  for (const char* state :
       {"REFERRAL_STATE_SUBMITTED", "REFERRAL_STATE_ACCEPTED",
        "REFERRAL_STATE_REGISTERED", "worker-amber"}) {
    EXPECT_TRUE(Has(caseload.out, state)) << state << " in\n" << caseload.out;
  }
  // The county's social care reads the caseloads of its area, but not the
  // names of another organisation's staff.
  Outcome area = Ycr({"caseload", "--service", service},
                     "la-northshire-childrens-social-care", "local_authority");
  ASSERT_EQ(area.code, 0) << area.err;
  EXPECT_TRUE(Has(area.out, "REFERRAL_STATE_ACCEPTED")) << area.out;
  EXPECT_FALSE(Has(area.out, "worker-amber")) << area.out;
  Outcome school = Ycr({"caseload", "--school", "school-hillside-primary"},
                       "school-hillside-primary", "school");
  ASSERT_EQ(school.code, 0) << school.err;
  EXPECT_TRUE(Has(school.out, "identified: 3")) << school.out;
  EXPECT_TRUE(Has(school.out, "referred: 2")) << school.out;

  Outcome due = Ycr({"deadlines", "list-due", "--by", "2100-01-01T00:00:00Z"},
                    "ico", "auditor");
  ASSERT_EQ(due.code, 0) << due.err;
  for (const char* kind :
       {"CORRESPONDENCE_ANSWER", "REFERRAL_ACKNOWLEDGEMENT", "CONSENT_EXPIRY",
        "AGREEMENT_REVIEW", "RETENTION_REVIEW"}) {
    EXPECT_TRUE(Has(due.out, kind)) << kind << " in\n" << due.out;
  }
  Outcome overdue = Ycr({"deadlines", "--overdue"}, "ico", "auditor");
  ASSERT_EQ(overdue.code, 0) << overdue.err;
  EXPECT_TRUE(Has(overdue.out, "p-ok-99")) << overdue.out;

  // The safeguarding case: the referral to social care without consent,
  // and the decision not to share, in the pupil's trail and export.
  Outcome trail = Ycr({"audit", "trail", "--subject", "p-ok-01", "--json"},
                      "ico", "auditor");
  ASSERT_EQ(trail.code, 0) << trail.err;
  for (const char* type :
       {"social_care_referral_made", "sharing_declined", "referral_registered",
        "session_delivered", "correspondence_received"}) {
    EXPECT_TRUE(Has(trail.out, type)) << type << " in\n" << trail.out;
  }
  Outcome outcomes = Ycr({"audit", "trail", "--subject", "p-hs-01", "--json"},
                         "ico", "auditor");
  EXPECT_TRUE(Has(outcomes.out, "outcomes_recorded")) << outcomes.out;
  Outcome html =
      Ycr({"audit", "export", "--subject", "p-ok-01", "--format", "html"},
          "ico", "auditor");
  ASSERT_EQ(html.code, 0) << html.err;
  EXPECT_TRUE(Has(html.out, "without consent</span>")) << html.out;
  Outcome consents =
      Ycr({"audit", "export", "--subject", "p-ok-02", "--format", "csv"}, "ico",
          "auditor");
  ASSERT_EQ(consents.code, 0) << consents.err;
  EXPECT_TRUE(Has(consents.out, "consent_varied")) << consents.out;
  EXPECT_TRUE(Has(consents.out, "consent_withdrawn")) << consents.out;
  EXPECT_TRUE(Has(consents.out, "covered by consent c-ok-02 v2"))
      << consents.out;
  // (--organisation is the caller's; the request's field goes in --set.)
  Outcome disclosures = Ycr({"audit", "organisation-disclosures", "--set",
                             "organisation=school-oakfield-high"},
                            "ico", "auditor");
  ASSERT_EQ(disclosures.code, 0) << disclosures.err;
  EXPECT_TRUE(Has(disclosures.out, "la-northshire-childrens-social-care"))
      << disclosures.out;

  // Again: already there, nothing written.
  Outcome again = Ycr({"demo"});
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_TRUE(Has(again.out, "already has the demo county")) << again.out;
  Outcome head_again = Ycr({"head", "--json"});
  EXPECT_EQ(head_again.out, head.out);
}

TEST_F(CliTest, DemoScriptErrorsNameTheLine) {
  const std::string path = dir_.path() + "/bad.jsonl";
  {
    std::ofstream out(path);
    out << "# comment\n\n"
        << R"({"as":"school-1/u/school","call":"subjects put-recrd","data":{}})"
        << "\n";
  }
  Outcome unknown = Ycr({"demo", "--file", path});
  EXPECT_EQ(unknown.code, 2);
  EXPECT_TRUE(Has(unknown.err, "line 3: unknown command 'subjects put-recrd'"))
      << unknown.err;
  {
    std::ofstream out(path);
    out << R"({"as":"school-1/u/school","call":"subjects put-record",)"
        << R"("data":{"record":{"subject_id":"s-9","given_name":"A",)"
        << R"("family_name":"B","date_of_birth":"@now+3x"}}})"
        << "\n";
  }
  Outcome time = Ycr({"demo", "--file", path});
  EXPECT_EQ(time.code, 2);
  EXPECT_TRUE(Has(time.err, "bad time \"@now+3x\"")) << time.err;
  {
    std::ofstream out(path);
    out << R"({"as":"school-1/school","call":"head"})"
        << "\n";
  }
  Outcome as = Ycr({"demo", "--file", path});
  EXPECT_EQ(as.code, 2);
  EXPECT_TRUE(Has(as.err, "line 1: \"as\" must be organisation/user/role"))
      << as.err;
  // A refused call stops the run and names the line and the status.
  {
    std::ofstream out(path);
    out << R"({"as":"school-1/u/school","call":"subjects get-record",)"
        << R"("data":{"subject_id":"nobody"}})"
        << "\n";
  }
  Outcome refused = Ycr({"demo", "--file", path});
  EXPECT_EQ(refused.code, 1);
  EXPECT_TRUE(Has(refused.err,
                  "line 1 (subjects get-record as school-1/u/"
                  "school) failed:\nycr: NOT_FOUND"))
      << refused.err;
}

TEST_F(CliTest, RefusedCallExitsOneWithTheCodeName) {
  ASSERT_NO_FATAL_FAILURE(PutSubject("s-1"));
  ASSERT_NO_FATAL_FAILURE(GrantConsent("c-1", "s-1"));
  ASSERT_EQ(Ycr(SubmitArgs("r-1", "s-1", "c-1")).code, 0);
  // Only the service accepts.
  Outcome accept = Ycr({"referrals", "transition", "--set", "referral_id=r-1",
                        "--set", "accept"});
  EXPECT_EQ(accept.code, 1);
  EXPECT_TRUE(Has(accept.err, "ycr: PERMISSION_DENIED: ")) << accept.err;

  Outcome missing =
      Ycr({"subjects", "get-record", "--set", "subject_id=nobody"});
  EXPECT_EQ(missing.code, 1);
  EXPECT_TRUE(Has(missing.err, "ycr: NOT_FOUND: ")) << missing.err;
}

// A refusal's google.rpc details are printed: a line each for the reason,
// every field and every precondition; with --json, the status as JSON.
TEST_F(CliTest, RefusalsShowTheirDetails) {
  ASSERT_NO_FATAL_FAILURE(PutSubject("s-1"));
  Outcome bad = Ycr({"subjects", "get-record", "--set", "subject_id=s 1"});
  EXPECT_EQ(bad.code, 1);
  EXPECT_TRUE(Has(bad.err, "ycr: INVALID_ARGUMENT: subject_id: ")) << bad.err;
  EXPECT_TRUE(Has(bad.err, "\n  reason: FIELD_INVALID\n")) << bad.err;
  EXPECT_TRUE(Has(bad.err, "\n  field subject_id: ")) << bad.err;

  Outcome json =
      Ycr({"subjects", "get-record", "--set", "subject_id=s 1", "--json"});
  EXPECT_EQ(json.code, 1);
  EXPECT_TRUE(Has(json.err,
                  "\"@type\":\"type.googleapis.com/google.rpc."
                  "BadRequest\""))
      << json.err;
  EXPECT_TRUE(Has(json.err, "\"field\":\"subject_id\"")) << json.err;

  // A cited consent that does not exist: a precondition line.
  Outcome cited = Ycr(SubmitArgs("r-1", "s-1", "no-such-consent"));
  EXPECT_EQ(cited.code, 1);
  EXPECT_TRUE(Has(cited.err, "  reason: REFERENCE_NOT_FOUND\n")) << cited.err;
  EXPECT_TRUE(Has(cited.err, "  precondition CONSENT ")) << cited.err;
}

TEST_F(CliTest, UsageErrorsExitTwoAndSayWhatIsWrong) {
  Outcome method = Ycr({"referrals", "transiton"});
  EXPECT_EQ(method.code, 2);
  EXPECT_TRUE(Has(method.err, "unknown method of referrals 'transiton'"))
      << method.err;
  EXPECT_TRUE(Has(method.err, "did you mean: transition")) << method.err;

  Outcome service = Ycr({"referal", "get"});
  EXPECT_EQ(service.code, 2);
  EXPECT_TRUE(Has(service.err, "unknown command 'referal'")) << service.err;
  EXPECT_TRUE(Has(service.err, "referrals")) << service.err;

  Outcome field = Ycr({"subjects", "get-record", "--set", "pupil=s-1"});
  EXPECT_EQ(field.code, 2);
  EXPECT_TRUE(Has(field.err, "--set pupil: no field 'pupil'")) << field.err;
  EXPECT_TRUE(Has(field.err, "subject_id")) << field.err;

  Outcome value =
      Ycr({"deadlines", "list-overdue", "--set", "as_of=yesterday"});
  EXPECT_EQ(value.code, 2);
  EXPECT_TRUE(Has(value.err, "--set as_of: 'yesterday' is not an RFC 3339"))
      << value.err;

  Outcome number = Ycr({"audit", "trail", "--set", "page_size=many"});
  EXPECT_EQ(number.code, 2);
  EXPECT_TRUE(Has(number.err, "--set page_size:")) << number.err;

  Outcome json =
      Ycr({"consents", "grant", "--data={\"consent\": {\"nope\": 1}}"});
  EXPECT_EQ(json.code, 2);
  EXPECT_TRUE(Has(json.err, "--data")) << json.err;
  EXPECT_TRUE(Has(json.err, "nope")) << json.err;
}

TEST_F(CliTest, PrintedRequestIdReusedReplays) {
  ASSERT_NO_FATAL_FAILURE(PutSubject("s-1"));
  std::vector<std::string> identify = {
      "subjects", "identify-young-carer",
      "--set",    "identification.subject_id=s-1",
      "--set",    "identification.census_code=CENSUS_CODE_IDENTIFIED_BY_PARENT",
      "--json"};
  Outcome first = Ycr(identify);
  ASSERT_EQ(first.code, 0) << first.err;
  const std::string id = RequestId(first.err);
  ASSERT_TRUE(IsUuid(id)) << first.err;
  EXPECT_FALSE(Has(first.out, "\"replayed\":true")) << first.out;

  identify.push_back("--set=request_id=" + id);
  Outcome again = Ycr(identify);
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(RequestId(again.err), id);
  EXPECT_TRUE(Has(again.out, "\"replayed\":true")) << again.out;
}

TEST_F(CliTest, LogCommandsStillWork) {
  // Raw appends are an operator's, raw reads an auditor's.
  Outcome append = Ycr({"log", "append", "ops-notes-1", "test.note", "hello"},
                       "ops", "admin");
  ASSERT_EQ(append.code, 0) << append.err;
  EXPECT_TRUE(Has(append.out, "appended at position 1")) << append.out;
  Outcome head = Ycr({"head"});
  ASSERT_EQ(head.code, 0) << head.err;
  EXPECT_TRUE(Has(head.out, "position 1")) << head.out;
  Outcome tail = Ycr({"log", "tail", "--json"}, "auditor-1", "auditor");
  ASSERT_EQ(tail.code, 0) << tail.err;
  EXPECT_TRUE(Has(tail.out, "\"stream\":\"ops-notes-1\"")) << tail.out;
  // The same through the generic commands: a subscription stops when it
  // has caught up, unless followed.
  Outcome subscribe =
      Ycr({"event-store", "subscribe", "--json"}, "auditor-1", "auditor");
  ASSERT_EQ(subscribe.code, 0) << subscribe.err;
  EXPECT_EQ(Lines(subscribe.out).size(), 1u) << subscribe.out;
  Outcome read = Ycr({"event-store", "read-stream", "--stream=ops-notes-1"},
                     "auditor-1", "auditor");
  Outcome refused = Ycr({"log", "tail"});
  EXPECT_EQ(refused.code, 1);
  EXPECT_TRUE(Has(refused.err, "PERMISSION_DENIED: role 'school' may not call"))
      << refused.err;
  ASSERT_EQ(read.code, 0) << read.err;
  EXPECT_TRUE(Has(read.out, "POSITION")) << read.out;
  EXPECT_TRUE(Has(read.out, "test.note")) << read.out;
  // A domain stream is not the raw log's to write, even for an operator.
  Outcome domain =
      Ycr({"log", "append", "consent-c-1", "test.note", "x"}, "ops", "admin");
  EXPECT_EQ(domain.code, 1);
  EXPECT_TRUE(Has(domain.err,
                  "INVALID_ARGUMENT: stream: raw appends touch only "
                  "streams named \"ops-<name>\""))
      << domain.err;
}

}  // namespace
}  // namespace ycr::testing
