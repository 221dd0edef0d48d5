// `ycr audit export` as an operator runs it, against a real server: a
// subject's trail (a consent, a disclosure under it, a safeguarding referral
// to social care without consent) as JSON lines, CSV and one HTML page;
// personal text left out of csv and html; exit codes 2 (bad usage) and 1
// (refused). The HTML page is also opened in a real headless browser
// (Debian's chromium): rendered, screenshot taken and checked, page text read.

#include <png.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "domain/visibility.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/integration/command_runner.h"
#include "tests/integration/domain_flows_fixture.h"
#include "ycr/v1/queries_service.grpc.pb.h"

namespace ycr::testing {
namespace {

// The permission bits of `path`.
mode_t ModeOf(const std::string& path) {
  struct stat st;
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

bool Has(const std::string& text, const std::string& fragment) {
  return text.find(fragment) != std::string::npos;
}

std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, absl::ByAnyChar("\r\n"), absl::SkipEmpty());
}

constexpr char kFacts[] = "bruise on left arm, said dad was angry";
// A code from the closed list (free text there is refused).
constexpr char kLawfulBasis[] = "dpa2018-sch1-para18";

class CliExportTest : public DomainFlowsTest {
 protected:
  // Runs `ycr args...` as `organisation` (role school).
  Outcome Ycr(std::vector<std::string> args,
              const std::string& organisation = kSchool,
              const std::string& role = "school") {
    return RunCommand(CliAs(YCR_CLI_BINARY, server_.server().port(),
                            organisation, role, args));
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
  // Each disclosure names the consent in force when it was made, with its
  // terms then, or why none covered it.
  size_t disclosures = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (!trail[i].has_disclosure()) {
      EXPECT_FALSE(Has(lines[i], "consentInForce")) << lines[i];
      continue;
    }
    ++disclosures;
    if (trail[i].disclosure().has_consent()) {
      EXPECT_TRUE(Has(lines[i],
                      "\"consentInForce\":{\"covered\":true,\"consentId\":"
                      "\"c-1\",\"consentVersion\":\"1\",\"terms\":{"))
          << lines[i];
    } else {
      // Made on a safeguarding basis: it rests on no consent (whether one
      // would have covered it rests on every consent of the subject, which
      // no receipt can show to be all).
      EXPECT_TRUE(Has(lines[i],
                      "\"consentInForce\":{\"covered\":false,\"reasons\":["
                      "\"made on a safeguarding basis, under no consent\"]"))
          << lines[i];
    }
  }
  EXPECT_EQ(disclosures, 2u);

