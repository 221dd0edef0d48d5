// Receipts in exports and `ycr audit verify`, against a real server with
// the real `ycr` binary: every disclosure in a jsonl, csv, html and sar
// export carries a C2SP tlog-proof; only a caller entitled to the whole
// stored record (an auditor) gets the record's bytes in it, the holder's
// school and the sar pack only its leaf hash; `ycr audit verify` passes on
// exports made before the subject's erasure after it, and fails on a
// rolled-back or forked log, a tampered receipt, and another key.

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/files.h"
#include "common/signed_note.h"
#include "common/tlog_proof.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/integration/command_runner.h"
#include "tests/integration/tlog_receipts_fixture.h"

namespace ycr::testing {
namespace {

// The receipts of a jsonl export: one per disclosure line, and one per
// line of a consent record that a disclosure rests on.
std::vector<tlog::Proof> JsonlReceipts(const std::string& text,
                                       int* disclosures) {
  std::vector<tlog::Proof> proofs;
  *disclosures = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    google::protobuf::Struct object;
    EXPECT_TRUE(
        google::protobuf::util::JsonStringToMessage(std::string(line), &object)
            .ok());
    const auto& fields = object.fields();
    if (fields.count("disclosure")) ++*disclosures;
    if (!fields.count("receipt")) continue;
    EXPECT_TRUE(fields.count("disclosure") ||
                absl::StartsWith(fields.at("event")
                                     .struct_value()
                                     .fields()
                                     .at("eventType")
                                     .string_value(),
                                 "consent_"))
        << "a receipt off a disclosure or a consent";
    auto proof = tlog::ParseProof(fields.at("receipt").string_value());
    EXPECT_TRUE(proof.ok()) << proof.status();
    if (proof.ok()) proofs.push_back(*proof);
  }
  return proofs;
}

TEST_F(TlogReceiptsTest, OnlyAnAuditorsReceiptsHoldTheRecordsBytes) {
  ASSERT_NO_FATAL_FAILURE(MakeHistory());
  int disclosures = 0;
  // The holder's school may not read the raw log: leaf hashes only.
  std::vector<tlog::Proof> school =
      JsonlReceipts(Read(Export("jsonl", false)), &disclosures);
  EXPECT_EQ(disclosures, 2);
  // Two disclosures and the grant of the consent they rest on.
  ASSERT_EQ(school.size(), 3u);
  for (const tlog::Proof& proof : school) {
    ASSERT_TRUE(proof.extra.has_value());
    EXPECT_EQ(proof.extra->size(), 32u);
    auto leaf = server_.server().log().ReadLeaf(proof.index + 1);
    ASSERT_TRUE(leaf.ok());
    EXPECT_EQ(*proof.extra, tlog::HashBytes(tlog::RecordHash(*leaf)));
  }
  // The auditor may: the record as stored, byte for byte.
  std::vector<tlog::Proof> auditor =
      JsonlReceipts(Read(Export("jsonl", true)), &disclosures);
  ASSERT_EQ(auditor.size(), 3u);
  for (const tlog::Proof& proof : auditor) {
    auto leaf = server_.server().log().ReadLeaf(proof.index + 1);
    ASSERT_TRUE(leaf.ok());
    EXPECT_EQ(*proof.extra, *leaf);
  }
  // csv (base64 in its own column) and html carry them too; the school's
  // never the record.
  const std::string csv = Read(Export("csv", false));
  const std::string html = Read(Export("html", false));
  EXPECT_TRUE(Has(html, "<pre class=\"tlog-proof\" data-position=\"")) << html;
  for (const tlog::Proof& proof : auditor) {
    const std::string record = absl::Base64Escape(*proof.extra);
    EXPECT_FALSE(Has(csv, record));
    EXPECT_FALSE(Has(html, record));
  }
  // The sar pack: a receipt for each disclosure, leaf hashes only, even
  // when an auditor compiles it (it goes to the data subject).
  const std::string sar = Read(Export("sar", true));
  v1::SubjectAccessPack pack;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(sar, &pack).ok());
  ASSERT_EQ(pack.receipts_size(), 2);
  for (const v1::Receipt& receipt : pack.receipts()) {
    auto proof = tlog::ParseProof(receipt.tlog_proof());
    ASSERT_TRUE(proof.ok()) << proof.status();
    EXPECT_EQ(proof->index + 1, static_cast<int64_t>(receipt.position()));
    EXPECT_EQ(proof->extra->size(), 32u);
  }
  // Every one of them verifies.
  for (const std::string format : {"jsonl", "csv", "html", "sar"}) {
    const std::string file = absl::StrCat(dir_.path(), "/s-1.", format);
    if (format == "sar") continue;
    Outcome run = Verify({"--export", file});
    EXPECT_EQ(run.code, 0) << format << "\n" << run.out << run.err;
    // The checkpoint, three receipts (two disclosures, the consent's
    // grant), the note that they hold only leaf hashes, the summary.
    EXPECT_EQ(std::count(run.out.begin(), run.out.end(), '\n'), 6) << run.out;
  }
  Outcome run = Verify({"--export", dir_.path() + "/s-1.auditor.sar"});
  EXPECT_EQ(run.code, 0) << run.out << run.err;
  EXPECT_TRUE(Has(run.out, "its leaf hash is in the signed tree")) << run.out;
}

