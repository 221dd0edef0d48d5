#pragma once

// One transparency-log signer for a cluster (issue 17): every node signs
// the checkpoints of the same log, so every node must sign with the same
// key (--tlog_key, the same file on every node, like --cluster_kek), or
// verifiers would see one log under several keys. The first node to start
// records the key's verifier key (public: the key's name, id and public
// key) in etcd under <prefix>/tlog-signer; a node whose key differs is
// refused before it serves.

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "replication/etcd_client.h"

namespace ycr::replication {

// <prefix>/tlog-signer.
std::string ClusterSignerKey(absl::string_view prefix);

// Records `verifier_key` as the cluster's signer when none is recorded;
// OK when it is the one recorded. FAILED_PRECONDITION naming --tlog_key
// when another key is recorded; the etcd client's errors (UNAVAILABLE).
absl::Status ClaimClusterSigner(EtcdClient& client, absl::string_view prefix,
                                absl::string_view verifier_key);

}  // namespace ycr::replication
