// Machine-readable errors (common/error_details.h): the details a status
// carries, those derived from its code and message, their round trip
// through a serialized google.rpc.Status, and the README's table of reasons,
// which must list exactly KnownReasons().

#include "common/error_details.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/not_leader.h"
#include "gtest/gtest.h"

namespace ycr {
namespace {

TEST(ErrorDetailsTest, FieldErrorNamesTheFieldAndItsReason) {
  const absl::Status status =
      FieldError("terms.valid_from", "is required", reason::kFieldRequired);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "terms.valid_from: is required");
  const ErrorDetails details = DetailsOf(status);
  EXPECT_EQ(details.reason, "FIELD_REQUIRED");
  ASSERT_EQ(details.field_violations.size(), 1u);
  EXPECT_EQ(details.field_violations[0].field, "terms.valid_from");
  EXPECT_EQ(details.field_violations[0].description, "is required");
  EXPECT_TRUE(details.precondition_violations.empty());
}

TEST(ErrorDetailsTest, FieldErrorsListsEveryViolation) {
  const absl::Status status = FieldErrors(
      {{"a.b", "is wrong", ""}, {"c[2]", "too long", ""}, {"d", "bad", ""}});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(status.message(), "a.b: is wrong (and 2 more"))
      << status;
  const ErrorDetails details = DetailsOf(status);
  EXPECT_EQ(details.reason, reason::kFieldInvalid);
  ASSERT_EQ(details.field_violations.size(), 3u);
  EXPECT_EQ(details.field_violations[1].field, "c[2]");
  EXPECT_EQ(details.field_violations[1].description, "too long");
}

// Every FAILED_PRECONDITION says what must hold, even one made without a
// PreconditionFailure.
TEST(ErrorDetailsTest, AnyFailedPreconditionCarriesAPreconditionFailure) {
  const ErrorDetails d =
      DetailsOf(absl::FailedPreconditionError("the runner was started before"));
  ASSERT_EQ(d.precondition_violations.size(), 1u);
  EXPECT_EQ(d.precondition_violations[0].type, "STATE");
  EXPECT_EQ(d.precondition_violations[0].description,
            "the runner was started before");
  EXPECT_EQ(d.reason, "FAILED_PRECONDITION");
  EXPECT_TRUE(
      DetailsOf(absl::NotFoundError("x")).precondition_violations.empty());
}

TEST(ErrorDetailsTest, PreconditionErrorCarriesTypeSubjectAndDescription) {
  const absl::Status status = PreconditionError(
      absl::StatusCode::kFailedPrecondition, "CONSENT", "consent_id/c-1",
      "consent c-1 does not exist", reason::kReferenceNotFound);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(status.message(), "consent c-1 does not exist");
  const ErrorDetails details = DetailsOf(status);
  EXPECT_EQ(details.reason, "REFERENCE_NOT_FOUND");
  ASSERT_EQ(details.precondition_violations.size(), 1u);
  EXPECT_EQ(details.precondition_violations[0].type, "CONSENT");
  EXPECT_EQ(details.precondition_violations[0].subject, "consent_id/c-1");
  EXPECT_EQ(details.precondition_violations[0].description,
            "consent c-1 does not exist");
  EXPECT_TRUE(details.field_violations.empty());
}

