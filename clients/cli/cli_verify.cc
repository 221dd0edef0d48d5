// `ycr audit verify` (cli_tlog.h): a checkpoint's signature, its
// consistency with the last one this auditor saw (the state file), and
// every receipt of an export, each line of output one check.

#include <map>
#include <optional>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "clients/cli/cli_export_internal.h"
#include "clients/cli/cli_tlog.h"
#include "clients/cli/cli_verify_internal.h"
#include "common/files.h"
#include "common/signed_note.h"
#include "common/tlog.h"
#include "common/tlog_proof.h"
#include "openssl/sha.h"
#include "ycr/v1/event_store.grpc.pb.h"
#include "ycr/v1/queries_service.grpc.pb.h"

namespace ycr::cli {
namespace {

constexpr char kHelp[] =
    "ycr audit verify --vkey KEY|@FILE [--state FILE] [--export FILE]\n"
    "                 [--records] [--checkpoint FILE] [--offline]\n"
    "\n"
    "Checks the log's transparency tree (README \"Proving the audit\n"
    "trail\"), one line per check, and exits 1 on any failure:\n"
    "  - the current checkpoint (Audit.Checkpoint of the log's head, or\n"
    "    --checkpoint FILE) is signed by the verifier key and names its\n"
    "    origin;\n"
    "  - with --state: the log still holds the tree of the last checkpoint\n"
    "    saved there (a consistency proof from the server): a smaller tree\n"
    "    (rolled back) or another tree of the same records (forked) fails;\n"
    "    after every check passed, the current checkpoint is saved there;\n"
    "  - with --export: each receipt (C2SP tlog-proof) in an export of\n"
    "    `ycr audit export` (jsonl, csv, html or sar): its checkpoint is\n"
    "    signed by the key, the record is in that tree (from the record's\n"
    "    bytes when the receipt holds them, else from its leaf hash), and\n"
    "    that tree is part of today's log; a receipt must sit on the row\n"
    "    (jsonl line, csv or html row) of its record, which states its\n"
    "    position and hash, and says what the record says when the receipt\n"
    "    holds it (an auditor's), the consent in force at a disclosure\n"
    "    worked out again from the consent's records, each held by its own\n"
    "    receipt (a record missing fails); every disclosure carries a\n"
    "    receipt, no position has two rows, every html row names its\n"
    "    position, and a line that is not JSON fails; an export's\n"
    "    receipts all hold their records (an auditor's) or all only leaf\n"
    "    hashes (anyone else's), and a leaf hash proves a position, not what\n"
    "    its row says.\n"
    "\n"
    "  --vkey KEY       the log's verifier key, <name>+<hex id>+<base64>\n"
    "                   (ycr-server keygen prints it; the server logs it),\n"
    "                   or @FILE holding it (required)\n"
    "  --state FILE     the last checkpoint seen (created on first use;\n"
    "                   keep it where the server's operator cannot reach)\n"
    "  --export FILE    an export whose receipts to check\n"
    "  --records        every receipt must hold its record (an auditor's\n"
    "                   export), so that every row is checked against it\n"
    "  --checkpoint F   check this signed checkpoint instead of the server's\n"
    "  --offline        call no server: receipts are checked against their\n"
    "                   own checkpoints only; a state file needs the server\n"
    "                   unless the tree has not grown\n"
    "Exit codes: 0 every check passed, 1 a check failed, 2 bad usage.\n";

// The column or cell of `found`'s row that states the consent in force.
std::string ConsentColumn(const internal::FoundReceipt& found) {
  switch (found.form) {
    case internal::FoundReceipt::Form::kJsonl:
      return "consentInForce";
    case internal::FoundReceipt::Form::kCsv:
      return "consent_in_force and consent_terms";
    case internal::FoundReceipt::Form::kHtml:
      return "basis cell";
    default:
      return "consent in force";
  }
}

struct Head {
  note::Checkpoint checkpoint;
  std::string note;
};

class Verifier {
 public:
  Verifier(note::Verifier key, std::shared_ptr<grpc::Channel> channel,
           const CallSettings& settings, std::ostream& out)
      : key_(std::move(key)),
        channel_(std::move(channel)),
        settings_(settings),
        out_(out) {}

  int failures() const { return failures_; }
  // Receipts that passed their checks, holding the record or its hash.
  int with_record() const { return with_record_; }
  int hash_only() const { return hash_only_; }
  // --records: a receipt holding only its leaf hash fails.
  void RequireRecords() { require_records_ = true; }