TEST_F(TlogReceiptsTest, AnExportMadeBeforeAnErasureStillVerifiesAfterIt) {
  ASSERT_NO_FATAL_FAILURE(MakeHistory());
  const std::string jsonl = Export("jsonl", true);
  const std::string csv = Export("csv", false);
  const std::string state = dir_.path() + "/auditor.state";
  Outcome run = Verify({"--state", state, "--export", jsonl});
  ASSERT_EQ(run.code, 0) << run.out << run.err;
  EXPECT_TRUE(Has(run.out, "the record is in the signed tree")) << run.out;

  // The holder erases the subject (through the CLI, as its staff would).
  run = Ycr({"subjects", "erase", "--data",
             R"({"subject_id": "s-1", "request_ref": "erasure-request-1"})"});
  ASSERT_EQ(run.code, 0) << run.err;
  v1::SubjectRecord record;
  ASSERT_TRUE(Ok(GetRecord("s-1", &record)));
  ASSERT_TRUE(record.erased());

  // The log grew; the same receipts, and the state's tree, still check.
  for (const std::string& file : {jsonl, csv}) {
    run = Verify({"--state", state, "--export", file});
    EXPECT_EQ(run.code, 0) << run.out << run.err;
    EXPECT_TRUE(Has(run.out, "part of today's tree")) << run.out;
    EXPECT_FALSE(Has(run.out, "FAIL")) << run.out;
  }
}

