// ycr.v1.Audit's transparency tree calls: Checkpoint, InclusionProof,
// ConsistencyProof (query_services.h). Proofs are for tree sizes up to the
// latest signed checkpoint; a larger one is OUT_OF_RANGE (retry after the
// next checkpoint), never a proof against a tree nobody signed.

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/tlog.h"
#include "common/tlog_proof.h"
#include "services/query_services.h"
#include "services/run_query.h"

namespace ycr::services {
namespace {

// Most positions one InclusionProofs call proves.
constexpr int kMaxInclusionProofs = 1000;

void FillCheckpoint(const SignedTreeHead& head, const std::string& origin,
                    v1::SignedCheckpoint* out) {
  out->set_note(head.note);
  out->set_origin(origin);
  out->set_tree_size(static_cast<uint64_t>(head.size));
  out->set_root_hash(tlog::HashBytes(head.root));
}

// The signed checkpoint into `response` when its tree of `size` records is
// the latest's (an older tree's checkpoint the caller kept).
template <typename Response>
void FillIfLatest(int64_t size, const SignedTreeHead& latest,
                  const std::string& origin, Response* response) {
  if (size == latest.size) {
    FillCheckpoint(latest, origin, response->mutable_checkpoint());
  }
}

absl::StatusOr<SignedTreeHead> LatestOf(Checkpointer* checkpointer) {
  if (checkpointer == nullptr) {
    return absl::UnavailableError("this server signs no checkpoints");
  }
  std::optional<SignedTreeHead> latest = checkpointer->Latest();
  if (!latest.has_value()) {
    return absl::UnavailableError("no checkpoint signed yet; retry shortly");
  }
  return *latest;
}

// `size` (0: the latest's), checked against the latest checkpoint.
absl::StatusOr<int64_t> TreeSize(const char* field, uint64_t size,
                                 const SignedTreeHead& latest) {
  if (size == 0) return latest.size;
  if (size > static_cast<uint64_t>(latest.size)) {
    return absl::OutOfRangeError(
        absl::StrCat(field, ": ", size,
                     " is beyond the latest signed checkpoint (", latest.size,
                     " records); retry after the next checkpoint, or call "
                     "Audit.Checkpoint with min_tree_size first"));
  }
  return static_cast<int64_t>(size);
}

void AddHashes(const std::vector<tlog::Hash>& hashes,
               google::protobuf::RepeatedPtrField<std::string>* out) {
  for (const tlog::Hash& hash : hashes) out->Add(tlog::HashBytes(hash));
}

// The audit path of the record at `position` (named `field` in errors) in
// the tree of `size` records, into `out` (without its checkpoint).
absl::Status ProveInclusion(const std::string& field, uint64_t position,
                            int64_t size, const tlog::HashReader& read,
                            v1::InclusionProofResponse* out) {
  if (position == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": log positions start at 1 (leaf index = position - 1)"));
  }
  if (position > static_cast<uint64_t>(size)) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": ", position, " is not in a tree of ", size, " records"));
  }
  const int64_t index = static_cast<int64_t>(position) - 1;
  ASSIGN_OR_RETURN(std::vector<tlog::Hash> path,
                   tlog::InclusionProof(index, size, read));
  ASSIGN_OR_RETURN(std::vector<tlog::Hash> leaf,
                   read({tlog::StoredHashIndex(0, index)}));
  ASSIGN_OR_RETURN(tlog::Hash root, tlog::TreeHash(size, read));
  out->set_leaf_index(static_cast<uint64_t>(index));
  out->set_tree_size(static_cast<uint64_t>(size));
  out->set_leaf_hash(tlog::HashBytes(leaf.at(0)));
  AddHashes(path, out->mutable_path());
  out->set_root_hash(tlog::HashBytes(root));
  return absl::OkStatus();
}

}  // namespace