  void Ok(const std::string& line) { out_ << "ok: " << line << "\n"; }
  void Fail(const std::string& line) {
    out_ << "FAIL: " << line << "\n";
    ++failures_;
  }

  // The checkpoint in `note`, once its signature by the key is checked.
  absl::StatusOr<Head> Open(const std::string& note) {
    absl::StatusOr<std::string> text = note::Open(note, key_);
    if (!text.ok()) {
      return absl::PermissionDeniedError(absl::StrCat(
          "not signed by ", key_.name, "'s key: ", text.status().message()));
    }
    absl::StatusOr<note::Checkpoint> checkpoint = note::ParseCheckpoint(*text);
    if (!checkpoint.ok()) return checkpoint.status();
    if (checkpoint->origin != key_.name) {
      return absl::PermissionDeniedError(
          absl::StrCat("the origin is '", checkpoint->origin,
                       "', not the key's name '", key_.name, "'"));
    }
    return Head{*std::move(checkpoint), note};
  }

  // OK when the tree of `old_size` records with `old_root` is a prefix of
  // `now`'s tree (asking the server for the proof unless offline).
  absl::Status Prefix(int64_t old_size, const tlog::Hash& old_root,
                      const Head& now) {
    const note::Checkpoint& cur = now.checkpoint;
    if (old_size > cur.size) {
      return absl::FailedPreconditionError(absl::StrCat(
          "rolled back: a tree of ", old_size,
          " records was signed, but the log now shows ", cur.size));
    }
    if (old_size == cur.size) {
      if (old_root == cur.root) return absl::OkStatus();
      return absl::FailedPreconditionError(absl::StrCat(
          "forked: two different trees of ", old_size, " records"));
    }
    if (channel_ == nullptr) {
      return absl::UnavailableError(
          absl::StrCat("offline: cannot prove that the tree of ", old_size,
                       " records is part of the tree of ", cur.size));
    }
    v1::ConsistencyProofRequest request;
    request.set_old_size(static_cast<uint64_t>(old_size));
    request.set_new_size(static_cast<uint64_t>(cur.size));
    v1::ConsistencyProofResponse response;
    grpc::ClientContext context;
    PrepareContext(&context, settings_);
    grpc::Status status = v1::Audit::NewStub(channel_)->ConsistencyProof(
        &context, request, &response);
    if (!status.ok()) {
      return absl::UnavailableError(absl::StrCat(
          "no consistency proof from the server: ", status.error_message()));
    }
    std::vector<tlog::Hash> path;
    for (const std::string& bytes : response.path()) {
      absl::StatusOr<tlog::Hash> hash = tlog::HashFromBytes(bytes);
      if (!hash.ok()) return hash.status();
      path.push_back(*hash);
    }
    if (absl::Status s = tlog::VerifyConsistency(old_size, cur.size, old_root,
                                                 cur.root, path);
        !s.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("forked: the tree of ", old_size,
                       " records is not part of the tree "
                       "of ",
                       cur.size, " (", s.message(), ")"));
    }
    return absl::OkStatus();
  }

