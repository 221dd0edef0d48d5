#pragma once

// ReplicatedEventLog: the EventLog contract on an etcd cluster (issue 17).
//
// Every node holds the whole log in its own RocksDB store (in replicated
// mode: storage/replicated_commit.h) and applies, in order, only what it
// reads back from etcd (ReplicatedLogFollower), the leader included; each
// entry goes into the store with the node's checkpoint in one synced write.
//
// One node leads at a time (LeaderLease: v3election on a lease). Only the
// leader decides appends: its log's writer decides a group commit, hands it
// here (Commit), and it is written as entries by a fenced
// ReplicatedLogWriter; an append is acknowledged only once its entry is
// committed in etcd (on a majority) AND applied to the leader's own store
// (read-your-writes). A node that does not lead refuses appends with
// UNAVAILABLE naming the leader's address; a leader deposed (its lease
// lost, or a fenced transaction refused) stops deciding at once and
// campaigns again. Reads are the local store's, on every node.
//
// A node whose follower finds an entry that does not continue its log
// (DATA_LOSS), or that lost entries etcd no longer has (OUT_OF_RANGE),
// stops applying and deciding for good; reads of what it holds go on.
//
// etcd holds only the tail: each node publishes what it applied, and the
// leader deletes the entries every node has applied and compacts etcd's
// history (log_trimmer.h).

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/log.h"
#include "replication/commit_metrics.h"
#include "replication/etcd_client.h"
#include "replication/leader_lease.h"
#include "replication/replicated_log_follower.h"
#include "replication/replicated_log_writer.h"
#include "storage/cluster_node.h"
#include "storage/event_log.h"
#include "storage/replicated_commit.h"
#include "storage/rocksdb_event_log.h"