TEST_F(TlogReceiptsTest, ARolledBackOrForkedLogFails) {
  ASSERT_NO_FATAL_FAILURE(MakeHistory());
  const std::string state = dir_.path() + "/auditor.state";
  ASSERT_EQ(Verify({"--state", state}).code, 0);
  auto latest = server_.server().checkpointer().Latest();
  ASSERT_TRUE(latest.has_value());
  const note::Signer& signer = server_.server().checkpointer().signer();
  // A state file from a larger tree than the log now shows: rolled back.
  note::Checkpoint larger{signer.name, latest->size + 5, latest->root, {}};
  auto signed_larger = note::Sign(note::FormatCheckpoint(larger), signer);
  ASSERT_TRUE(signed_larger.ok());
  ASSERT_TRUE(WritePrivateFile(state, *signed_larger).ok());
  Outcome run = Verify({"--state", state});
  EXPECT_EQ(run.code, 1) << run.out;
  EXPECT_TRUE(Has(run.out,
                  "FAIL: since the state file's checkpoint: rolled "
                  "back"))
      << run.out;
  // The state file is left as it was: the failure stays visible.
  EXPECT_EQ(Read(state), *signed_larger);
  // Another tree of the same size: forked.
  note::Checkpoint other{signer.name, latest->size, tlog::EmptyTreeHash(), {}};
  auto signed_other = note::Sign(note::FormatCheckpoint(other), signer);
  ASSERT_TRUE(signed_other.ok());
  ASSERT_TRUE(WritePrivateFile(state, *signed_other).ok());
  run = Verify({"--state", state});
  EXPECT_EQ(run.code, 1) << run.out;
  EXPECT_TRUE(Has(run.out, "forked")) << run.out;
  // A smaller tree that is not a prefix of today's: forked too.
  note::Checkpoint smaller{signer.name, 1, tlog::EmptyTreeHash(), {}};
  auto signed_smaller = note::Sign(note::FormatCheckpoint(smaller), signer);
  ASSERT_TRUE(signed_smaller.ok());
  ASSERT_TRUE(WritePrivateFile(state, *signed_smaller).ok());
  run = Verify({"--state", state});
  EXPECT_EQ(run.code, 1) << run.out;
  EXPECT_TRUE(Has(run.out, "forked")) << run.out;
}