  // The same to a file, replacing one anyone could read: the export is
  // personal data, so it is its owner's only (0600) whatever the umask
  // (the CLI inherits this one).
  const std::string path = dir_.path() + "/trail.jsonl";
  const mode_t umask_before = umask(022);
  std::ofstream(path) << "an older export\n";
  ASSERT_EQ(ModeOf(path), 0644u);
  Outcome file = Ycr({"audit", "export", "--subject=s-1", "--format", "jsonl",
                      "--output", path});
  umask(umask_before);
  ASSERT_EQ(file.code, 0) << file.err;
  EXPECT_EQ(file.out, "");
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), run.out);
  EXPECT_EQ(ModeOf(path), 0600u);
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
            "actor_role,stream,from,to,categories,purpose,basis,"
            "consent_in_force,consent_terms,hash,receipt");
  bool consent_row = false;
  bool safeguarding_row = false;
  for (size_t i = 1; i < rows.size(); ++i) {
    EXPECT_EQ(
        rows[i].rfind(std::to_string(trail[i - 1].event().position()) + ",", 0),
        0u)
        << rows[i];
    if (Has(rows[i], ",disclosure_recorded,")) {
      consent_row = true;
      EXPECT_TRUE(Has(rows[i], ",consent c-1 v1,covered by consent c-1 v1,"))
          << rows[i];
      EXPECT_TRUE(Has(rows[i], "for REFERRAL; to service-7; of IDENTITY"))
          << rows[i];
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
      EXPECT_TRUE(Has(rows[i],
                      "not covered by consent: made on a safeguarding basis, "
                      "under no consent"))
          << rows[i];
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
  const size_t row = html.rfind("<tr ", html.find("class=\"no-consent\">"));
  ASSERT_NE(row, std::string::npos) << html;
  const std::string no_consent =
      html.substr(row, html.find("</tr>", row) - row);
  EXPECT_TRUE(Has(no_consent, "without consent")) << no_consent;
  EXPECT_TRUE(Has(no_consent, kLawfulBasis)) << no_consent;
  EXPECT_TRUE(Has(no_consent, "dsl-1")) << no_consent;
  EXPECT_TRUE(Has(no_consent, kSocialCare)) << no_consent;
  EXPECT_FALSE(Has(html, "<b>urgent")) << html;
  EXPECT_FALSE(Has(html, "<script")) << html;
  EXPECT_FALSE(Has(html, "http://")) << html;
  EXPECT_FALSE(Has(html, "https://")) << html;
  EXPECT_FALSE(Has(html, kFacts)) << html;
  EXPECT_FALSE(Has(html, "risk of significant harm")) << html;
  EXPECT_FALSE(Has(html, "telling the family")) << html;
  // The consent disclosure is in the timeline, not highlighted, with the
  // terms in force then.
  EXPECT_TRUE(Has(html, "consent c-1 v1")) << html;
  EXPECT_TRUE(Has(html,
                  "in force then: for REFERRAL; to service-7; of "
                  "IDENTITY"))
      << html;
}

// The terms shown are those in force at each disclosure, not the latest: a
// variation between two disclosures shows on the second only.
TEST_F(CliExportTest, ConsentTermsAreThoseInForceAtEachDisclosure) {
  ASSERT_NO_FATAL_FAILURE(AddSubject("s-1"));
  ASSERT_TRUE(Ok(Grant(Consent("c-1", "s-1", kService, {v1::PURPOSE_REFERRAL},
                               {v1::DATA_CATEGORY_IDENTITY}, clock_.Now()),
                       kSchool)));
  auto disclose = [&] {
    v1::RecordDisclosureRequest request;
    *request.mutable_disclosure() =
        Disclosure("s-1", kSchool, kService, v1::PURPOSE_REFERRAL,
                   {v1::DATA_CATEGORY_IDENTITY}, "c-1");
    return Disclose(request, kSchool);
  };
  ASSERT_TRUE(Ok(disclose()));
  v1::VaryConsentRequest vary;
  vary.set_request_id(NewUuid());
  vary.mutable_variation()->set_consent_id("c-1");
  *vary.mutable_variation()->mutable_terms() =
      Consent("c-1", "s-1", kService, {v1::PURPOSE_REFERRAL},
              {v1::DATA_CATEGORY_IDENTITY, v1::DATA_CATEGORY_ATTENDANCE},
              clock_.Now())
          .consent()
          .terms();
  vary.mutable_personal()->set_reason("school data added");
  {
    auto consents = v1::Consents::NewStub(channel_);
    grpc::ClientContext context;
    AsCaller(&context, kSchool, "dsl-1", "school");
    v1::CommandResponse out;
    ASSERT_TRUE(Ok(consents->Vary(&context, vary, &out)));
  }
  ASSERT_TRUE(Ok(disclose()));

  Outcome run = Ycr({"audit", "export", "--subject", "s-1", "--format", "csv"});
  ASSERT_EQ(run.code, 0) << run.err;
  std::vector<std::string> shared;
  for (const std::string& row : Lines(run.out)) {
    if (Has(row, ",disclosure_recorded,")) shared.push_back(row);
  }
  ASSERT_EQ(shared.size(), 2u) << run.out;
  EXPECT_TRUE(Has(shared[0], "covered by consent c-1 v1,")) << shared[0];
  EXPECT_TRUE(Has(shared[0], "; of IDENTITY; valid")) << shared[0];
  EXPECT_TRUE(Has(shared[1], "covered by consent c-1 v2,")) << shared[1];
  EXPECT_TRUE(Has(shared[1], "; of IDENTITY, ATTENDANCE; valid")) << shared[1];
}

// An RGB image read with libpng.
struct Rgb {
  uint32_t width = 0;
  uint32_t height = 0;
  std::vector<uint8_t> pixels;  // 3 bytes a pixel, row by row.
  bool ok = false;
};

Rgb ReadPng(const std::string& path) {
  Rgb out;
  png_image image;
  memset(&image, 0, sizeof(image));
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file(&image, path.c_str())) return out;
  image.format = PNG_FORMAT_RGB;
  out.pixels.resize(PNG_IMAGE_SIZE(image));
  if (!png_image_finish_read(&image, nullptr, out.pixels.data(), 0, nullptr)) {
    png_image_free(&image);
    return out;
  }
  out.width = image.width;
  out.height = image.height;
  out.ok = true;
  return out;
}

