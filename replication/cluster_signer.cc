#include "replication/cluster_signer.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace ycr::replication {

std::string ClusterSignerKey(absl::string_view prefix) {
  return absl::StrCat(prefix, "/tlog-signer");
}

absl::Status ClaimClusterSigner(EtcdClient& client, absl::string_view prefix,
                                absl::string_view verifier_key) {
  const std::string key = ClusterSignerKey(prefix);
  etcdserverpb::TxnRequest txn;
  *txn.add_compare() = CreateRevisionIs(key, 0);
  *txn.add_success() = PutOp(key, verifier_key);
  *txn.add_failure() = RangeOp(key);
  ASSIGN_OR_RETURN(TxnOutcome outcome, client.TxnDecide(txn));
  if (outcome.succeeded) return absl::OkStatus();
  const auto& range = outcome.response.responses(0).response_range();
  if (range.kvs_size() > 0 && range.kvs(0).value() == verifier_key) {
    return absl::OkStatus();
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "--tlog_key: this cluster's checkpoints are signed by ",
      range.kvs_size() > 0 ? range.kvs(0).value() : "(none)",
      ", not by this node's key (", verifier_key,
      "); every node of a cluster signs with the same key: give each the "
      "same --tlog_key file"));
}

}  // namespace ycr::replication
