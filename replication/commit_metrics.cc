#include "replication/commit_metrics.h"

#include <utility>
#include <vector>

#include "absl/time/clock.h"
#include "replication/replicated_entry.h"

namespace ycr::replication {

struct CommitMetrics::State {
  std::atomic<uint64_t> applied_position{0};
  std::atomic<int64_t> applied_revision{0};
  std::atomic<uint64_t> head_position{0};
  std::atomic<int64_t> etcd_revision{0};
  std::atomic<int> role{static_cast<int>(storage::ClusterRole::kNotReady)};
};

CommitMetrics::CommitMetrics(MetricRegistry* registry, EtcdClient* client,
                             std::string prefix, absl::Duration poll)
    : state_(std::make_shared<State>()),
      client_(client),
      prefix_(std::move(prefix)),
      poll_(poll) {
  if (registry == nullptr) return;
  seconds_ = registry->GetHistogram(
      "ycr_replication_txn_seconds",
      "Time of one fenced etcd transaction of the replicated log (the "
      "leader's writer), until etcd answered.",
      ExponentialBuckets(0.0005, 2, 16));
  entries_ =
      registry->GetHistogram("ycr_replication_txn_entries",
                             "Replicated entries per fenced etcd transaction.",
                             ExponentialBuckets(1, 2, 8));
  events_ =
      registry->GetHistogram("ycr_replication_txn_events",
                             "Events (records) per fenced etcd transaction.",
                             ExponentialBuckets(1, 2, 14));
  failed_ = registry->GetCounter(
      "ycr_replication_txn_failed_total",
      "Fenced transactions etcd did not answer or refused (their outcome "
      "settled by the writer's recovery).");
  fenced_ = registry->GetCounter(
      "ycr_replication_txn_fenced_total",
      "Fenced transactions whose compare did not hold: another writer moved "
      "the head or the leader key changed; the writer was deposed.");
  apply_seconds_ = registry->GetHistogram(
      "ycr_replication_apply_seconds",
      "Time to apply one replicated entry on this node: its checks and the "
      "synced local write.",
      ExponentialBuckets(0.0001, 2, 16));
  std::shared_ptr<State> state = state_;
  auto gauge = [registry, state](const std::string& name,
                                 const std::string& help, auto read) {
    registry->AddGaugeFamily(name, help, [state, read] {
      return std::vector<GaugeSample>{{{}, static_cast<double>(read(*state))}};
    });
  };
  gauge("ycr_replication_applied_position",
        "The last position of the replicated log applied on this node.",
        [](State& s) { return s.applied_position.load(); });
  gauge("ycr_replication_applied_revision",
        "The etcd revision of the last replicated entry applied here.",
        [](State& s) { return s.applied_revision.load(); });
  gauge("ycr_replication_etcd_head_position",
        "The replicated log's last position in etcd (polled each second).",
        [](State& s) { return s.head_position.load(); });
  gauge("ycr_replication_etcd_revision",
        "etcd's revision when its head was last polled.",
        [](State& s) { return s.etcd_revision.load(); });
  gauge("ycr_replication_lag_positions",
        "Positions in etcd's log not yet applied on this node (0: caught up "
        "as of the last poll).",
        [](State& s) {
          const uint64_t head = s.head_position.load();
          const uint64_t applied = s.applied_position.load();
          return head > applied ? head - applied : 0;
        });
  registry->AddGaugeFamily(
      "ycr_replication_role",
      "1 for this node's role in the cluster (leader, follower, not_ready), "
      "0 for the others.",
      [state] {
        std::vector<GaugeSample> samples;
        for (storage::ClusterRole role :
             {storage::ClusterRole::kLeader, storage::ClusterRole::kFollower,
              storage::ClusterRole::kNotReady}) {
          samples.push_back(
              {{{"role", storage::ClusterRoleName(role)}},
               state->role.load() == static_cast<int>(role) ? 1.0 : 0.0});
        }
        return samples;
      });
  if (client_ != nullptr) poller_ = std::thread([this] { PollLoop(); });
}

CommitMetrics::~CommitMetrics() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (poller_.joinable()) poller_.join();
}

void CommitMetrics::Transaction(absl::Time start, size_t entries, size_t events,
                                const absl::StatusOr<TxnOutcome>& outcome) {
  if (seconds_ == nullptr) return;
  seconds_->Observe(absl::ToDoubleSeconds(absl::Now() - start));
  entries_->Observe(static_cast<double>(entries));
  events_->Observe(static_cast<double>(events));
  if (!outcome.ok()) {
    failed_->Increment();
  } else if (!outcome->succeeded) {
    fenced_->Increment();
  }
}

void CommitMetrics::Transaction(absl::Time start,
                                const v1::ReplicatedEntry& entry,
                                const absl::StatusOr<TxnOutcome>& outcome) {
  size_t events = 0;
  for (const v1::ReplicatedAppend& append : entry.appends()) {
    events += append.records_size();
  }
  Transaction(start, 1, events, outcome);
}

void CommitMetrics::Applied(uint64_t position, int64_t revision) {
  state_->applied_position.store(position);
  state_->applied_revision.store(revision);
}

void CommitMetrics::ApplyTime(double seconds) {
  if (apply_seconds_ != nullptr) apply_seconds_->Observe(seconds);
}

void CommitMetrics::Role(storage::ClusterRole role) {
  state_->role.store(static_cast<int>(role));
}

void CommitMetrics::PollLoop() {
  const std::string head_key = HeadKey(prefix_);
  while (true) {
    absl::StatusOr<etcdserverpb::RangeResponse> head =
        client_->Range(head_key, "");
    if (head.ok()) {
      state_->etcd_revision.store(head->header().revision());
      v1::ReplicatedHead parsed;
      if (head->kvs_size() > 0 &&
          parsed.ParseFromString(head->kvs(0).value())) {
        state_->head_position.store(parsed.last_position());
      }
    }
    absl::MutexLock lock(&mu_);
    if (mu_.AwaitWithTimeout(absl::Condition(&stopping_), poll_)) return;
  }
}

}  // namespace ycr::replication