// Pixels within `tolerance` of (r, g, b) in each channel.
size_t CountColour(const Rgb& image, int r, int g, int b, int tolerance) {
  size_t count = 0;
  for (size_t i = 0; i + 2 < image.pixels.size(); i += 3) {
    if (std::abs(image.pixels[i] - r) <= tolerance &&
        std::abs(image.pixels[i + 1] - g) <= tolerance &&
        std::abs(image.pixels[i + 2] - b) <= tolerance) {
      ++count;
    }
  }
  return count;
}

// The text of a serialised DOM: tags dropped, the basic entities decoded.
std::string PageText(const std::string& dom) {
  std::string text;
  bool in_tag = false;
  bool in_style = false;
  for (size_t i = 0; i < dom.size(); ++i) {
    if (dom[i] == '<') {
      in_tag = true;
      if (dom.compare(i, 6, "<style") == 0) in_style = true;
      if (dom.compare(i, 8, "</style>") == 0) in_style = false;
      continue;
    }
    if (dom[i] == '>') {
      in_tag = false;
      text += ' ';
      continue;
    }
    if (!in_tag && !in_style) text += dom[i];
  }
  return absl::StrReplaceAll(text, {{"&lt;", "<"},
                                    {"&gt;", ">"},
                                    {"&quot;", "\""},
                                    {"&#39;", "'"},
                                    {"&amp;", "&"}});
}

// The report as a reviewer sees it: chromium renders the exported file; the
// screenshot shows the highlighted row, its red label and text; the page
// text has the timeline, the escaped lawful basis as text, and no personal
// free text. The screenshot is kept in the build tree for people to look at.
TEST_F(CliExportTest, HtmlReportRendersInAHeadlessBrowser) {
  const std::string chromium = YCR_CHROMIUM;
  ASSERT_FALSE(chromium.empty())
      << "Debian's chromium is needed (tests/run.sh installs it)";
  ASSERT_NO_FATAL_FAILURE(MakeHistory());
  const std::string html = dir_.path() + "/report.html";
  Outcome exported = Ycr({"audit", "export", "--subject", "s-1", "--format",
                          "html", "--output", html});
  ASSERT_EQ(exported.code, 0) << exported.err;

  const std::vector<std::string> browser = {
      chromium,
      "--headless",
      "--no-sandbox",  // Tests run as root in CI.
      "--disable-gpu",
      "--hide-scrollbars",
      "--no-first-run",
      "--user-data-dir=" + dir_.path() + "/chromium-profile",
      "--window-size=1280,900"};
  const std::string png = dir_.path() + "/report.png";
  std::vector<std::string> shot = browser;
  shot.push_back("--screenshot=" + png);
  shot.push_back("file://" + html);
  Outcome rendered = RunArgs(shot, dir_.path() + "/chromium.err");
  ASSERT_EQ(rendered.code, 0) << rendered.err;
  const Rgb image = ReadPng(png);
  ASSERT_TRUE(image.ok) << "not a PNG: " << png;
  EXPECT_EQ(image.width, 1280u);
  EXPECT_EQ(image.height, 900u);
  // The highlighted row's background (#fde8e8), the "without consent" label
  // (#b00020), the header cells (#eee) and dark text are all on screen.
  EXPECT_GT(CountColour(image, 0xfd, 0xe8, 0xe8, 2), 5000u);
  EXPECT_GT(CountColour(image, 0xb0, 0x00, 0x20, 8), 100u);
  EXPECT_GT(CountColour(image, 0xee, 0xee, 0xee, 1), 5000u);
  EXPECT_GT(CountColour(image, 0x22, 0x22, 0x22, 40), 500u);
  std::error_code ignored;
  std::filesystem::create_directories(YCR_ARTIFACT_DIR, ignored);
  std::filesystem::copy_file(
      png, std::string(YCR_ARTIFACT_DIR) + "/audit_export.png",
      std::filesystem::copy_options::overwrite_existing, ignored);

  std::vector<std::string> dump = browser;
  dump.push_back("--dump-dom");
  dump.push_back("file://" + html);
  Outcome dom = RunArgs(dump, dir_.path() + "/chromium-dom.err");
  ASSERT_EQ(dom.code, 0) << dom.err;
  const std::string text = PageText(dom.out);
  for (const char* expected :
       {"Audit trail of subject s-1", "without consent",
        "lawful basis: dpa2018-sch1-para18",
        "in force then: for REFERRAL; to service-7; of IDENTITY",
        "consent c-1 v1", "social care referral made", "disclosure recorded",
        "1 disclosure(s) made without consent in force"}) {
    EXPECT_TRUE(Has(text, expected)) << expected << " in\n" << text;
  }
  EXPECT_FALSE(Has(text, kFacts)) << text;
  // The basis was text, not markup: no <b> element in the rendered DOM.
  EXPECT_FALSE(Has(dom.out, "<b>")) << dom.out;
}