TEST(ErrorDetailsTest, WithReasonReplacesTheReasonAndKeepsOkOk) {
  absl::Status status = WithReason(absl::AlreadyExistsError("request_id x"),
                                   reason::kRequestIdReused);
  EXPECT_EQ(DetailsOf(status).reason, "REQUEST_ID_REUSED");
  status = WithReason(status, reason::kVersionConflict);
  EXPECT_EQ(DetailsOf(status).reason, "VERSION_CONFLICT");
  EXPECT_EQ(status.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(WithReason(absl::OkStatus(), reason::kNotCovered).ok());
  EXPECT_EQ(DetailsOf(absl::OkStatus()).reason, "");
}

TEST(ErrorDetailsTest, APlainStatusGetsDetailsDerivedFromItsCodeAndMessage) {
  // INVALID_ARGUMENT "<field path>: <text>": a BadRequest naming the field.
  ErrorDetails d =
      DetailsOf(absl::InvalidArgumentError("scope.purposes[1]: unknown"));
  EXPECT_EQ(d.reason, reason::kFieldInvalid);
  ASSERT_EQ(d.field_violations.size(), 1u);
  EXPECT_EQ(d.field_violations[0].field, "scope.purposes[1]");
  EXPECT_EQ(d.field_violations[0].description, "unknown");
  // "is required": FIELD_REQUIRED.
  d = DetailsOf(absl::InvalidArgumentError("personal.reason: is required"));
  EXPECT_EQ(d.reason, reason::kFieldRequired);
  ASSERT_EQ(d.field_violations.size(), 1u);
  EXPECT_EQ(d.field_violations[0].field, "personal.reason");
  // Not a field path before ": ": no BadRequest is made up.
  d = DetailsOf(absl::InvalidArgumentError("Some prose: with a colon"));
  EXPECT_EQ(d.reason, reason::kFieldInvalid);
  EXPECT_TRUE(d.field_violations.empty());
  d = DetailsOf(absl::InvalidArgumentError("a field (explained): is bad"));
  EXPECT_TRUE(d.field_violations.empty());
  // Other codes: the code's name.
  EXPECT_EQ(DetailsOf(absl::PermissionDeniedError("no")).reason,
            "PERMISSION_DENIED");
  EXPECT_EQ(DetailsOf(absl::NotFoundError("no such referral")).reason,
            "NOT_FOUND");
  EXPECT_TRUE(DetailsOf(absl::NotFoundError("x: y")).field_violations.empty());
}

TEST(ErrorDetailsTest, WithFieldPrefixNamesTheOuterPathAndKeepsTheReason) {
  const absl::Status inner =
      FieldError("consent.consent_id", "is required", reason::kFieldRequired);
  const absl::Status outer = WithFieldPrefix(inner, "submit.disclosure");
  EXPECT_EQ(outer.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(outer.message(),
            "submit.disclosure.consent.consent_id: is required");
  const ErrorDetails d = DetailsOf(outer);
  EXPECT_EQ(d.reason, reason::kFieldRequired);
  ASSERT_EQ(d.field_violations.size(), 1u);
  EXPECT_EQ(d.field_violations[0].field,
            "submit.disclosure.consent.consent_id");
  // A precondition keeps its details.
  const absl::Status p = WithFieldPrefix(
      PreconditionError(absl::StatusCode::kFailedPrecondition, "LAWFUL_BASIS",
                        "basis", "no basis", reason::kNotCovered),
      "transfer.disclosure");
  EXPECT_EQ(DetailsOf(p).reason, reason::kNotCovered);
  ASSERT_EQ(DetailsOf(p).precondition_violations.size(), 1u);
  EXPECT_EQ(DetailsOf(p).precondition_violations[0].type, "LAWFUL_BASIS");
  EXPECT_TRUE(WithFieldPrefix(absl::OkStatus(), "x").ok());
}

TEST(ErrorDetailsTest, SerializedRpcStatusRoundTrips) {
  for (const absl::Status& status :
       {FieldErrors({{"a", "one", ""}, {"b.c", "two", ""}}, reason::kTooLong),
        PreconditionError(absl::StatusCode::kFailedPrecondition, "REFERRAL",
                          "referral_id/r-1",
                          "cannot accept a referral that "
                          "is closed",
                          reason::kInvalidState),
        WithReason(absl::AbortedError("at version 3, expected 2"),
                   reason::kVersionConflict),
        absl::InvalidArgumentError("to.organisation: must differ"),
        absl::PermissionDeniedError("only the holder")}) {
    const std::string bytes = SerializedRpcStatus(status);
    ASSERT_FALSE(bytes.empty()) << status;
    int code = -1;
    std::string message;
    ErrorDetails parsed;
    ASSERT_TRUE(ParseRpcStatus(bytes, &code, &message, &parsed)) << status;
    EXPECT_EQ(code, static_cast<int>(status.code()));
    EXPECT_EQ(message, status.message());
    const ErrorDetails want = DetailsOf(status);
    EXPECT_EQ(parsed.reason, want.reason);
    ASSERT_EQ(parsed.field_violations.size(), want.field_violations.size());
    for (size_t i = 0; i < want.field_violations.size(); ++i) {
      EXPECT_EQ(parsed.field_violations[i].field,
                want.field_violations[i].field);
      EXPECT_EQ(parsed.field_violations[i].description,
                want.field_violations[i].description);
      // Each violation says why; one derived from the message takes the
      // status's reason.
      EXPECT_EQ(parsed.field_violations[i].reason,
                want.field_violations[i].reason.empty()
                    ? want.reason
                    : want.field_violations[i].reason);
    }
    ASSERT_EQ(parsed.precondition_violations.size(),
              want.precondition_violations.size());
    for (size_t i = 0; i < want.precondition_violations.size(); ++i) {
      EXPECT_EQ(parsed.precondition_violations[i].type,
                want.precondition_violations[i].type);
      EXPECT_EQ(parsed.precondition_violations[i].subject,
                want.precondition_violations[i].subject);
      EXPECT_EQ(parsed.precondition_violations[i].description,
                want.precondition_violations[i].description);
    }
    // JSON names each detail's type.
    const std::string json = RpcStatusJson(bytes);
    EXPECT_TRUE(absl::StrContains(json, "google.rpc.ErrorInfo")) << json;
    EXPECT_TRUE(absl::StrContains(json, want.reason)) << json;
  }
  EXPECT_EQ(SerializedRpcStatus(absl::OkStatus()), "");
  int code = 0;
  std::string message;
  ErrorDetails parsed;
  EXPECT_FALSE(ParseRpcStatus("", &code, &message, &parsed));
  EXPECT_FALSE(
      ParseRpcStatus("\xff\xff not a status", &code, &message, &parsed));
}

TEST(ErrorDetailsTest, EachFieldViolationKeepsItsOwnReason) {
  const absl::Status status =
      FieldErrors({{"a", "too long", reason::kTooLong}, {"b", "bad", ""}},
                  reason::kFieldInvalid);
  int code = 0;
  std::string message;
  ErrorDetails parsed;
  ASSERT_TRUE(
      ParseRpcStatus(SerializedRpcStatus(status), &code, &message, &parsed));
  ASSERT_EQ(parsed.field_violations.size(), 2u);
  EXPECT_EQ(parsed.field_violations[0].reason, reason::kTooLong);
  EXPECT_EQ(parsed.field_violations[1].reason, reason::kFieldInvalid);
  EXPECT_EQ(DescribeDetails(parsed),
            "  reason: FIELD_INVALID\n"
            "  field a: too long (TOO_LONG)\n"
            "  field b: bad (FIELD_INVALID)\n");
}

TEST(ErrorDetailsTest, DescribeDetailsPrintsOneLineEach) {
  const std::string text = DescribeDetails(DetailsOf(
      PreconditionError(absl::StatusCode::kFailedPrecondition, "CONSENT",
                        "consent_id/c-1", "not covered", reason::kNotCovered)));
  EXPECT_EQ(text,
            "  reason: NOT_COVERED\n"
            "  precondition CONSENT consent_id/c-1: not covered\n");
  EXPECT_EQ(DescribeDetails(ErrorDetails()), "");
}

// A cluster's follower names the leader in its refusal's ErrorInfo
// metadata, and the details keep it through the wire.
TEST(ErrorDetailsTest, ANotLeaderRefusalCarriesTheLeadersAddress) {
  const std::string bytes =
      SerializedRpcStatus(NotLeaderError("not the leader", "10.0.0.7:7070"));
  std::string leader;
  ASSERT_TRUE(ParseNotLeader(bytes, &leader));
  EXPECT_EQ(leader, "10.0.0.7:7070");
  EXPECT_TRUE(absl::StrContains(RpcStatusJson(bytes), "10.0.0.7:7070"));
  int code = 0;
  std::string message;
  ErrorDetails parsed;
  ASSERT_TRUE(ParseRpcStatus(bytes, &code, &message, &parsed));
  EXPECT_EQ(code, static_cast<int>(absl::StatusCode::kUnavailable));
  EXPECT_EQ(parsed.reason, reason::kNotLeader);
  // No leader known yet: the reason without an address.
  ASSERT_TRUE(
      ParseNotLeader(SerializedRpcStatus(NotLeaderError("none", "")), &leader));
  EXPECT_EQ(leader, "");
  // Any other refusal is not one.
  EXPECT_FALSE(ParseNotLeader(
      SerializedRpcStatus(absl::UnavailableError("disk full")), &leader));
}

// The reasons in README "Errors a client can branch on": the first cell of
// each row of the section's table, in backquotes.
std::vector<std::string> ReadmeReasons() {
  std::ifstream in(YCR_README);
  EXPECT_TRUE(in.good()) << "cannot read " << YCR_README;
  std::vector<std::string> reasons;
  bool in_section = false;
  for (std::string line; std::getline(in, line);) {
    if (absl::StartsWith(line, "#")) {
      in_section = absl::StrContains(line, "Errors a client can branch on");
      continue;
    }
    if (!in_section || !absl::StartsWith(line, "| `")) continue;
    std::vector<absl::string_view> cells = absl::StrSplit(line, '|');
    if (cells.size() < 3) continue;
    absl::string_view cell = absl::StripAsciiWhitespace(cells[1]);
    if (absl::ConsumePrefix(&cell, "`") && absl::ConsumeSuffix(&cell, "`")) {
      reasons.emplace_back(cell);
    }
  }
  return reasons;
}

TEST(ErrorDetailsTest, TheReadmeTableListsExactlyTheKnownReasons) {
  const std::vector<std::string> listed = ReadmeReasons();
  const std::set<std::string> documented(listed.begin(), listed.end());
  EXPECT_EQ(documented.size(), listed.size()) << "a reason listed twice";
  const std::set<std::string> known(KnownReasons().begin(),
                                    KnownReasons().end());
  EXPECT_EQ(known.size(), KnownReasons().size()) << "a reason known twice";
  for (const std::string& r : known) {
    EXPECT_TRUE(documented.count(r) == 1)
        << r << " is a reason the server sends, but README \"Errors a client "
        << "can branch on\" does not list it";
  }
  for (const std::string& r : documented) {
    EXPECT_TRUE(known.count(r) == 1)
        << r << " is in the README's table but not in KnownReasons()";
  }
}

// Every INVALID_ARGUMENT message the services and the domain rules write
// with a literal start reads "<field path>: ...", so the gRPC layer derives
// the BadRequest from it (a message built from a variable field name is
// checked by the tests of its rule).
TEST(ErrorDetailsTest, EveryLiteralInvalidArgumentMessageNamesAField) {
  std::vector<std::string> files = {
      "services/security/access_log.cc", "services/access_log_service.cc",
      "services/admin_service.cc",       "services/domain_commands.cc",
      "services/domain_services.cc",     "services/erasure_commands.cc",
      "services/event_store_service.cc", "services/query_services.cc",
      "services/audit_service.cc",       "services/command_events.cc",
      "services/consent_commands.cc",    "services/subject_commands.cc",
      "services/care_commands.cc",       "services/care_services.cc"};
  for (const auto& entry : std::filesystem::directory_iterator(
           std::string(YCR_SOURCE_DIR) + "/domain")) {
    if (entry.path().extension() == ".cc") {
      files.push_back("domain/" + entry.path().filename().string());
    }
  }
  int checked = 0;
  for (const std::string& file : files) {
    std::ifstream in(std::string(YCR_SOURCE_DIR) + "/" + file);
    ASSERT_TRUE(in.good()) << file;
    std::stringstream buffer;
    buffer << in.rdbuf();
    const std::string text = buffer.str();
    const std::string call = "InvalidArgumentError(";
    for (size_t at = text.find(call); at != std::string::npos;
         at = text.find(call, at + 1)) {
      size_t p = at + call.size();
      auto skip_space = [&] {
        while (p < text.size() && absl::ascii_isspace(text[p])) ++p;
      };
      skip_space();
      if (text.compare(p, 13, "absl::StrCat(") == 0) {
        p += 13;
        skip_space();
      }
      // The leading string literal, adjacent literals joined.
      std::string literal;
      while (p < text.size() && text[p] == '"') {
        for (++p; p < text.size() && text[p] != '"'; ++p) {
          if (text[p] == '\\') ++p;
          literal += text[p];
        }
        ++p;
        skip_space();
      }
      // Starts with a variable, or a literal that a variable continues
      // before the field path ends ("events[", i, "].payload"): checked at
      // run time by the tests of its rule.
      if (literal.empty()) continue;
      if (literal.find(": ") == std::string::npos && p < text.size() &&
          text[p] == ',') {
        continue;
      }
      ++checked;
      const int line = 1 + std::count(text.begin(), text.begin() + at, '\n');
      EXPECT_FALSE(DetailsOf(absl::InvalidArgumentError(literal + "x"))
                       .field_violations.empty())
          << file << ":" << line << ": \"" << literal
          << "\" does not start with \"<field path>: \"";
    }
  }
  EXPECT_GT(checked, 40);
}

}  // namespace
}  // namespace ycr
