#pragma once

// The replicated commit's metrics on a node's /metrics (issue 17): the
// fenced etcd transactions its writer makes (time, entries and events in
// each, failed and fenced ones), what the node has applied (position and
// etcd revision), how far that is behind etcd's head, and its role. The
// writer and the follower report through these calls; the gauges are read
// when /metrics is scraped.
//
//   ycr_replication_txn_seconds         histogram, one fenced transaction
//   ycr_replication_txn_entries         histogram, entries per transaction
//   ycr_replication_txn_events          histogram, events per transaction
//   ycr_replication_txn_failed_total    no answer, or refused by etcd
//   ycr_replication_txn_fenced_total    a compare did not hold (deposed)
//   ycr_replication_apply_seconds       one entry applied here (its checks
//                                       and the synced local write)
//   ycr_replication_applied_position    the last position applied here
//   ycr_replication_applied_revision    the etcd revision of that entry
//   ycr_replication_etcd_head_position  the log's head in etcd (polled)
//   ycr_replication_etcd_revision       etcd's revision (polled)
//   ycr_replication_lag_positions       head in etcd less applied here
//   ycr_replication_role{role=...}      1 for this node's role, else 0

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/metrics.h"
#include "replication/etcd_client.h"
#include "storage/cluster_node.h"
#include "ycr/v1/replication.pb.h"

namespace ycr::replication {

class CommitMetrics {
 public:
  // `registry` (may be null: nothing registered) must outlive this object
  // or stop rendering first. With `client` (may be null), polls
  // <prefix>/head every `poll` on a thread of its own for etcd's head.
  CommitMetrics(MetricRegistry* registry, EtcdClient* client,
                std::string prefix, absl::Duration poll = absl::Seconds(1));
  // Stops polling.
  ~CommitMetrics();
  CommitMetrics(const CommitMetrics&) = delete;
  CommitMetrics& operator=(const CommitMetrics&) = delete;

  // One fenced transaction begun at `start` (now ended) carrying `entries`
  // entries of `events` events in all, and its outcome.
  void Transaction(absl::Time start, size_t entries, size_t events,
                   const absl::StatusOr<TxnOutcome>& outcome);
  // As above, for one entry.
  void Transaction(absl::Time start, const v1::ReplicatedEntry& entry,
                   const absl::StatusOr<TxnOutcome>& outcome);
  // The node applied up to `position`, an entry of etcd revision `revision`.
  void Applied(uint64_t position, int64_t revision);
  // One entry applied here, in `seconds`.
  void ApplyTime(double seconds);
  void Role(storage::ClusterRole role);

 private:
  struct State;
  void PollLoop();

  std::shared_ptr<State> state_;
  EtcdClient* const client_;
  const std::string prefix_;
  const absl::Duration poll_;
  Histogram* seconds_ = nullptr;
  Histogram* entries_ = nullptr;
  Histogram* events_ = nullptr;
  Counter* failed_ = nullptr;
  Counter* fenced_ = nullptr;
  Histogram* apply_seconds_ = nullptr;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread poller_;
};

// Null-safe: `metrics` may be null.
inline void RecordTransaction(CommitMetrics* metrics, absl::Time start,
                              const v1::ReplicatedEntry& entry,
                              const absl::StatusOr<TxnOutcome>& outcome) {
  if (metrics != nullptr) metrics->Transaction(start, entry, outcome);
}

}  // namespace ycr::replication