// A subject access request: everything held about s-1, in one call.
TEST_F(CliExportTest, TheSarPackHoldsTheRecordAndTheTrailButNotTheAccessLog) {
  ASSERT_NO_FATAL_FAILURE(MakeHistory());
  const std::vector<v1::AuditEntry> trail = Trail("s-1");  // A recorded read.
  ASSERT_TRUE(server_.server().access_recorder()->Flush().ok());

  Outcome run = Ycr({"audit", "export", "--subject", "s-1", "--format", "sar"});
  ASSERT_EQ(run.code, 0) << run.err;
  v1::SubjectAccessPack pack;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(run.out, &pack).ok())
      << run.out;
  EXPECT_EQ(pack.subject_id(), "s-1");
  EXPECT_GE(pack.as_of_position(), Head());
  // The record with its personal part opened.
  EXPECT_EQ(pack.record().subject_id(), "s-1");
  EXPECT_EQ(pack.record().given_name(), "Given");
  EXPECT_EQ(pack.record().holder(), kSchool);
  // The whole trail, in log order, except the child-protection records
  // (the school's own concern too: a pack never holds them).
  std::vector<uint64_t> expected;
  for (const v1::AuditEntry& e : trail) {
    if (domain::ClassOf(e.event().payload()) !=
        domain::EventClass::kConfidential) {
      expected.push_back(e.event().position());
    }
  }
  ASSERT_LT(expected.size(), trail.size());
  std::vector<uint64_t> got;
  for (const v1::AuditEntry& e : pack.trail()) {
    got.push_back(e.event().position());
  }
  EXPECT_EQ(got, expected);
  EXPECT_FALSE(Has(run.out, kFacts)) << run.out;
  // The access log names the staff who read the data: it is for auditors,
  // not in the pack; nor are the names of the people around the child.
  EXPECT_FALSE(Has(run.out, "\"reads\"")) << run.out;
  EXPECT_FALSE(Has(run.out, "/ycr.v1.Audit/Trail")) << run.out;
  EXPECT_FALSE(Has(run.out, "Parent Person")) << run.out;

  // Written to a file too; another school may not have it.
  const std::string file = dir_.path() + "/s-1.sar.json";
  const mode_t umask_before = umask(022);
  run = Ycr({"audit", "export", "--subject", "s-1", "--format", "sar",
             "--output", file});
  umask(umask_before);
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_TRUE(Has(run.err, "the subject access pack")) << run.err;
  EXPECT_TRUE(std::filesystem::exists(file));
  EXPECT_EQ(ModeOf(file), 0600u);
  // Not through a directory (or a link, or a device) of the same name.
  run = Ycr({"audit", "export", "--subject", "s-1", "--format", "sar",
             "--output", dir_.path()});
  EXPECT_EQ(run.code, 1);
  EXPECT_TRUE(Has(run.err, "is not a regular file")) << run.err;
  run = Ycr({"audit", "export", "--subject", "s-1", "--format", "sar"},
            "school-other");
  EXPECT_EQ(run.code, 1);
  EXPECT_TRUE(Has(run.err, "PERMISSION_DENIED")) << run.err;
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