grpc::ServerUnaryReactor* AuditService::Checkpoint(
    grpc::CallbackServerContext* context, const v1::CheckpointRequest* request,
    v1::SignedCheckpoint* response) {
  return RunQuery(
      context, *request, pool_,
      [this, request, response](const v1::Actor&) -> absl::Status {
        RETURN_IF_ERROR(LatestOf(checkpointer_).status());
        ASSIGN_OR_RETURN(SignedTreeHead head,
                         checkpointer_->AtLeast(request->min_tree_size()));
        FillCheckpoint(head, checkpointer_->signer().name, response);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* AuditService::InclusionProof(
    grpc::CallbackServerContext* context,
    const v1::InclusionProofRequest* request,
    v1::InclusionProofResponse* response) {
  return RunQuery(
      context, *request, pool_,
      [this, request, response](const v1::Actor&) -> absl::Status {
        ASSIGN_OR_RETURN(SignedTreeHead latest, LatestOf(checkpointer_));
        ASSIGN_OR_RETURN(int64_t size,
                         TreeSize("tree_size", request->tree_size(), latest));
        const tlog::HashReader read = storage::TreeHashReader(*log_);
        RETURN_IF_ERROR(ProveInclusion("position", request->position(), size,
                                       read, response));
        FillIfLatest(size, latest, checkpointer_->signer().name, response);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* AuditService::InclusionProofs(
    grpc::CallbackServerContext* context,
    const v1::InclusionProofsRequest* request,
    v1::InclusionProofsResponse* response) {
  return RunQuery(
      context, *request, pool_,
      [this, request, response](const v1::Actor&) -> absl::Status {
        if (request->positions().empty() ||
            request->positions_size() > kMaxInclusionProofs) {
          return absl::InvalidArgumentError(
              absl::StrCat("positions: 1 to ", kMaxInclusionProofs,
                           " per call, not ", request->positions_size()));
        }
        ASSIGN_OR_RETURN(SignedTreeHead latest, LatestOf(checkpointer_));
        ASSIGN_OR_RETURN(int64_t size,
                         TreeSize("tree_size", request->tree_size(), latest));
        const tlog::HashReader read = storage::TreeHashReader(*log_);
        for (int i = 0; i < request->positions_size(); ++i) {
          RETURN_IF_ERROR(ProveInclusion(absl::StrCat("positions[", i, "]"),
                                         request->positions(i), size, read,
                                         response->add_proofs()));
        }
        FillIfLatest(size, latest, checkpointer_->signer().name, response);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* AuditService::ConsistencyProof(
    grpc::CallbackServerContext* context,
    const v1::ConsistencyProofRequest* request,
    v1::ConsistencyProofResponse* response) {
  return RunQuery(
      context, *request, pool_,
      [this, request, response](const v1::Actor&) -> absl::Status {
        ASSIGN_OR_RETURN(SignedTreeHead latest, LatestOf(checkpointer_));
        ASSIGN_OR_RETURN(int64_t new_size,
                         TreeSize("new_size", request->new_size(), latest));
        if (request->old_size() > static_cast<uint64_t>(new_size)) {
          return absl::InvalidArgumentError(
              absl::StrCat("old_size: ", request->old_size(),
                           " is larger than new_size (", new_size, ")"));
        }
        const int64_t old_size = static_cast<int64_t>(request->old_size());
        const tlog::HashReader read = storage::TreeHashReader(*log_);
        ASSIGN_OR_RETURN(std::vector<tlog::Hash> path,
                         tlog::ConsistencyProof(old_size, new_size, read));
        ASSIGN_OR_RETURN(tlog::Hash old_root, tlog::TreeHash(old_size, read));
        ASSIGN_OR_RETURN(tlog::Hash new_root, tlog::TreeHash(new_size, read));
        response->set_old_size(static_cast<uint64_t>(old_size));
        response->set_new_size(static_cast<uint64_t>(new_size));
        AddHashes(path, response->mutable_path());
        response->set_old_root_hash(tlog::HashBytes(old_root));
        response->set_new_root_hash(tlog::HashBytes(new_root));
        FillIfLatest(new_size, latest, checkpointer_->signer().name, response);
        return absl::OkStatus();
      });
}

absl::Status AuditService::AddReceipts(v1::SubjectAccessPack* pack) {
  if (checkpointer_ == nullptr) return absl::OkStatus();
  uint64_t last = 0;
  for (const v1::AuditEntry& entry : pack->trail()) {
    if (entry.has_disclosure()) last = entry.event().position();
  }
  if (last == 0) return absl::OkStatus();
  ASSIGN_OR_RETURN(SignedTreeHead head, checkpointer_->AtLeast(last));
  const tlog::HashReader read = storage::TreeHashReader(*log_);
  for (const v1::AuditEntry& entry : pack->trail()) {
    if (!entry.has_disclosure()) continue;
    tlog::Proof proof;
    proof.index = static_cast<int64_t>(entry.event().position()) - 1;
    ASSIGN_OR_RETURN(proof.path,
                     tlog::InclusionProof(proof.index, head.size, read));
    ASSIGN_OR_RETURN(std::vector<tlog::Hash> leaf,
                     read({tlog::StoredHashIndex(0, proof.index)}));
    proof.extra = tlog::HashBytes(leaf.at(0));
    proof.checkpoint = head.note;
    v1::Receipt* receipt = pack->add_receipts();
    receipt->set_position(entry.event().position());
    receipt->set_tlog_proof(tlog::FormatProof(proof));
  }
  return absl::OkStatus();
}

}  // namespace ycr::services
