#pragma once

// The transparency log from the command line (README "Proving the audit
// trail"): receipts for exports (C2SP tlog-proof, common/tlog_proof.h),
// `ycr audit leaf` (a record's leaf bytes, for an entitled reader) and
// `ycr audit verify` (cli_verify.cc).

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "clients/cli/cli_generic.h"

namespace ycr::cli {

// Whether a receipt may carry the record's leaf bytes.
enum class LeafBytes {
  // Never: the receipt carries the leaf hash only (a subject access pack,
  // which goes to the data subject).
  kNever,
  // When the caller may read the whole stored record (the server's policy
  // table lets it read the raw log: EventStore.ReadAll, auditors);
  // otherwise the leaf hash only.
  kIfEntitled,
};

// One C2SP tlog-proof text per position, all against one signed checkpoint
// that covers every position (signed on demand: Audit.Checkpoint with
// min_tree_size). A leaf read back is checked against the server's leaf
// hash (DATA_LOSS when they differ). The server's errors otherwise.
absl::StatusOr<std::map<uint64_t, std::string>> FetchReceipts(
    const std::shared_ptr<grpc::Channel>& channel, const CallSettings& settings,
    const std::vector<uint64_t>& positions, LeafBytes leaf_bytes);

// The leaf bytes of the record at `position`: read through EventStore.ReadAll
// (PERMISSION_DENIED for callers who may not read the raw log), stored form
// rebuilt (hash empty, personal part sealed).
absl::StatusOr<std::string> FetchLeaf(
    const std::shared_ptr<grpc::Channel>& channel, const CallSettings& settings,
    uint64_t position);

std::string LeafHelp();
// `ycr audit leaf --position P [--output FILE]`: exit 0 ok, 1 refused or
// failed, 2 bad usage.
int Leaf(const std::vector<std::string>& words,
         const std::vector<std::string>& options, Channels& channels,
         const CallSettings& settings, std::ostream& out, std::ostream& err);

std::string VerifyHelp();
// `ycr audit verify`: exit 0 when every check passed, 1 on any failure, 2
// bad usage.
int Verify(const std::vector<std::string>& words,
           const std::vector<std::string>& options, Channels& channels,
           const CallSettings& settings, std::ostream& out, std::ostream& err);

}  // namespace ycr::cli
