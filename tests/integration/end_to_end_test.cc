// End to end, with the real binaries as people run them: ycr-server (with
// its testing-only clock), the ycr CLI and ycr-scheduler. An agreement, a
// letter received about a pupil, time passing, the scheduler flagging it
// overdue exactly once, the answer clearing it, and the pupil's audit trail.
// A server without the testing flag refuses to move its clock. Everything
// goes over mutual TLS, with certificates from deploy/dev-ca.sh: the secure
// path is the one tested.

#include <sys/wait.h>

#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/integration/dev_ca.h"
#include "tests/integration/server_process.h"
#include "tests/integration/test_server.h"

namespace ycr::testing {
namespace {

// The server binary over mutual TLS (certificates in DIR/tls), with its
// testing-only clock when asked; its store in DIR/data.
class TestingServer : public ServerProcess {
 public:
  TestingServer(const std::string& dir, bool testing_clock)
      : ServerProcess(YCR_SERVER_BINARY, dir + "/data",
                      Flags(dir, testing_clock)),
        tls_(dir + "/tls") {}

  const std::string& tls() const { return tls_; }

 private:
  static std::vector<std::string> Flags(const std::string& dir,
                                        bool testing_clock) {
    RunDevCa(dir + "/tls");
    std::vector<std::string> flags = ServerTlsFlags(dir + "/tls");
    flags.push_back("--sync=false");
    if (testing_clock) flags.push_back("--testing_time_control");
    return flags;
  }

  const std::string tls_;
};

struct Outcome {
  int code = -1;
  std::string out;
};

// Runs a shell command line; stdout and stderr together.
Outcome Shell(const std::string& command) {
  Outcome run;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return run;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) {
    run.out.append(buffer, n);
  }
  run.code = WEXITSTATUS(pclose(pipe));
  return run;
}

// `ycr ARGS` as `organisation` / `role` (user e2e, with a certificate made
// for them) against `server`.
Outcome Ycr(const TestingServer& server, const std::string& organisation,
            const std::string& role, const std::string& args) {
  AddIdentity(server.tls(), organisation, "e2e", role);
  return Shell(absl::StrCat(
      YCR_CLI_BINARY, " --server=", server.address(), " ",
      absl::StrJoin(ClientTlsFlags(server.tls(), organisation, "e2e"), " "),
      " ", args));
}

std::string Quote(const std::string& json) { return "'" + json + "'"; }

constexpr char kTerms[] =
    R"("terms":{"school":{"organisation":"school-1","name":"Hill School",)"
    R"("address":"1 Hill Road","responsibilities":["identify young carers"],)"
    R"("leadContact":{"name":"Lead"}},"service":{"organisation":"service-1",)"
    R"("name":"Carers Service","address":"2 Vale Road",)"
    R"("responsibilities":["assess and support"],)"
    R"("leadContact":{"name":"Lead"}},"responseTimeDays":14,)"
    R"("reviewCadenceMonths":12,"closingPeriodDays":30})";

TEST(EndToEndTest, AMissedAnswerIsFlaggedOnceAndClearsWhenAnswered) {
  TempDir dir;
  TestingServer server(dir.path(), /*testing_clock=*/true);

  // The pupil's record, and a Working Together Agreement signed by both.
  Outcome r =
      Ycr(server, "school-1", "school",
          "subjects put-record --set record.subject_id=s-1 "
          "--set record.given_name=Ada --set record.family_name=Lovelace "
          "--set record.date_of_birth=2012-03-04");
  ASSERT_EQ(r.code, 0) << r.out;
  r = Ycr(server, "school-1", "school",
          "agreements record --data " +
              Quote(absl::StrCat(
                  R"({"agreementId":"a-1","draft":{"agreementId":"a-1",)",
                  kTerms, "}}")));
  ASSERT_EQ(r.code, 0) << r.out;
  const std::pair<const char*, const char*> parties[] = {
      {"school-1", "school"}, {"service-1", "service"}};
  for (const auto& [party, role] : parties) {
    r = Ycr(server, party, role,
            "agreements record --set agreement_id=a-1 --set sign");
    ASSERT_EQ(r.code, 0) << r.out;
  }

  // A letter from the school about the pupil, received by the service now.
  r = Ycr(server, "service-1", "service", "testing get-time --json");
  ASSERT_EQ(r.code, 0) << r.out;
  const size_t at = r.out.find("\"now\":\"");
  ASSERT_NE(at, std::string::npos) << r.out;
  const std::string now =
      r.out.substr(at + 7, r.out.find('"', at + 7) - at - 7);
  r = Ycr(
      server, "service-1", "service",
      "correspondence record --data " +
          Quote(absl::StrCat(
              R"({"correspondenceId":"m-1","receive":{"correspondenceId":"m-1",)",
              R"("agreementId":"a-1","channel":"CHANNEL_EMAIL","from":"school-1",)",
              R"("topicCode":"CORRESPONDENCE_TOPIC_SUPPORT","subjectId":"s-1",)",
              R"("receivedAt":")", now,
              R"("},"personal":{"notes":"support plan"}})")));
  ASSERT_EQ(r.code, 0) << r.out;

