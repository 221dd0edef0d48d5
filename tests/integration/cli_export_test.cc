// `ycr audit export` as an operator runs it, against a real server: a
// subject's trail (a consent, a disclosure under it, a safeguarding referral
// to social care without consent) as JSON lines, CSV and one HTML page;
// personal text left out of csv and html; exit codes 2 (bad usage) and 1
// (refused).

#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/integration/command_runner.h"
#include "tests/integration/domain_flows_fixture.h"
#include "ycr/v1/queries_service.grpc.pb.h"

namespace ycr::testing {
namespace {

bool Has(const std::string& text, const std::string& fragment) {
  return text.find(fragment) != std::string::npos;
}

std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, absl::ByAnyChar("\r\n"), absl::SkipEmpty());
}

constexpr char kFacts[] = "bruise on left arm, said dad was angry";
constexpr char kLawfulBasis[] = "DPA 2018 Sch.1 para 18 <b>urgent</b>";

class CliExportTest : public DomainFlowsTest {
 protected:
  // Runs `ycr args...` as `organisation` (role school).
  Outcome Ycr(std::vector<std::string> args,
              const std::string& organisation = kSchool,
              const std::string& role = "school") {
    std::vector<std::string> all = {
        YCR_CLI_BINARY,
        "--server=127.0.0.1:" + std::to_string(server_.server().port()),
        "--organisation=" + organisation,
        "--user=dsl-1",
        "--role=" + role,
        "--timeout_seconds=20"};
    all.insert(all.end(), args.begin(), args.end());
    return RunCommand(all);
  }

  Outcome RunCommand(const std::vector<std::string>& args) {
    return RunArgs(args, dir_.path() + "/stderr");
  }

  // s-1: record, consent c-1, a disclosure under it, a concern referred to
  // social care without consent.
  void MakeHistory() {
    ASSERT_NO_FATAL_FAILURE(AddSubject("s-1"));
    ASSERT_TRUE(Ok(Grant(Consent("c-1", "s-1", kService, {v1::PURPOSE_REFERRAL},
                                 {v1::DATA_CATEGORY_IDENTITY}, clock_.Now()),
                         kSchool)));
    v1::RecordDisclosureRequest disclose;
    *disclose.mutable_disclosure() =
        Disclosure("s-1", kSchool, kService, v1::PURPOSE_REFERRAL,
                   {v1::DATA_CATEGORY_IDENTITY}, "c-1");
    ASSERT_TRUE(Ok(Disclose(disclose, kSchool)));
    ASSERT_TRUE(Ok(Safeguard(Raise("g-1", "s-1", kFacts), kSchool)));
    ASSERT_TRUE(Ok(Safeguard(NotifyDsl("g-1"), kSchool)));
    v1::SafeguardingCommand refer = ReferToSocialCare("g-1", "s-1");
    refer.mutable_refer_to_social_care()
        ->mutable_disclosure()
        ->mutable_safeguarding()
        ->set_lawful_basis(kLawfulBasis);
    ASSERT_TRUE(Ok(Safeguard(refer, kSchool)));
  }

  // The trail as the API serves it, once the projection has caught up with
  // the log's head (so later exports see the same entries).
  std::vector<v1::AuditEntry> Trail(const std::string& subject_id) {
    auto audit = v1::Audit::NewStub(channel_);
    v1::AuditTrailRequest request;
    request.set_subject_id(subject_id);
    request.set_min_position(Head());
    grpc::ClientContext context;
    AsCaller(&context);
    auto reader = audit->Trail(&context, request);
    std::vector<v1::AuditEntry> entries;
    v1::AuditEntry entry;
    while (reader->Read(&entry)) entries.push_back(entry);
    EXPECT_TRUE(Ok(reader->Finish()));
    return entries;
  }
};

TEST_F(CliExportTest, JsonLinesOnePerEntryInPositionOrder) {
  ASSERT_NO_FATAL_FAILURE(MakeHistory());
  const std::vector<v1::AuditEntry> trail = Trail("s-1");
  ASSERT_EQ(trail.size(), 6u);

  Outcome run = Ycr({"audit", "export", "--subject", "s-1", "--format=jsonl"});
  ASSERT_EQ(run.code, 0) << run.err;
  std::vector<std::string> lines = Lines(run.out);
  ASSERT_EQ(lines.size(), trail.size()) << run.out;
  uint64_t previous = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    v1::AuditEntry parsed;
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = true;
    ASSERT_TRUE(
        google::protobuf::util::JsonStringToMessage(lines[i], &parsed, options)
            .ok())
        << lines[i];
    EXPECT_EQ(parsed.event().position(), trail[i].event().position());
    EXPECT_GT(parsed.event().position(), previous);
    previous = parsed.event().position();
    EXPECT_EQ(parsed.event().hash(), trail[i].event().hash());
    EXPECT_TRUE(Has(lines[i],
                    "\"hashHex\":\"" +
                        absl::BytesToHexString(trail[i].event().hash()) + "\""))
        << lines[i];
  }
  // jsonl carries the full entry, personal part included.
  EXPECT_TRUE(Has(run.out, kFacts));

  // The same to a file.
  const std::string path = dir_.path() + "/trail.jsonl";
  Outcome file = Ycr({"audit", "export", "--subject=s-1", "--format", "jsonl",
                      "--output", path});
  ASSERT_EQ(file.code, 0) << file.err;
  EXPECT_EQ(file.out, "");
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), run.out);
}

