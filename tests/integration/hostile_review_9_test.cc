// A ninth hostile review, of issue 18's newest change: the consent records
// a disclosure rests on carry receipts in every audit export, and `ycr audit
// verify` works the consent in force out again from them. Tried as a
// careless client or a forger would: what a non-auditor's export now holds,
// withdrawals before and after a disclosure, consent rows moved or repeated,
// an export with no disclosure. Each test asserts the RULE; a LEAK or
// FORGERY comment says what passed and why that is wrong. Attacks that held
// are kept only where no earlier test (hostile_review_6_test.cc) pins the
// rule. Fixtures: tlog_receipts_fixture.h.

#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "clients/cli/cli_export_internal.h"
#include "common/proto_time.h"
#include "common/tlog_proof.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "tests/integration/tlog_receipts_fixture.h"

namespace ycr::testing {
namespace {

class HostileReview9VerifyTest : public ForgedExportTest {
 protected:
  // Withdraws consent `id` (as the school, which recorded it), taking effect
  // at `at`.
  void Withdraw(const std::string& id, absl::Time at) {
    Outcome run = Ycr(
        {"consents", "withdraw", "--data",
         absl::StrCat(
             R"({"withdrawal":{"consent_id":")", id, R"(","effective_at":")",
             absl::FormatTime(absl::RFC3339_sec, at, absl::UTCTimeZone()),
             R"("},"personal":{"reason":"asked"}})")});
    ASSERT_EQ(run.code, 0) << run.err;
  }