  // Checks one receipt; `now` (may be null) is the current checkpoint. For
  // a row (`line`: a jsonl line, a csv or html row) or a sar entry,
  // `position` is the position it states, which must be the receipt's; a
  // row must state the record's chain hash (`hash_hex`), which a receipt
  // holding the record must match, and carry a receipt at all (`text`
  // empty: it does not).
  void Receipt(const internal::FoundReceipt& found, const Head* now) {
    const std::string& text = found.text;
    const std::string& hash_hex = found.hash_hex;
    const std::string& position = found.position;
    const bool line = found.row;
    if (line && text.empty()) {
      Fail(absl::StrCat("the disclosure at position ", position,
                        " carries no receipt"));
      return;
    }
    absl::StatusOr<tlog::Proof> proof = tlog::ParseProof(text);
    if (!proof.ok()) {
      Fail(absl::StrCat("receipt: ", proof.status().message()));
      return;
    }
    const std::string what =
        absl::StrCat("receipt for position ", proof->index + 1);
    // The receipt is for the record its line or entry names.
    if (line || !position.empty()) {
      if (position != absl::StrCat(proof->index + 1)) {
        Fail(absl::StrCat(what, ": its row or entry states position \"",
                          position, "\""));
        return;
      }
    }
    if (line && hash_hex.empty()) {
      Fail(absl::StrCat(what, ": its row states no record hash"));
      return;
    }
    absl::StatusOr<Head> head = Open(proof->checkpoint);
    if (!head.ok()) {
      Fail(absl::StrCat(what, ": its checkpoint is ", head.status().message()));
      return;
    }
    absl::StatusOr<tlog::Hash> leaf = tlog::ProofLeafHash(*proof);
    if (!leaf.ok()) {
      Fail(absl::StrCat(what, ": ", leaf.status().message()));
      return;
    }
    const bool has_record = proof->extra->size() != 32;
    if (!has_record && require_records_) {
      Fail(absl::StrCat(what,
                        " holds only its leaf hash, not the record "
                        "(--records: an auditor's export holds every record, "
                        "so that its rows can be checked against them)"));
      return;
    }
    if (has_record) {
      v1::RecordedEvent event;
      if (!event.ParseFromString(*proof->extra) ||
          event.position() != static_cast<uint64_t>(proof->index) + 1) {
        Fail(absl::StrCat(what,
                          ": the record it holds is not at that "
                          "position"));
        return;
      }
      // The record's chain hash is SHA-256(prev_hash || its stored bytes):
      // the line that carries the receipt must be that record's, and say
      // of it what the record says.
      const std::string chained = event.prev_hash() + *proof->extra;
      unsigned char digest[SHA256_DIGEST_LENGTH];
      SHA256(reinterpret_cast<const unsigned char*>(chained.data()),
             chained.size(), digest);
      event.set_hash(reinterpret_cast<const char*>(digest), sizeof(digest));
      if (!hash_hex.empty()) {
        const std::string hex = absl::BytesToHexString(event.hash());
        if (hex != absl::AsciiStrToLower(hash_hex)) {
          Fail(absl::StrCat(what,
                            ": the record it holds is not the one its row "
                            "states (hash ",
                            hash_hex, ", the record's ", hex, ")"));
          return;
        }
      }
      held_.push_back({found, event, ""});
    }
    if (absl::Status s =
            tlog::VerifyInclusion(proof->index, head->checkpoint.size, *leaf,
                                  proof->path, head->checkpoint.root);
        !s.ok()) {
      Fail(absl::StrCat(what, ": the record is not in the signed tree of ",
                        head->checkpoint.size, " records (", s.message(), ")"));
      return;
    }
    std::string later;
    if (now != nullptr) {
      if (absl::Status s =
              Prefix(head->checkpoint.size, head->checkpoint.root, *now);
          !s.ok()) {
        Fail(absl::StrCat(what, ": ", s.message()));
        return;
      }
      later = absl::StrCat(", which is part of today's tree of ",
                           now->checkpoint.size);
    }
    ++(has_record ? with_record_ : hash_only_);
    const std::string ok = absl::StrCat(
        what, ": ", has_record ? "the record" : "its leaf hash",
        " is in the signed tree of ", head->checkpoint.size, later);
    // A row tied to its record is checked once every receipt is (Rows).
    if (has_record) {
      held_.back().ok = ok;
    } else {
      Ok(ok);
    }
  }

  // The rows whose receipts hold their records, once every receipt is
  // checked: each must say what the export writes from its record, with the
  // consent in force at a disclosure worked out again, with the export's
  // own fold of the server's rule, from the consent records the export
  // holds (each checked by its own receipt); and every consent record held
  // must be one that a disclosure rests on.
  void Rows() {
    std::map<uint64_t, v1::RecordedEvent> records;
    for (const HeldRow& row : held_) {
      if (!row.ok.empty()) records.emplace(row.event.position(), row.event);
    }
    std::set<uint64_t> relied_on;
    for (const HeldRow& row : held_) {
      if (row.ok.empty()) continue;  // Its receipt failed.
      const std::string what =
          absl::StrCat("receipt for position ", row.event.position());
      std::optional<internal::ConsentInForce> in_force;
      if (internal::DisclosureOf(row.event.payload()) != nullptr) {
        absl::StatusOr<internal::ConsentInForce> worked_out =
            internal::ConsentFromRecords(row.event, records);
        if (!worked_out.ok()) {
          Fail(absl::StrCat(
              what, ": its row's ", ConsentColumn(row.found),
              " cannot be worked out again: ", worked_out.status().message()));
          continue;
        }
        in_force = *std::move(worked_out);
        relied_on.insert(in_force->relied_on.begin(),
                         in_force->relied_on.end());
      }
      if (const std::string differs = internal::RowDiffers(
              row.found, row.event, in_force ? &*in_force : nullptr);
          !differs.empty()) {
        Fail(absl::StrCat(what, ": its row says ", differs));
        continue;
      }
      std::string consent;
      if (in_force.has_value() && !in_force->relied_on.empty()) {
        consent = absl::StrCat(
            "; the consent in force it states is worked out again from the "
            "records at positions ",
            absl::StrJoin(in_force->relied_on, ", "));
      }
      Ok(row.ok + consent);
    }
    for (const auto& [position, record] : records) {
      const std::string name = internal::ConsentRecordName(record);
      if (name.empty() || relied_on.count(position) > 0) continue;
      Fail(absl::StrCat("receipt for position ", position,
                        ": the export holds a record of ", name,
                        " that no disclosure of the export rests on"));
    }
  }