TEST_F(TlogReceiptsTest, ATamperedReceiptOrAnotherKeyFails) {
  ASSERT_NO_FATAL_FAILURE(MakeHistory());
  const std::string jsonl = Export("jsonl", false);
  const std::string text = Read(jsonl);
  int disclosures = 0;
  std::vector<tlog::Proof> proofs = JsonlReceipts(text, &disclosures);
  ASSERT_EQ(proofs.size(), 3u);
  ASSERT_FALSE(proofs[0].path.empty());
  // One hash of the first receipt's audit path changed.
  const std::string hash =
      absl::Base64Escape(tlog::HashBytes(proofs[0].path[0]));
  tlog::Hash changed = proofs[0].path[0];
  changed[0] ^= 1;
  const std::string tampered = dir_.path() + "/tampered.jsonl";
  ASSERT_TRUE(
      WritePrivateFile(
          tampered,
          absl::StrReplaceAll(
              text, {{hash, absl::Base64Escape(tlog::HashBytes(changed))}}))
          .ok());
  Outcome run = Verify({"--export", tampered});
  EXPECT_EQ(run.code, 1) << run.out;
  EXPECT_TRUE(Has(run.out, "is not in the signed tree")) << run.out;
  // Another record's leaf hash in a receipt.
  const std::string leaf = absl::Base64Escape(*proofs[0].extra);
  const std::string swapped = dir_.path() + "/swapped.jsonl";
  ASSERT_TRUE(
      WritePrivateFile(
          swapped, absl::StrReplaceAll(
                       text, {{leaf, absl::Base64Escape(*proofs[1].extra)}}))
          .ok());
  run = Verify({"--export", swapped});
  EXPECT_EQ(run.code, 1) << run.out;
  // The good export against another key.
  auto other = note::NewSigner(server_.server().checkpointer().signer().name);
  ASSERT_TRUE(other.ok());
  run = AsAuditor({"audit", "verify", "--vkey", note::VerifierKey(*other),
                   "--export", jsonl});
  EXPECT_EQ(run.code, 1) << run.out;
  EXPECT_TRUE(Has(run.out, "not signed by")) << run.out;
  // And the untouched one passes.
  EXPECT_EQ(Verify({"--export", jsonl}).code, 0);
  // An auditor's receipt holds the record: the line that carries it must
  // state that record's hash. Two disclosure lines' hashes swapped fail.
  const std::string audited = Read(Export("jsonl", true));
  std::vector<std::string> hashes;
  for (absl::string_view line :
       absl::StrSplit(audited, '\n', absl::SkipEmpty())) {
    if (!absl::StrContains(line, "\"receipt\"") ||
        !absl::StrContains(line, "\"disclosure\"")) {
      continue;
    }
    const size_t at = line.find("\"hashHex\":\"");
    ASSERT_NE(at, absl::string_view::npos) << line;
    hashes.emplace_back(line.substr(at + 11, 64));
  }
  ASSERT_EQ(hashes.size(), 2u);
  const std::string relabelled = dir_.path() + "/relabelled.jsonl";
  ASSERT_TRUE(
      WritePrivateFile(relabelled,
                       absl::StrReplaceAll(audited, {{hashes[0], hashes[1]},
                                                     {hashes[1], hashes[0]}}))
          .ok());
  run = Verify({"--export", relabelled});
  EXPECT_EQ(run.code, 1) << run.out;
  EXPECT_TRUE(Has(run.out, "not the one its row states")) << run.out;
  // A line that states no hash, a line that states another position, and a
  // disclosure line without its receipt each fail.
  const std::string first_hash =
      absl::StrCat("\"hashHex\":\"", hashes[0], "\"");
  const size_t line_start = audited.rfind('\n', audited.find(first_hash)) + 1;
  const std::string line =
      audited.substr(line_start, audited.find('\n', line_start) - line_start);
  const size_t pos_at = line.find("\"position\":\"") + 12;
  const std::string position =
      line.substr(pos_at, line.find('"', pos_at) - pos_at);
  const size_t receipt_at = line.find(",\"receipt\":");
  ASSERT_NE(receipt_at, std::string::npos);
  const size_t receipt_end = line.find("\",", receipt_at + 12) + 1;
  for (const auto& [name, changed] :
       std::vector<std::pair<std::string, std::string>>{
           {"no hash",
            absl::StrReplaceAll(line, {{first_hash, "\"hashHex\":\"\""}})},
           {"another position",
            absl::StrReplaceAll(
                line, {{absl::StrCat("\"position\":\"", position, "\""),
                        "\"position\":\"77777\""}})},
           {"no receipt",
            line.substr(0, receipt_at) + line.substr(receipt_end)}}) {
    ASSERT_NE(changed, line) << name;
    const std::string forged = dir_.path() + "/forged.jsonl";
    ASSERT_TRUE(WritePrivateFile(
                    forged, absl::StrReplaceAll(audited, {{line, changed}}))
                    .ok());
    run = Verify({"--export", forged});
    EXPECT_EQ(run.code, 1) << name << ": " << run.out;
  }
  // Usage.
  EXPECT_EQ(AsAuditor({"audit", "verify"}).code, 2);
  EXPECT_EQ(AsAuditor({"audit", "verify", "--help"}).code, 0);
}

// The receipts of csv and html rows (in an export's order) and the export
// with the first two swapped: each a genuine receipt, on another row.
std::vector<std::string> CsvReceipts(const std::string& csv) {
  std::vector<std::string> receipts;
  for (absl::string_view row : absl::StrSplit(csv, "\r\n", absl::SkipEmpty())) {
    const absl::string_view last = row.substr(row.rfind(',') + 1);
    if (!last.empty() && last != "receipt") receipts.emplace_back(last);
  }
  return receipts;
}

std::vector<std::string> HtmlReceipts(const std::string& html) {
  std::vector<std::string> receipts;
  const std::string open = "<pre class=\"tlog-proof\"";
  for (size_t at = html.find(open); at != std::string::npos;
       at = html.find(open, at + 1)) {
    const size_t start = html.find('>', at) + 1;
    receipts.push_back(html.substr(start, html.find("</pre>", start) - start));
  }
  return receipts;
}

