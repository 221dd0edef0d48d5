#pragma once

// The fixture of the tests of receipts and `ycr audit verify`
// (tlog_receipts_test.cc, hostile_review_5_test.cc): DomainFlowsTest with
// the real `ycr` binary as the school or an auditor, a history of two
// disclosures about s-1, its exports, and the verifier.

#include <functional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/files.h"
#include "common/signed_note.h"
#include "gtest/gtest.h"
#include "tests/integration/command_runner.h"
#include "tests/integration/domain_flows_fixture.h"

namespace ycr::testing {

inline bool Has(const std::string& text, const std::string& fragment) {
  return text.find(fragment) != std::string::npos;
}

class TlogReceiptsTest : public DomainFlowsTest {
 protected:
  Outcome Ycr(std::vector<std::string> args,
              const std::string& organisation = kSchool,
              const std::string& role = "school") {
    return RunArgs(CliAs(YCR_CLI_BINARY, server_.server().port(), organisation,
                         role, args),
                   dir_.path() + "/stderr");
  }
  Outcome AsAuditor(std::vector<std::string> args) {
    return Ycr(std::move(args), "auditor-1", "auditor");
  }

  std::string VerifierKey() {
    return note::VerifierKey(server_.server().checkpointer().signer());
  }

  // s-1 (or `subject`): a record, consent c-1 (or `consent`), two
  // disclosures under it.
  void MakeHistory(const std::string& subject = "s-1",
                   const std::string& consent = "c-1") {
    ASSERT_NO_FATAL_FAILURE(AddSubject(subject));
    ASSERT_TRUE(
        Ok(Grant(Consent(consent, subject, kService, {v1::PURPOSE_REFERRAL},
                         {v1::DATA_CATEGORY_IDENTITY}, clock_.Now()),
                 kSchool)));
    for (int i = 0; i < 2; ++i) {
      v1::RecordDisclosureRequest disclose;
      *disclose.mutable_disclosure() =
          Disclosure(subject, kSchool, kService, v1::PURPOSE_REFERRAL,
                     {v1::DATA_CATEGORY_IDENTITY}, consent);
      ASSERT_TRUE(Ok(Disclose(disclose, kSchool)));
    }
  }

  // Writes an export of s-1 in `format` as the school or the auditor.
  std::string Export(const std::string& format, bool auditor) {
    const std::string file =
        absl::StrCat(dir_.path(), "/s-1.", auditor ? "auditor." : "", format);
    std::vector<std::string> args = {"audit",    "export", "--subject", "s-1",
                                     "--format", format,   "--output",  file};
    Outcome run = auditor ? AsAuditor(args) : Ycr(args);
    EXPECT_EQ(run.code, 0) << run.err;
    return file;
  }

  Outcome Verify(const std::vector<std::string>& extra) {
    std::vector<std::string> args = {"audit", "verify", "--vkey",
                                     VerifierKey()};
    args.insert(args.end(), extra.begin(), extra.end());
    return AsAuditor(args);
  }
};

inline std::string Read(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  EXPECT_TRUE(text.ok()) << text.status();
  return text.ok() ? *text : "";
}

// Helpers of the hostile reviews of `ycr audit verify`
// (hostile_review_5_test.cc, hostile_review_6_test.cc): forge an export,
// expect the verifier to fail it.
class ForgedExportTest : public TlogReceiptsTest {
 protected:
  // `text` with the first disclosure row that carries a receipt changed by
  // `edit` (csv: its fields).
  static std::string EditCsvRow(
      const std::string& text,
      const std::function<void(std::vector<std::string>&)>& edit) {
    std::vector<std::string> lines = absl::StrSplit(text, "\r\n");
    for (std::string& line : lines) {
      std::vector<std::string> fields = absl::StrSplit(line, ',');
      // (The consent rows a disclosure rests on carry receipts too; a
      // disclosure row names whom to, column 8.)
      if (fields.size() < 9 || fields[0] == "position" ||
          fields.back().empty() || fields[8].empty()) {
        continue;
      }
      edit(fields);
      line = absl::StrJoin(fields, ",");
      break;
    }
    return absl::StrJoin(lines, "\r\n");
  }

  void ExpectFails(const std::string& name, const std::string& forged,
                   const std::string& why = "its row says") {
    const std::string file = dir_.path() + "/" + name;
    ASSERT_TRUE(WritePrivateFile(file, forged).ok());
    Outcome run = Verify({"--export", file});
    EXPECT_EQ(run.code, 1) << name << "\n" << run.out;
    EXPECT_TRUE(Has(run.out, why)) << name << "\n" << run.out;
  }

  // An export of s-1 in `format` (as an auditor, or as the school), which
  // verifies as written.
  std::string Verified(const std::string& format, bool auditor = true) {
    const std::string file = Export(format, auditor);
    Outcome run = Verify({"--export", file});
    EXPECT_EQ(run.code, 0) << format << "\n" << run.out;
    return Read(file);
  }
};

}  // namespace ycr::testing
