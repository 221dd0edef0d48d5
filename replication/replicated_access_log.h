#pragma once

// The access log of a cluster (issue 17): who read whose personal data, on
// whichever node served the read, in every node's own access-log store and
// as durable as the replicated log's entries.
//
// A node's AccessRecorder (services/security/access_log.h) flushes its
// queue through this store: each flush becomes one or more batches (an
// ycr.v1.AccessLogPage of entries, at most kMaxAccessBatchBytes), each put
// in etcd under <prefix>/access/batch/<node id>/<time>-<random>; the flush
// is done only once etcd has committed them (on a majority of members, each
// synced). Every node, the writer included, applies every batch it reads
// back from etcd into its own store, in etcd's revision order, with the
// revision as the store's mark in the same synced write
// (AccessLogStore::WriteReplicated), so a restart goes on from its mark and
// applies each batch once. Each node publishes its mark under
// <prefix>/access/applied/<node id> (log_trimmer.h's PublishApplied), and the
// leader deletes the batches every published node has applied
// (TrimAccessBatches). Reads of the access log are the local store's.
//
// When etcd cannot take a flush, the flush fails (UNAVAILABLE) and the
// recorder keeps its entries queued and refuses further reads of personal
// data until a flush succeeds (access_log.h): a node never serves reads it
// cannot log cluster-wide.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/log.h"
#include "replication/etcd_client.h"
#include "storage/access_log_store.h"

namespace ycr::replication {

// A batch's largest size in etcd (a flush of more is split).
inline constexpr size_t kMaxAccessBatchBytes = 512 * 1024;

// <prefix>/access: the prefix of the batches and of the nodes' marks.
std::string AccessPrefix(absl::string_view prefix);

// Deletes from etcd the access batches every node that published a mark
// under AccessPrefix(prefix) has applied. The number deleted.
absl::StatusOr<int64_t> TrimAccessBatches(EtcdClient& client,
                                          absl::string_view prefix);

struct ReplicatedAccessLogOptions {
  // Not owned; must outlive the store.
  EtcdClient* client = nullptr;
  // The replicated log's prefix (ReplicatedEventLogOptions::prefix).
  std::string prefix;
  std::string node_id;
  // How long a flush waits for its batches to be applied here (so that an
  // auditor on this node sees them) before it returns OK anyway: they are
  // durable in etcd and applied when the node catches up.
  absl::Duration apply_wait = absl::Seconds(2);
  // Not owned; may be null.
  Logger* logger = nullptr;
};

class ReplicatedAccessLog : public storage::AccessLogStore {
 public:
  // Reads `local`'s mark and starts applying etcd's batches after it.
  static absl::StatusOr<std::unique_ptr<ReplicatedAccessLog>> Start(
      ReplicatedAccessLogOptions options,
      std::unique_ptr<storage::AccessLogStore> local);
  // Stops applying.
  ~ReplicatedAccessLog() override;

  // Puts the entries in etcd as batches; OK once etcd has them all. On
  // UNAVAILABLE, `*entries` holds those not put (a batch whose put got no
  // answer is among them: if it did land it is applied, and its retry is a
  // second copy of those entries, never a loss).
  absl::Status Write(std::vector<v1::AccessLogEntry>* entries) override;
  absl::StatusOr<storage::AccessPage> ListBySubject(
      absl::string_view subject_id, const storage::AccessTimeRange& range,
      const std::optional<storage::AccessCursor>& start,
      size_t limit) override {
    return local_->ListBySubject(subject_id, range, start, limit);
  }
  absl::StatusOr<storage::AccessPage> ListByReader(
      absl::string_view organisation, absl::string_view user,
      const storage::AccessTimeRange& range,
      const std::optional<storage::AccessCursor>& start,
      size_t limit) override {
    return local_->ListByReader(organisation, user, range, start, limit);
  }

  // The etcd revision of the last batch applied here.
  int64_t mark();
  // Stops applying (idempotent); Write still puts into etcd.
  void Stop();

 private:
  ReplicatedAccessLog(ReplicatedAccessLogOptions options,
                      std::unique_ptr<storage::AccessLogStore> local,
                      int64_t mark);
  void ApplyLoop();
  // Applies the batches in etcd after the mark; `read_at`: the revision
  // read at.
  absl::Status CatchUp(int64_t* read_at);
  // Applies one batch (retried until it is written or Stop()).
  void Apply(const KeyValue& kv);
  void MaybePublish();
  // Waits up to `timeout` for Stop(); whether it came.
  bool StoppedWithin(absl::Duration timeout);

  const ReplicatedAccessLogOptions options_;
  Logger* logger_;
  std::unique_ptr<storage::AccessLogStore> local_;
  absl::Mutex mu_;
  int64_t mark_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // The apply thread only.
  int64_t published_ = -1;
  absl::Time published_at_ = absl::InfinitePast();
  std::thread applier_;
};

}  // namespace ycr::replication