// A receipt belongs to the row that carries it, in csv and html as in
// jsonl: two rows' genuine receipts swapped fail, in the holder's exports
// (leaf hashes) and an auditor's (the records).
TEST_F(TlogReceiptsTest, CsvAndHtmlReceiptsAreTiedToTheirRows) {
  ASSERT_NO_FATAL_FAILURE(MakeHistory());
  for (bool auditor : {false, true}) {
    for (const std::string format : {"csv", "html"}) {
      const std::string file = Export(format, auditor);
      const std::string text = Read(file);
      ASSERT_EQ(Verify({"--export", file}).code, 0) << format;
      std::vector<std::string> receipts =
          format == "csv" ? CsvReceipts(text) : HtmlReceipts(text);
      // Two disclosures' and their consent's grant's.
      ASSERT_EQ(receipts.size(), 3u) << format << "\n" << text;
      ASSERT_NE(receipts[0], receipts[1]);
      const std::string swapped = dir_.path() + "/swapped." + format;
      ASSERT_TRUE(
          WritePrivateFile(
              swapped, absl::StrReplaceAll(text, {{receipts[0], receipts[1]},
                                                  {receipts[1], receipts[0]}}))
              .ok());
      Outcome run = Verify({"--export", swapped});
      EXPECT_EQ(run.code, 1) << format << " auditor " << auditor << "\n"
                             << run.out;
      EXPECT_TRUE(Has(run.out, "its row or entry states position")) << run.out;
      // A disclosure row without its receipt fails too.
      const std::string dropped = dir_.path() + "/dropped." + format;
      ASSERT_TRUE(WritePrivateFile(dropped, absl::StrReplaceAll(
                                                text, {{receipts.back(), ""}}))
                      .ok());
      run = Verify({"--export", dropped});
      EXPECT_EQ(run.code, 1) << format << "\n" << run.out;
    }
  }
  // An html receipt naming another hash than its row's fails.
  const std::string html = Read(Export("html", false));
  const size_t pre = html.find("<pre class=\"tlog-proof\"");
  const size_t hash_at = html.find("data-hash=\"", pre) + 11;
  std::string renamed = html;
  renamed[hash_at] = renamed[hash_at] == '0' ? '1' : '0';
  ASSERT_TRUE(WritePrivateFile(dir_.path() + "/renamed.html", renamed).ok());
  Outcome run = Verify({"--export", dir_.path() + "/renamed.html"});
  EXPECT_EQ(run.code, 1) << run.out;
  EXPECT_TRUE(Has(run.out, "its row states")) << run.out;
}

// A jsonl line that is not JSON is not skipped: it fails, by its number.
TEST_F(TlogReceiptsTest, AJsonlLineThatIsNotJsonFailsByNumber) {
  ASSERT_NO_FATAL_FAILURE(MakeHistory());
  const std::string text = Read(Export("jsonl", false));
  const size_t second = text.find('\n') + 1;
  const std::string broken = dir_.path() + "/broken.jsonl";
  ASSERT_TRUE(WritePrivateFile(broken, text.substr(0, second) +
                                           "{\"position\": \"2\", oops\n" +
                                           text.substr(second))
                  .ok());
  Outcome run = Verify({"--export", broken});
  EXPECT_EQ(run.code, 1) << run.out;
  EXPECT_TRUE(Has(run.out, "FAIL: " + broken + ": line 2 is not JSON"))
      << run.out;
}

// An export asks for its receipts' proofs in one call, not one a
// disclosure.
TEST_F(TlogReceiptsTest, AnExportAsksForAllItsProofsInOneCall) {
  ASSERT_NO_FATAL_FAILURE(MakeHistory());
  Export("jsonl", false);
  const std::string metrics = server_.server().metrics().Render();
  EXPECT_TRUE(Has(metrics,
                  "ycr_grpc_server_handled_total{method=\"/ycr.v1.Audit/"
                  "InclusionProofs\",code=\"OK\"} 1"))
      << metrics;
  EXPECT_FALSE(Has(metrics, "/ycr.v1.Audit/InclusionProof\"")) << metrics;
}

}  // namespace
}  // namespace ycr::testing
