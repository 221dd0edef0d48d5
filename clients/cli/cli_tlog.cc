// Receipts and `ycr audit leaf` (cli_tlog.h).

#include "clients/cli/cli_tlog.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/proto_bytes.h"
#include "common/tlog.h"
#include "common/tlog_proof.h"
#include "common/wire_names.h"
#include "ycr/v1/event_store.grpc.pb.h"
#include "ycr/v1/queries_service.grpc.pb.h"

namespace ycr::cli {
namespace {

absl::Status FromGrpc(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

// Positions per Audit.InclusionProofs call (the server's limit).
constexpr size_t kMaxProofsPerCall = 1000;

constexpr char kLeafHelp[] =
    "ycr audit leaf --position P [--output FILE]\n"
    "\n"
    "Writes the leaf bytes of the record at log position P: the record as\n"
    "stored (its personal part sealed), which the transparency tree hashes\n"
    "(leaf index P - 1). They are the whole record, so only a caller who\n"
    "may read the raw log gets them (role auditor; EventStore.ReadAll).\n"
    "The bytes are checked against the server's leaf hash first.\n"
    "\n"
    "  --position P    the record's log position, from 1 (required)\n"
    "  --output FILE   write there, mode 0600 (default: standard output)\n"
    "Exit codes: 0 ok, 1 the server refused or failed, 2 bad usage.\n";

}  // namespace

absl::StatusOr<std::string> FetchLeaf(
    const std::shared_ptr<grpc::Channel>& channel, const CallSettings& settings,
    uint64_t position) {
  v1::ReadAllRequest request;
  request.set_from_position(position);
  request.set_limit(1);
  v1::ReadAllResponse response;
  grpc::ClientContext context;
  PrepareContext(&context, settings);
  grpc::Status status =
      v1::EventStore::NewStub(channel)->ReadAll(&context, request, &response);
  if (!status.ok()) return FromGrpc(status);
  if (response.events_size() != 1 ||
      response.events(0).position() != position) {
    return absl::NotFoundError(
        absl::StrCat("position: no record at ", position));
  }
  // The stored form: no chain hash, the personal part only sealed.
  v1::RecordedEvent event = response.events(0);
  event.clear_hash();
  event.mutable_payload()->clear_personal();
  return DeterministicBytes(event);
}

absl::StatusOr<std::map<uint64_t, std::string>> FetchReceipts(
    const std::shared_ptr<grpc::Channel>& channel, const CallSettings& settings,
    const std::vector<uint64_t>& positions, LeafBytes leaf_bytes) {
  std::map<uint64_t, std::string> receipts;
  if (positions.empty()) return receipts;
  auto audit = v1::Audit::NewStub(channel);
  v1::SignedCheckpoint checkpoint;
  {
    v1::CheckpointRequest request;
    request.set_min_tree_size(
        *std::max_element(positions.begin(), positions.end()));
    grpc::ClientContext context;
    PrepareContext(&context, settings);
    grpc::Status status = audit->Checkpoint(&context, request, &checkpoint);
    if (!status.ok()) return FromGrpc(status);
  }
  // The proofs, kMaxProofsPerCall positions a call (Audit.InclusionProofs).
  std::vector<uint64_t> wanted(positions.begin(), positions.end());
  std::sort(wanted.begin(), wanted.end());
  wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
  bool with_leaves = leaf_bytes == LeafBytes::kIfEntitled;
  for (size_t from = 0; from < wanted.size(); from += kMaxProofsPerCall) {
    v1::InclusionProofsRequest request;
    for (size_t i = from; i < wanted.size() && i < from + kMaxProofsPerCall;
         ++i) {
      request.add_positions(wanted[i]);
    }
    request.set_tree_size(checkpoint.tree_size());
    v1::InclusionProofsResponse batch;
    grpc::ClientContext context;
    PrepareContext(&context, settings);
    grpc::Status status = audit->InclusionProofs(&context, request, &batch);
    if (!status.ok()) return FromGrpc(status);
    if (batch.proofs_size() != request.positions_size()) {
      return absl::DataLossError(
          absl::StrCat("the server sent ", batch.proofs_size(), " proofs for ",
                       request.positions_size(), " positions"));
    }
    for (int i = 0; i < batch.proofs_size(); ++i) {
      const uint64_t position = request.positions(i);
      const v1::InclusionProofResponse& response = batch.proofs(i);
      tlog::Proof proof;
      proof.index = static_cast<int64_t>(response.leaf_index());
      if (proof.index + 1 != static_cast<int64_t>(position)) {
        return absl::DataLossError(absl::StrCat(
            "the server's proof for position ", position, " is for another"));
      }
      proof.checkpoint = checkpoint.note();
      for (const std::string& bytes : response.path()) {
        absl::StatusOr<tlog::Hash> hash = tlog::HashFromBytes(bytes);
        if (!hash.ok()) return hash.status();
        proof.path.push_back(*hash);
      }
      proof.extra = response.leaf_hash();
      if (with_leaves) {
        absl::StatusOr<std::string> leaf =
            FetchLeaf(channel, settings, position);
        if (leaf.status().code() == absl::StatusCode::kPermissionDenied) {
          with_leaves = false;  // Not entitled: hashes only, for every one.
        } else if (!leaf.ok()) {
          return leaf.status();
        } else if (tlog::HashBytes(tlog::RecordHash(*leaf)) !=
                   response.leaf_hash()) {
          return absl::DataLossError(
              absl::StrCat("the record at position ", position,
                           " does not hash to the tree's leaf"));
        } else {
          proof.extra = *std::move(leaf);
        }
      }
      receipts[position] = tlog::FormatProof(proof);
    }
  }
  return receipts;
}

std::string LeafHelp() { return kLeafHelp; }

int Leaf(const std::vector<std::string>& words,
         const std::vector<std::string>& options, Channels& channels,
         const CallSettings& settings, std::ostream& out, std::ostream& err) {
  auto bad = [&err](const std::string& problem) {
    err << "ycr: audit leaf: " << problem
        << "\nRun `ycr audit leaf --help` for usage.\n";
    return 2;
  };
  if (words.size() > 2) return bad("unexpected argument '" + words[2] + "'");
  uint64_t position = 0;
  std::string output;
  for (const std::string& option : options) {
    const size_t eq = option.find('=');
    const std::string name = option.substr(0, eq);
    const std::string value =
        eq == std::string::npos ? "" : option.substr(eq + 1);
    if (name == "position") {
      if (!absl::SimpleAtoi(value, &position) || position == 0) {
        return bad("--position: a log position, from 1");
      }
    } else if (name == "output") {
      output = value;
    } else {
      return bad("unknown flag --" + name);
    }
  }
  if (position == 0) return bad("--position is required");
  absl::StatusOr<std::string> leaf =
      FetchLeaf(channels.Own(), settings, position);
  if (leaf.ok()) {
    // Checked against the tree before it is handed out.
    v1::InclusionProofRequest request;
    request.set_position(position);
    v1::InclusionProofResponse response;
    grpc::ClientContext context;
    PrepareContext(&context, settings);
    grpc::Status status = v1::Audit::NewStub(channels.Own())
                              ->InclusionProof(&context, request, &response);
    if (!status.ok()) {
      leaf = FromGrpc(status);
    } else if (tlog::HashBytes(tlog::RecordHash(*leaf)) !=
               response.leaf_hash()) {
      leaf = absl::DataLossError("the record does not hash to the tree's leaf");
    }
  }
  if (!leaf.ok()) {
    err << "ycr: " << StatusCodeName(static_cast<int>(leaf.status().code()))
        << ": " << leaf.status().message() << "\n";
    return 1;
  }
  if (output.empty()) {
    out << *leaf;
    return out ? 0 : 1;
  }
  if (absl::Status s = WritePrivateFile(output, *leaf); !s.ok()) {
    err << "ycr: audit leaf: " << s.message() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace ycr::cli