TEST_F(CliExportTest, CsvHeaderAndOneRowPerEntry) {
  ASSERT_NO_FATAL_FAILURE(MakeHistory());
  const std::vector<v1::AuditEntry> trail = Trail("s-1");
  Outcome run = Ycr({"audit", "export", "--subject", "s-1", "--format", "csv"});
  ASSERT_EQ(run.code, 0) << run.err;
  std::vector<std::string> rows = Lines(run.out);
  ASSERT_EQ(rows.size(), trail.size() + 1) << run.out;
  EXPECT_EQ(rows[0],
            "position,recorded_at,event_type,actor_organisation,actor_user,"
            "actor_role,stream,from,to,categories,purpose,basis,hash");
  bool consent_row = false;
  bool safeguarding_row = false;
  for (size_t i = 1; i < rows.size(); ++i) {
    EXPECT_EQ(
        rows[i].rfind(std::to_string(trail[i - 1].event().position()) + ",", 0),
        0u)
        << rows[i];
    if (Has(rows[i], ",disclosure_recorded,")) {
      consent_row = true;
      EXPECT_TRUE(Has(rows[i], ",consent c-1 v1,")) << rows[i];
      EXPECT_TRUE(Has(rows[i], ",DATA_CATEGORY_IDENTITY,PURPOSE_REFERRAL,"))
          << rows[i];
    }
    if (Has(rows[i], "safeguarding: ")) {
      safeguarding_row = true;
      EXPECT_TRUE(Has(rows[i],
                      "DATA_CATEGORY_IDENTITY;DATA_CATEGORY_CARING_"
                      "SITUATION"))
          << rows[i];
      EXPECT_TRUE(Has(rows[i], "decision-maker dsl-1")) << rows[i];
    }
  }
  EXPECT_TRUE(consent_row) << run.out;
  EXPECT_TRUE(safeguarding_row) << run.out;
  EXPECT_FALSE(Has(run.out, kFacts)) << run.out;
  EXPECT_FALSE(Has(run.out, "risk of significant harm")) << run.out;
}

TEST_F(CliExportTest, HtmlHighlightsDisclosuresWithoutConsentAndEscapes) {
  ASSERT_NO_FATAL_FAILURE(MakeHistory());
  Outcome run =
      Ycr({"audit", "export", "--subject", "s-1", "--format", "html"});
  ASSERT_EQ(run.code, 0) << run.err;
  const std::string& html = run.out;
  EXPECT_TRUE(Has(html, "<title>Audit trail of subject s-1")) << html;
  EXPECT_TRUE(Has(html, "class=\"no-consent\"")) << html;
  const size_t row = html.find("<tr class=\"no-consent\">");
  ASSERT_NE(row, std::string::npos) << html;
  const std::string no_consent =
      html.substr(row, html.find("</tr>", row) - row);
  EXPECT_TRUE(Has(no_consent, "without consent")) << no_consent;
  EXPECT_TRUE(
      Has(no_consent, "DPA 2018 Sch.1 para 18 &lt;b&gt;urgent&lt;/b&gt;"))
      << no_consent;
  EXPECT_TRUE(Has(no_consent, "dsl-1")) << no_consent;
  EXPECT_TRUE(Has(no_consent, kSocialCare)) << no_consent;
  EXPECT_FALSE(Has(html, "<b>urgent")) << html;
  EXPECT_FALSE(Has(html, "<script")) << html;
  EXPECT_FALSE(Has(html, "http://")) << html;
  EXPECT_FALSE(Has(html, "https://")) << html;
  EXPECT_FALSE(Has(html, kFacts)) << html;
  EXPECT_FALSE(Has(html, "risk of significant harm")) << html;
  EXPECT_FALSE(Has(html, "telling the family")) << html;
  // The consent disclosure is in the timeline, not highlighted.
  EXPECT_TRUE(Has(html, "consent c-1 v1")) << html;
}

TEST_F(CliExportTest, UsageErrorsExitTwoAndRefusalExitsOne) {
  ASSERT_NO_FATAL_FAILURE(MakeHistory());
  Outcome format = Ycr({"audit", "export", "--subject", "s-1", "--format=pdf"});
  EXPECT_EQ(format.code, 2);
  EXPECT_TRUE(Has(format.err, "unknown --format 'pdf'")) << format.err;

  Outcome subject = Ycr({"audit", "export", "--format=csv"});
  EXPECT_EQ(subject.code, 2);
  EXPECT_TRUE(Has(subject.err, "--subject")) << subject.err;

  Outcome other = Ycr({"audit", "export", "--subject", "s-1", "--format=csv"},
                      kOtherSchool);
  EXPECT_EQ(other.code, 1);
  EXPECT_TRUE(Has(other.err, "ycr: PERMISSION_DENIED: ")) << other.err;
  EXPECT_EQ(other.out, "");
  // An auditor of another organisation may export it.
  const size_t entries = Trail("s-1").size();
  Outcome auditor = Ycr({"audit", "export", "--subject", "s-1", "--format=csv"},
                        "ico", "auditor");
  ASSERT_EQ(auditor.code, 0) << auditor.err;
  EXPECT_EQ(Lines(auditor.out).size(), entries + 1) << auditor.out;

  Outcome help = RunCommand({YCR_CLI_BINARY, "audit", "export", "--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_TRUE(Has(help.out, "--format")) << help.out;
  EXPECT_TRUE(Has(help.out, "jsonl|csv|html")) << help.out;
}

}  // namespace
}  // namespace ycr::testing