namespace ycr::replication {

struct ReplicatedEventLogOptions {
  // etcd's client endpoints, host:port.
  std::vector<std::string> endpoints;
  // TLS to etcd (plain text when it has no CA).
  EtcdTls etcd_tls;
  // This node's name, unique in the cluster: it publishes what it applied
  // under it (log_trimmer.h). Required.
  std::string node_id;
  // How often the leader deletes from etcd the entries every node has
  // applied and compacts etcd's history (log_trimmer.h). Zero: never.
  absl::Duration trim_interval = absl::Seconds(5);
  // This node's address for clients (posted while it leads).
  std::string advertise;
  // Keys in etcd: the log's prefix and the election's name.
  std::string prefix = "/ycr/log";
  std::string election = "/ycr/leader";
  // The leader's lease: how long a silent leader keeps leadership.
  absl::Duration lease_ttl = absl::Seconds(5);
  // How long a backup's hold keeps etcd's entries after the backup's head
  // for a node restored from it (HoldForBackup; log_trimmer.h).
  absl::Duration backup_hold = absl::Hours(24);
  // How long an append waits for its entry to be applied here once etcd
  // has it, and a new leader for its store to catch up, before UNAVAILABLE.
  absl::Duration apply_timeout = absl::Seconds(10);
  // The local store (path, limits, clock, ...). `replication` is set here;
  // cluster_kek must be set (kClusterKekBytes).
  storage::RocksDbEventLogOptions log;
  // Not owned. Default: the local log's logger or standard error.
  Logger* logger = nullptr;
  // Failure injection for tests: called on the follower's thread before it
  // applies each entry (it may block, holding this node's log back).
  std::function<void()> before_apply;
};

class ReplicatedEventLog : public storage::EventLog,
                           public storage::ClusterNode,
                           private storage::ReplicatedCommit {
 public:
  // Opens the local store, connects to etcd, starts following from the
  // store's checkpoint and campaigning. FAILED_PRECONDITION when the store
  // holds records but no checkpoint (not a replicated node's store).
  static absl::StatusOr<std::unique_ptr<ReplicatedEventLog>> Open(
      ReplicatedEventLogOptions options);
  ~ReplicatedEventLog() override;

  void AppendAsync(storage::AppendRequest request,
                   storage::AppendCallback done) override;
  absl::StatusOr<storage::StreamSlice> ReadStream(
      absl::string_view stream,
      const storage::ReadStreamOptions& options) override {
    return local_->ReadStream(stream, options);
  }
  absl::StatusOr<storage::LogSlice> ReadAll(
      uint64_t from_position, uint32_t limit,
      const storage::LogFilter& filter) override {
    return local_->ReadAll(from_position, limit, filter);
  }
  absl::Status ForEach(
      uint64_t from_position, uint64_t limit,
      absl::FunctionRef<absl::Status(const v1::RecordedEvent&)> visit,
      uint64_t* next_position) override {
    return local_->ForEach(from_position, limit, visit, next_position);
  }
  absl::StatusOr<std::optional<uint64_t>> LookupEventId(
      absl::string_view event_id) override {
    return local_->LookupEventId(event_id);
  }
  absl::StatusOr<std::optional<std::string>> GetRecord(
      absl::string_view key) override {
    return local_->GetRecord(key);
  }
  absl::Status RevealPersonal(v1::RecordedEvent* event) override {
    return local_->RevealPersonal(event);
  }
  absl::StatusOr<std::vector<tlog::Hash>> ReadTreeHashes(
      absl::Span<const int64_t> indexes) override {
    return local_->ReadTreeHashes(indexes);
  }
  absl::StatusOr<std::string> ReadLeaf(uint64_t position) override {
    return local_->ReadLeaf(position);
  }
  storage::Head GetHead() override { return local_->GetHead(); }
  // etcd's head, read linearizably (one read shared by the calls that
  // arrive while another is in flight, never one that began before the
  // call; within a second of a failed read, that failure at once), once
  // this node has applied it; on every node, the leader
  // included (a lease is not trusted for reads: a paused leader may not
  // know it lost it). UNAVAILABLE when etcd cannot be read or this node
  // stopped applying (the cause goes to the server's log). The read runs
  // on a thread of its own: each caller stops waiting at its own deadline
  // or cancellation, even while the read is still in flight. A
  // min_position past etcd's head is refused as soon as the head is read.
  absl::StatusOr<uint64_t> AwaitCurrent(
      const storage::AwaitCurrentOptions& options) override;
  uint64_t WatchHead(uint64_t position, storage::WatchCallback ready) override {
    return local_->WatchHead(position, std::move(ready));
  }
  bool CancelWatch(uint64_t id) override { return local_->CancelWatch(id); }
  absl::Status VerifyChain(uint64_t from, uint64_t to) override {
    return local_->VerifyChain(from, to);
  }
  void Close() override;

  // The local store (projections, the access log, backups share it).
  storage::RocksDbEventLog& local() { return *local_; }
  // Whether this node leads now (and may decide).
  bool leading();
  // The leader's address as last seen ("" when unknown).
  std::string leader_address();
  // OK while the node follows; the error that stopped it for good.
  absl::Status follower_state();

  // storage::ClusterNode. Not ready until the store holds etcd's log as it
  // was when this node started (a node restored from a backup catching
  // up), or once its follower stopped for good.
  storage::ClusterRole role() override;
  void SetRoleListener(
      std::function<void(storage::ClusterRole)> listener) override;
  // Holds etcd's trimming back at `position` for options.backup_hold
  // (log_trimmer.h HoldForBackup).
  absl::Status HoldForBackup(absl::string_view name,
                             uint64_t position) override;
  // A ReplicatedAccessLog (replicated_access_log.h) on this node's client.
  absl::StatusOr<std::unique_ptr<storage::AccessLogStore>> ClusterAccessLog(
      std::unique_ptr<storage::AccessLogStore> local) override;

 private:
  explicit ReplicatedEventLog(ReplicatedEventLogOptions options);

  // storage::ReplicatedCommit, on the local log's writer thread.
  absl::Status Prepare() override;
  storage::ReplicatedCommitResult Commit(
      const std::vector<v1::ReplicatedAppend>& appends) override;

  // Waits until the local store has applied `position`; false at the
  // timeout (apply_timeout, or `deadline`), once `cancel` (may be null) is
  // cancelled, or on close.
  bool WaitApplied(uint64_t position);
  bool WaitApplied(uint64_t position, absl::Time deadline,
                   const storage::CancelSignal* cancel);
  // The last position in etcd's log (its head key), read at or after the
  // call began: one linearizable read per round, shared (see AwaitCurrent),
  // read by the round thread; the caller waits for it until `deadline` or
  // `cancel` (may be null).
  absl::StatusOr<uint64_t> EtcdHead(absl::Time deadline,
                                    const storage::CancelSignal* cancel);
  absl::StatusOr<uint64_t> ReadEtcdHead();
  // The round thread: reads etcd's head whenever a caller wants a round.
  void RoundLoop();
  // UNAVAILABLE for a node that does not lead, naming the leader.
  absl::Status NotLeader(absl::string_view why);
  // Drops leadership after a deposition (the campaign thread campaigns
  // again).
  void Depose(const absl::Status& why);
  void FollowLoop();
  void CampaignLoop();
  // While leading: trims etcd's tail when trim_interval has passed.
  void MaybeTrim();
  // Calls the role listener if the role changed since it was last told.
  void NotifyRole();
  // The follower's thread: marks the node ready once it has applied what
  // etcd held when it started.
  void CheckReady();

  ReplicatedEventLogOptions options_;
  Logger* logger_ = nullptr;
  std::unique_ptr<EtcdClient> client_;
  std::unique_ptr<CommitMetrics> metrics_;  // Uses client_.
  std::unique_ptr<storage::RocksDbEventLog> local_;
  std::unique_ptr<ReplicatedLogFollower> follower_;
  std::thread follow_thread_;
  std::thread campaign_thread_;

  absl::Mutex mu_;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  std::unique_ptr<LeaderLease> lease_ ABSL_GUARDED_BY(mu_);
  // Counts leaderships won: a writer belongs to one.
  uint64_t term_ ABSL_GUARDED_BY(mu_) = 0;
  std::string leader_address_ ABSL_GUARDED_BY(mu_);
  absl::Status follower_state_ ABSL_GUARDED_BY(mu_);
  // The writer's thread only: the fenced writer of this leadership.
  std::unique_ptr<ReplicatedLogWriter> writer_;
  uint64_t writer_term_ = 0;
  // The follower's thread only: the position last published as applied.
  uint64_t published_ = 0;
  bool published_once_ = false;
  // The follower's thread only: etcd's head position when first read.
  std::optional<uint64_t> ready_target_;
  std::atomic<bool> ready_{false};
  absl::Mutex role_mu_;
  std::function<void(storage::ClusterRole)> role_listener_
      ABSL_GUARDED_BY(role_mu_);
  std::optional<storage::ClusterRole> told_role_ ABSL_GUARDED_BY(role_mu_);
  // EtcdHead's rounds: numbered from 1; one in flight at a time, on
  // round_thread_, while rounds_wanted_ is ahead of rounds_started_.
  absl::Mutex round_mu_;
  uint64_t rounds_wanted_ ABSL_GUARDED_BY(round_mu_) = 0;
  uint64_t rounds_started_ ABSL_GUARDED_BY(round_mu_) = 0;
  uint64_t rounds_finished_ ABSL_GUARDED_BY(round_mu_) = 0;
  bool rounds_closing_ ABSL_GUARDED_BY(round_mu_) = false;
  std::thread round_thread_;
  absl::StatusOr<uint64_t> round_head_ ABSL_GUARDED_BY(round_mu_) = 0;
  absl::Time round_finished_at_ ABSL_GUARDED_BY(round_mu_);
  // The campaign thread only: when the tail was last trimmed.
  absl::Time trimmed_at_ = absl::InfinitePast();
  std::atomic<bool> closed_{false};
};

}  // namespace ycr::replication
