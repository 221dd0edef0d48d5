#include "replication/log_trimmer.h"

#include <algorithm>
#include <limits>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "replication/replicated_entry.h"

namespace ycr::replication {
namespace {

std::string AppliedPrefix(absl::string_view prefix) {
  return absl::StrCat(prefix, "/applied/");
}

}  // namespace

std::string AppliedKey(absl::string_view prefix, absl::string_view node_id) {
  return absl::StrCat(AppliedPrefix(prefix), node_id);
}

absl::Status PublishApplied(EtcdClient& client, absl::string_view prefix,
                            absl::string_view node_id, uint64_t position) {
  etcdserverpb::TxnRequest txn;
  *txn.add_success() =
      PutOp(AppliedKey(prefix, node_id), absl::StrCat(position));
  return client.TxnDecide(txn).status();
}

absl::StatusOr<std::vector<std::pair<std::string, uint64_t>>> ListApplied(
    EtcdClient& client, absl::string_view prefix) {
  const std::string applied = AppliedPrefix(prefix);
  ASSIGN_OR_RETURN(etcdserverpb::RangeResponse nodes,
                   client.Range(applied, PrefixEnd(applied)));
  std::vector<std::pair<std::string, uint64_t>> out;
  for (const mvccpb::KeyValue& kv : nodes.kvs()) {
    uint64_t position = 0;
    if (!absl::SimpleAtoi(kv.value(), &position)) {
      return absl::DataLossError(
          absl::StrCat("replicated log: ", kv.key(), " is not a position"));
    }
    out.emplace_back(kv.key().substr(applied.size()), position);
  }
  return out;
}

std::string BackupHoldName(absl::string_view backup_name) {
  return absl::StrCat("backup:", backup_name);
}

absl::Status HoldForBackup(EtcdClient& client, absl::string_view prefix,
                           absl::string_view backup_name, uint64_t position,
                           absl::Duration ttl) {
  ASSIGN_OR_RETURN(int64_t lease, client.LeaseGrant(ttl));
  etcdserverpb::TxnRequest txn;
  *txn.add_success() = PutOp(AppliedKey(prefix, BackupHoldName(backup_name)),
                             absl::StrCat(position), lease);
  return client.TxnDecide(txn).status();
}

absl::Status ForgetApplied(EtcdClient& client, absl::string_view prefix,
                           absl::string_view name) {
  etcdserverpb::TxnRequest txn;
  *txn.add_success() = DeleteOp(AppliedKey(prefix, name));
  ASSIGN_OR_RETURN(TxnOutcome deleted, client.TxnDecide(txn));
  if (deleted.response.responses(0).response_delete_range().deleted() == 0) {
    return absl::NotFoundError(absl::StrCat(
        "no published position ", AppliedKey(prefix, name), " in etcd"));
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> TrimAppliedEntries(EtcdClient& client,
                                            absl::string_view prefix) {
  ASSIGN_OR_RETURN(auto published, ListApplied(client, prefix));
  if (published.empty()) return 0;
  uint64_t lowest = std::numeric_limits<uint64_t>::max();
  for (const auto& [name, position] : published) {
    lowest = std::min(lowest, position);
  }
  if (lowest == 0) return 0;
  // Entries are applied whole, so `lowest` ends an entry: every entry
  // starting at or before it has been applied by every node.
  etcdserverpb::TxnRequest txn;
  *txn.add_success() =
      DeleteOp(EntriesBegin(prefix), EntryKey(prefix, lowest + 1));
  ASSIGN_OR_RETURN(TxnOutcome deleted, client.TxnDecide(txn));
  const auto& response = deleted.response.responses(0).response_delete_range();
  if (response.deleted() > 0) {
    RETURN_IF_ERROR(client.Compact(deleted.response.header().revision()));
  }
  return lowest;
}

}  // namespace ycr::replication
