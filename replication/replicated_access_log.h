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
// Each batch sits in etcd sealed (AES-256-GCM) under the cluster
// key-encryption key, the key that wraps subject keys (cluster_kek.h), with
// a fresh nonce and the batch's etcd key as associated data: etcd and its
// backups hold no reader, organisation or subject id in clear. A batch that
// does not open (tampered with, moved to another key, sealed under another
// cluster key, or written in clear) is not passed over: the node stops
// applying at it, logs replication.access_batch_refused naming its key, and
// answers reads of its access log with DATA_LOSS until the batch is gone
// from etcd (it retries every second), so an auditor is never shown an
// access log with a hole in it as if it were whole.
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
#include "ycr/v1/access_log_service.pb.h"

namespace ycr::replication {

// A batch's largest size in etcd (a flush of more is split).
inline constexpr size_t kMaxAccessBatchBytes = 512 * 1024;

// A batch's value in etcd: kSealedAccessBatch, the cluster key's id
// (storage::ClusterKekId), the nonce, then the ycr.v1.AccessLogPage sealed
// under `kek` with `key` (the batch's etcd key) as associated data.
inline constexpr char kSealedAccessBatch[] = "ycr.access.sealed.v1:";
absl::StatusOr<std::string> SealAccessBatch(absl::string_view kek,
                                            absl::string_view key,
                                            const v1::AccessLogPage& page);
// The page in a value SealAccessBatch made for `key`. DATA_LOSS when it is
// not sealed, is malformed or does not authenticate (tampered with, or
// moved from another key); FAILED_PRECONDITION when another cluster key
// sealed it.
absl::StatusOr<v1::AccessLogPage> OpenAccessBatch(absl::string_view kek,
                                                  absl::string_view key,
                                                  absl::string_view value);

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
  // The cluster key-encryption key (storage::kClusterKekBytes) the batches
  // are sealed under.
  std::string kek;
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
      const std::optional<storage::AccessCursor>& start, size_t limit) override;
  absl::StatusOr<storage::AccessPage> ListByReader(
      absl::string_view organisation, absl::string_view user,
      const storage::AccessTimeRange& range,
      const std::optional<storage::AccessCursor>& start, size_t limit) override;
  absl::StatusOr<int64_t> ReplicatedMark() override { return mark(); }

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
  // Applies one batch (retried until it is written or Stop()). The batch's
  // error when it does not open: applying stops there (Refuse).
  absl::Status Apply(const KeyValue& kv);
  // Records that the batch `key` does not open (logged once per batch).
  absl::Status Refuse(const std::string& key, const absl::Status& why);
  // OK, or the DATA_LOSS reads of the access log get while a batch that
  // does not open holds applying back.
  absl::Status Whole();
  bool refused();
  void MaybePublish();
  // Waits up to `timeout` for Stop(); whether it came.
  bool StoppedWithin(absl::Duration timeout);

  const ReplicatedAccessLogOptions options_;
  Logger* logger_;
  std::unique_ptr<storage::AccessLogStore> local_;
  absl::Mutex mu_;
  int64_t mark_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // The batch that does not open, while applying is held at it.
  std::string refused_ ABSL_GUARDED_BY(mu_);
  // The apply thread only.
  int64_t published_ = -1;
  absl::Time published_at_ = absl::InfinitePast();
  std::thread applier_;
};

}  // namespace ycr::replication