  // The csv rows (header aside) of `text`.
  static std::vector<std::string> Rows(const std::string& text) {
    std::vector<std::string> rows;
    for (absl::string_view line : absl::StrSplit(text, "\r\n")) {
      if (!line.empty() && !absl::StartsWith(line, "position,")) {
        rows.emplace_back(line);
      }
    }
    return rows;
  }
};

// Held (pinned here): a withdrawal recorded after a disclosure is not part
// of the consent in force when it was made, even when it takes effect at
// the very instant the disclosure was recorded (the clock stands still):
// the disclosure rests on versions 1..N, and the withdrawal is N+1. A
// verifier that folded every record of the consent would call the
// disclosure withdrawn.
TEST_F(HostileReview9VerifyTest, AWithdrawalAfterADisclosureDoesNotCount) {
  ASSERT_NO_FATAL_FAILURE(MakeHistory());
  ASSERT_NO_FATAL_FAILURE(Withdraw("c-1", clock_.Now()));
  for (const std::string format : {"csv", "jsonl", "html"}) {
    const std::string text = Verified(format);
    EXPECT_TRUE(Has(text, "consent_withdrawn") ||
                Has(text, "consentWithdrawn") || Has(text, "withdrawn"))
        << text;
    EXPECT_FALSE(Has(text, "not covered")) << text;
  }
  Outcome run = Verify({"--export", Export("csv", true), "--records"});
  EXPECT_EQ(run.code, 0) << run.out;
  EXPECT_TRUE(Has(run.out, "worked out again from the records at positions 2"))
      << run.out;
}

// A scheduled withdrawal recorded before a disclosure is a version the
// disclosure rests on (the consent is still in force until it takes
// effect). FORGERY if it passed: dropping the withdrawal's row (the last
// version the disclosure names) would hide that the consent was ending.
// Held: it fails naming the version. Moving the consent rows (order is
// not what proves them) still verifies; repeating one fails.
TEST_F(HostileReview9VerifyTest,
       AScheduledWithdrawalCannotBeDroppedOrRepeated) {
  ASSERT_NO_FATAL_FAILURE(AddSubject("s-1"));
  ASSERT_TRUE(Ok(Grant(Consent("c-1", "s-1", kService, {v1::PURPOSE_REFERRAL},
                               {v1::DATA_CATEGORY_IDENTITY}, clock_.Now()),
                       kSchool)));
  ASSERT_NO_FATAL_FAILURE(Withdraw("c-1", clock_.Now() + absl::Hours(24 * 30)));
  v1::RecordDisclosureRequest disclose;
  *disclose.mutable_disclosure() =
      Disclosure("s-1", kSchool, kService, v1::PURPOSE_REFERRAL,
                 {v1::DATA_CATEGORY_IDENTITY}, "c-1");
  ASSERT_TRUE(Ok(Disclose(disclose, kSchool)));
  const std::string text = Verified("csv");
  ASSERT_TRUE(Has(text, "covered by consent c-1 v2")) << text;
  std::vector<std::string> rows = Rows(text);
  std::vector<std::string> dropped, moved, repeated;
  std::vector<std::string> consent_rows;
  for (const std::string& row : rows) {
    const bool consent = absl::StrContains(row, ",consent_");
    if (consent) consent_rows.push_back(row);
    if (!absl::StrContains(row, ",consent_withdrawn,")) dropped.push_back(row);
    if (!consent) moved.push_back(row);
    repeated.push_back(row);
    if (absl::StrContains(row, ",consent_withdrawn,")) repeated.push_back(row);
  }
  ASSERT_EQ(consent_rows.size(), 2u) << text;
  moved.insert(moved.end(), consent_rows.rbegin(), consent_rows.rend());
  const std::string header = text.substr(0, text.find("\r\n") + 2);
  ExpectFails("dropped.csv", header + absl::StrJoin(dropped, "\r\n"),
              "it rests on consent c-1 version 2, whose record the export "
              "does not hold");
  ExpectFails("repeated.csv", header + absl::StrJoin(repeated, "\r\n"),
              "repeats position");
  const std::string file = dir_.path() + "/moved.csv";
  ASSERT_TRUE(
      WritePrivateFile(file, header + absl::StrJoin(moved, "\r\n")).ok());
  Outcome run = Verify({"--export", file, "--records"});
  EXPECT_EQ(run.code, 0) << run.out;
}

// Held (pinned here): every non-auditor's export holds exactly the entries
// of the trail the same caller is given (the consent rows a disclosure
// rests on are among them: none is added from outside the caller's rule),
// and every receipt in it, a consent row's included, holds the leaf hash
// only, never the record's bytes. LEAK if not: the record bytes hold the
// other parties, staff names and the sealed part's ciphertext.
TEST_F(HostileReview9VerifyTest, ANonAuditorsExportIsItsOwnTrailWithHashes) {
  ASSERT_NO_FATAL_FAILURE(MakeHistory());
  ASSERT_NO_FATAL_FAILURE(PutInArea(kSchool, "la-a"));
  for (const std::string& org :
       {kSchool, kService, std::string("la-a"), std::string("school-200002"),
        std::string("service-8"), std::string("la-b")}) {
    std::vector<v1::AuditEntry> trail;
    const grpc::Status status = TrailAs(org, "s-1", &trail);
    const std::string file = dir_.path() + "/" + org + ".jsonl";
    Outcome run = Ycr({"audit", "export", "--subject", "s-1", "--format",
                       "jsonl", "--output", file},
                      org, RoleOf(org));
    if (!status.ok()) {
      EXPECT_NE(run.code, 0) << org << "\n" << run.out;
      continue;
    }
    ASSERT_EQ(run.code, 0) << org << "\n" << run.err;
    std::set<std::string> wanted, shown;
    for (const v1::AuditEntry& e : trail) {
      wanted.insert(absl::StrCat(e.event().position()));
    }
    int receipts = 0;
    for (absl::string_view line : absl::StrSplit(Read(file), '\n')) {
      if (line.empty()) continue;
      google::protobuf::Struct row;
      ASSERT_TRUE(
          google::protobuf::util::JsonStringToMessage(std::string(line), &row)
              .ok())
          << line;
      const auto& fields = row.fields();
      shown.insert(fields.at("position").string_value());
      auto receipt = fields.find("receipt");
      if (receipt == fields.end() || !receipt->second.has_string_value()) {
        continue;
      }
      ++receipts;
      absl::StatusOr<tlog::Proof> proof =
          tlog::ParseProof(receipt->second.string_value());
      ASSERT_TRUE(proof.ok()) << proof.status();
      ASSERT_TRUE(proof->extra.has_value()) << org;
      EXPECT_EQ(proof->extra->size(), 32u) << org << ": " << line;
    }
    EXPECT_EQ(shown, wanted) << org;
    // The school's: both disclosures and the grant they rest on.
    if (org == kSchool) {
      EXPECT_EQ(receipts, 3) << org;
    }
  }
}

// DEFECT (careless input): an export of a child about whom nothing was
// ever disclosed (a child just identified) holds no receipt, as it should:
// there is no disclosure to prove. `ycr audit verify` failed it, exit 1,
// "no receipts in it", so a genuine export could not be verified at all.
// The rule: such an export verifies, and says that it holds no disclosure;
// a file that is no export still fails.
TEST_F(HostileReview9VerifyTest, AnExportWithoutDisclosuresVerifies) {
  ASSERT_NO_FATAL_FAILURE(AddSubject("s-1"));
  ASSERT_TRUE(Ok(Grant(Consent("c-1", "s-1", kService, {v1::PURPOSE_REFERRAL},
                               {v1::DATA_CATEGORY_IDENTITY}, clock_.Now()),
                       kSchool)));
  for (const std::string format : {"csv", "jsonl", "html"}) {
    const std::string text = Verified(format);
    EXPECT_FALSE(Has(text, tlog::kProofHeader)) << text;
    EXPECT_FALSE(Has(text, "tlog-proof\"")) << text;
  }
  Outcome run = Verify({"--export", Export("csv", true)});
  EXPECT_TRUE(Has(run.out, "no disclosure in it, so no receipt to check"))
      << run.out;
  ExpectFails("not-an-export.txt", "hello\n", "no receipts in it");
}

// FORGERY (of a careless client's making): a consent's records from a newer
// server may hold an event kind this client does not know (a new step that
// narrows or suspends a consent). The fold skipped it silently, so the
// export stated the consent in force without it, and `ycr audit verify`
// worked out the same and passed: "covered by consent c-1 v2" with the
// grant's terms, though version 2 may have ended them. The rule: a consent
// a disclosure rests on that holds a step of a kind the client does not
// know cannot be worked out; the export says so (not covered) and verify
// fails naming the version.
TEST(HostileReview9FoldTest, AConsentStepOfAnUnknownKindIsNotSkipped) {
  const absl::Time now = absl::FromUnixSeconds(1800000000);
  v1::RecordedEvent grant;
  grant.set_position(2);
  grant.set_stream("consent-c-1");
  grant.set_stream_version(1);
  *grant.mutable_recorded_at() = ToProtoTime(now);
  *grant.mutable_payload()->mutable_consent_granted() =
      Consent("c-1", "s-1", kService, {v1::PURPOSE_REFERRAL},
              {v1::DATA_CATEGORY_IDENTITY}, now)
          .consent();
  // Version 2: a payload whose kind is field 999, which this client's
  // EventPayload does not have (tag 999, length-delimited, empty).
  v1::RecordedEvent step;
  step.set_position(3);
  step.set_stream("consent-c-1");
  step.set_stream_version(2);
  *step.mutable_recorded_at() = ToProtoTime(now);
  ASSERT_TRUE(
      step.mutable_payload()->ParseFromString(std::string("\xba\x3e\x00", 3)));
  ASSERT_EQ(step.payload().kind_case(), v1::EventPayload::KIND_NOT_SET);
  v1::RecordedEvent disclosure;
  disclosure.set_position(4);
  disclosure.set_stream("disclosures-s-1");
  disclosure.set_stream_version(1);
  *disclosure.mutable_recorded_at() = ToProtoTime(now + absl::Minutes(1));
  v1::DisclosureRecorded* d =
      disclosure.mutable_payload()->mutable_disclosure_recorded();
  *d = Disclosure("s-1", kSchool, kService, v1::PURPOSE_REFERRAL,
                  {v1::DATA_CATEGORY_IDENTITY}, "c-1");
  d->mutable_consent()->set_consent_version(2);
  const std::map<uint64_t, v1::RecordedEvent> held = {
      {2, grant}, {3, step}, {4, disclosure}};
  absl::StatusOr<cli::internal::ConsentInForce> worked_out =
      cli::internal::ConsentFromRecords(disclosure, held);
  EXPECT_FALSE(worked_out.ok() && worked_out->covered)
      << "verify works out 'covered by consent c-1 v2' without version 2";
  EXPECT_TRUE(
      !worked_out.ok() &&
      absl::StrContains(worked_out.status().message(), "consent c-1 version 2"))
      << worked_out.status();
  // The export's fold of the trail: not covered, saying why.
  std::vector<v1::AuditEntry> entries(3);
  *entries[0].mutable_event() = grant;
  *entries[1].mutable_event() = step;
  *entries[2].mutable_event() = disclosure;
  *entries[2].mutable_disclosure() = *d;
  for (v1::AuditEntry& e : entries) e.set_shown(v1::AuditEntry::SHOWN_CODES);
  const auto checks = cli::internal::CheckDisclosures(entries);
  ASSERT_EQ(checks.count(2), 1u);
  EXPECT_FALSE(checks.at(2).covered);
  EXPECT_EQ(checks.at(2).relied_on, (std::vector<uint64_t>{2, 3}));
  EXPECT_TRUE(!checks.at(2).reasons.empty() &&
              absl::StrContains(checks.at(2).reasons[0], "version 2"))
      << absl::StrJoin(checks.at(2).reasons, "; ");
}

}  // namespace
}  // namespace ycr::testing