  const std::string scheduler = absl::StrCat(
      YCR_SCHEDULER_BINARY, " --once --server=", server.address(), " ",
      absl::StrJoin(ClientTlsFlags(server.tls(), "scheduler", "ycr-scheduler"),
                    " "));
  // Not due yet.
  r = Shell(scheduler);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("scheduler.pass overdue=0 "), std::string::npos)
      << r.out;

  // Fifteen days pass: overdue, flagged once however often the scheduler runs.
  r = Ycr(server, "ops", "admin",
          "testing advance-time --data '{\"by\":\"1296000s\"}'");
  ASSERT_EQ(r.code, 0) << r.out;
  // A dry run (spelled as cron users type it) says what it would flag and
  // flags nothing.
  r = Shell(scheduler + " --dry-run");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("scheduler.would_flag"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("m-1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" flagged=0 "), std::string::npos) << r.out;
  r = Ycr(server, "service-1", "service", "deadlines --overdue --json");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("\"m-1\""), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("flaggedAt"), std::string::npos) << r.out;
  r = Shell(scheduler);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find(" flagged=1 "), std::string::npos) << r.out;
  r = Shell(scheduler);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find(" flagged=0 "), std::string::npos) << r.out;
  r = Ycr(server, "service-1", "service",
          "deadlines list-overdue --set organisation=service-1 --json");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("flaggedAt"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"m-1\""), std::string::npos) << r.out;

  // Answered: the flag clears with the deadline.
  r = Ycr(server, "service-1", "service",
          "correspondence record --set correspondence_id=m-1 --set answer");
  ASSERT_EQ(r.code, 0) << r.out;
  r = Shell(scheduler);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("scheduler.pass overdue=0 "), std::string::npos)
      << r.out;
  r = Ycr(server, "service-1", "service",
          "deadlines list-overdue --set organisation=service-1 --json");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out.find("\"m-1\""), std::string::npos) << r.out;

  // The pupil's audit trail has the letter, its answer and the record, in
  // log order; the scheduler's flag is about the deadline, not the pupil.
  r = Ycr(server, "auditor-1", "auditor",
          "audit trail --set subject_id=s-1 --json");
  ASSERT_EQ(r.code, 0) << r.out;
  std::vector<std::string> lines =
      absl::StrSplit(r.out, '\n', absl::SkipWhitespace());
  std::vector<std::string> trail;
  for (const std::string& line : lines) {
    if (line.rfind("{", 0) == 0) trail.push_back(line);
  }
  ASSERT_EQ(trail.size(), 3u) << r.out;
  EXPECT_NE(trail[0].find("subjectRecordChanged"), std::string::npos);
  EXPECT_NE(trail[1].find("correspondenceReceived"), std::string::npos);
  EXPECT_NE(trail[2].find("correspondenceAnswered"), std::string::npos);
  EXPECT_EQ(r.out.find("Lovelace"), std::string::npos)
      << "the log holds no names";

  // The auditor's export says the same, line by line, with positions.
  r = Ycr(server, "auditor-1", "auditor",
          "audit export --subject s-1 --format csv");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("correspondence_received"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("correspondence_answered"), std::string::npos) << r.out;
  r = Ycr(server, "auditor-1", "auditor",
          "audit export --subject s-1 --format html");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("s-1"), std::string::npos);
  EXPECT_EQ(r.out.find("<script"), std::string::npos);
}

TEST(EndToEndTest, AServerWithoutTheTestingFlagKeepsItsClock) {
  TempDir dir;
  TestingServer server(dir.path(), /*testing_clock=*/false);
  Outcome r = Ycr(server, "ops", "admin",
                  "testing advance-time --data '{\"by\":\"60s\"}'");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("UNIMPLEMENTED"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace ycr::testing