 private:
  const note::Verifier key_;
  const std::shared_ptr<grpc::Channel> channel_;
  const CallSettings& settings_;
  std::ostream& out_;
  int failures_ = 0;
  int with_record_ = 0;
  int hash_only_ = 0;
  bool require_records_ = false;
  // The rows whose receipts hold their records; `ok` is set once the
  // receipt passed.
  struct HeldRow {
    internal::FoundReceipt found;
    v1::RecordedEvent event;
    std::string ok;
  };
  std::vector<HeldRow> held_;
};

}  // namespace

std::string VerifyHelp() { return kHelp; }

int Verify(const std::vector<std::string>& words,
           const std::vector<std::string>& options, Channels& channels,
           const CallSettings& settings, std::ostream& out, std::ostream& err) {
  auto bad = [&err](const std::string& problem) {
    err << "ycr: audit verify: " << problem
        << "\nRun `ycr audit verify --help` for usage.\n";
    return 2;
  };
  if (words.size() > 2) return bad("unexpected argument '" + words[2] + "'");
  std::string vkey, state, export_file, checkpoint_file;
  bool offline = false;
  bool records = false;
  for (const std::string& option : options) {
    const size_t eq = option.find('=');
    const std::string name = option.substr(0, eq);
    const std::string value =
        eq == std::string::npos ? "" : option.substr(eq + 1);
    if ((name == "offline" || name == "records") && eq == std::string::npos) {
      (name == "offline" ? offline : records) = true;
      continue;
    }
    if (eq == std::string::npos || value.empty()) {
      return bad("--" + name + " needs a value");
    }
    if (name == "vkey") {
      vkey = value;
    } else if (name == "state") {
      state = value;
    } else if (name == "export") {
      export_file = value;
    } else if (name == "checkpoint") {
      checkpoint_file = value;
    } else {
      return bad("unknown flag --" + name);
    }
  }
  if (vkey.empty()) return bad("--vkey is required");
  if (vkey[0] == '@') {
    absl::StatusOr<std::string> text = ReadFile(vkey.substr(1));
    if (!text.ok())
      return bad("--vkey: " + std::string(text.status().message()));
    vkey = std::string(absl::StripAsciiWhitespace(*text));
  }
  absl::StatusOr<note::Verifier> key = note::ParseVerifierKey(vkey);
  if (!key.ok()) return bad("--vkey: " + std::string(key.status().message()));
  if (offline && checkpoint_file.empty() && !state.empty()) {
    return bad("--state with --offline needs --checkpoint FILE");
  }
  Verifier check(*key, offline ? nullptr : channels.Own(), settings, out);
  if (records) check.RequireRecords();

  // The current checkpoint.
  std::optional<Head> now;
  std::string note;
  if (!checkpoint_file.empty()) {
    absl::StatusOr<std::string> text = ReadFile(checkpoint_file);
    if (!text.ok()) {
      return bad("--checkpoint: " + std::string(text.status().message()));
    }
    note = *text;
  } else if (!offline) {
    // A checkpoint of the whole log as it is now (signed now if need be).
    v1::HeadResponse log_head;
    grpc::ClientContext head_context;
    PrepareContext(&head_context, settings);
    grpc::Status status = v1::EventStore::NewStub(channels.Own())
                              ->Head(&head_context, {}, &log_head);
    v1::CheckpointRequest request;
    request.set_min_tree_size(log_head.position());
    v1::SignedCheckpoint checkpoint;
    grpc::ClientContext context;
    PrepareContext(&context, settings);
    if (status.ok()) {
      status = v1::Audit::NewStub(channels.Own())
                   ->Checkpoint(&context, request, &checkpoint);
    }
    if (!status.ok()) {
      check.Fail("no checkpoint from the server: " + status.error_message());
    }
    note = checkpoint.note();
  }
  if (!note.empty()) {
    absl::StatusOr<Head> head = check.Open(note);
    if (head.ok()) {
      now = *head;
      check.Ok(absl::StrCat("checkpoint of ", now->checkpoint.origin, ": ",
                            now->checkpoint.size, " records, root ",
                            tlog::HashHex(now->checkpoint.root),
                            ", signed by the key"));
    } else {
      check.Fail("the checkpoint is " + std::string(head.status().message()));
    }
  }

  // The last checkpoint seen.
  if (!state.empty() && now.has_value()) {
    absl::StatusOr<std::string> saved = ReadFile(state);
    bool consistent = true;
    if (saved.ok()) {
      absl::StatusOr<Head> last = check.Open(*saved);
      if (!last.ok()) {
        check.Fail(absl::StrCat("the state file's checkpoint is ",
                                last.status().message()));
        consistent = false;
      } else if (absl::Status s = check.Prefix(last->checkpoint.size,
                                               last->checkpoint.root, *now);
                 !s.ok()) {
        check.Fail(
            absl::StrCat("since the state file's checkpoint: ", s.message()));
        consistent = false;
      } else {
        check.Ok(absl::StrCat("the tree of ", last->checkpoint.size,
                              " records last seen is part of today's tree"));
      }
    } else if (saved.status().code() == absl::StatusCode::kNotFound) {
      check.Ok("no state file yet: this checkpoint is the first seen");
    } else {
      check.Fail(std::string(saved.status().message()));
      consistent = false;
    }
    if (consistent && check.failures() == 0) {
      if (absl::Status s = WritePrivateFile(state, now->note); !s.ok()) {
        check.Fail(std::string(s.message()));
      }
    }
  }

  if (!export_file.empty()) {
    absl::StatusOr<std::string> text = ReadFile(export_file);
    if (!text.ok()) {
      return bad("--export: " + std::string(text.status().message()));
    }
    const std::vector<internal::FoundReceipt> receipts =
        internal::FindReceipts(*text);
    if (receipts.empty()) {
      // An export of a trail without disclosures holds no receipt, as
      // written: it verifies, saying so (no receipt shows that an export
      // holds every disclosure). Anything that is no export fails.
      const bool an_export = absl::StartsWith(*text, "<!DOCTYPE html>") ||
                             absl::StartsWith(*text, "{\"position\":") ||
                             absl::StartsWith(*text, internal::kCsvHeader);
      if (an_export) {
        check.Ok(export_file + ": no disclosure in it, so no receipt to check");
      } else {
        check.Fail(export_file + ": no receipts in it");
      }
    }
    for (const internal::FoundReceipt& receipt : receipts) {
      if (!receipt.problem.empty()) {
        check.Fail(absl::StrCat(export_file, ": ", receipt.problem));
        continue;
      }
      check.Receipt(receipt, now.has_value() ? &*now : nullptr);
    }
    check.Rows();
    // The server writes an export's receipts one way: an auditor's hold the
    // records, anyone else's the leaf hashes. A mix is an auditor's export
    // whose rows were changed and their receipts cut to the hash, which
    // proves only the position.
    if (check.with_record() > 0 && check.hash_only() > 0) {
      check.Fail(absl::StrCat(
          export_file, ": ", check.with_record(),
          " of its receipts hold the record and others only its leaf hash (",
          check.hash_only(),
          "); an export's receipts are written all one way, so its rows "
          "were changed"));
    } else if (check.hash_only() > 0) {
      out << "note: " << check.hash_only()
          << " receipt(s) hold only leaf hashes: each proves its position "
             "is in the tree, not what its row says, nor the consent in "
             "force it states (an auditor's export, verified with "
             "--records, ties every row to its record, and works the "
             "consent in force out again from the consent's records)\n";
    }
  }
  if (check.failures() > 0) {
    out << "verify: " << check.failures() << " check(s) FAILED\n";
    return 1;
  }
  out << "verify: every check passed\n";
  return 0;
}

}  // namespace ycr::cli
