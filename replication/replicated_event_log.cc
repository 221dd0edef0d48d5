#include "replication/replicated_event_log.h"

#include <algorithm>
#include <iostream>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/not_leader.h"
#include "common/status_macros.h"
#include "replication/append_errors.h"
#include "replication/log_trimmer.h"
#include "replication/replicated_access_log.h"
#include "replication/replicated_entry.h"
#include "storage/record_codec.h"
#include "ycr/v1/replication.pb.h"

namespace ycr::replication {
namespace {

// Bytes an entry holds besides its records (its framing, the previous
// hash), and a stored record besides its proposed event (actor, stream,
// times, hashes, salt, digest, sealing), generously.
constexpr size_t kEntryOverheadBytes = 4096;
constexpr size_t kRecordOverheadBytes = 1024;

// After a read of etcd's head failed, reads are refused at once for this
// long before another is tried (ReplicatedEventLog::EtcdHead).
constexpr absl::Duration kRetryRoundAfter = absl::Seconds(1);

Logger& DefaultLogger() {
  static Logger* const logger =
      new Logger(&std::cerr, LogFormat::kText, LogLevel::kInfo);
  return *logger;
}

std::string EncodeCheckpoint(const FollowerCheckpoint& c) {
  v1::ReplicationCheckpoint proto;
  proto.set_revision(c.revision);
  proto.set_last_position(c.end.last_position);
  proto.set_last_record_hash(c.end.last_record_hash);
  proto.set_entry_hash(c.entry_hash);
  return proto.SerializeAsString();
}

// The checkpoint stored with the last entry applied to `log`.
absl::StatusOr<FollowerCheckpoint> LoadCheckpoint(
    storage::RocksDbEventLog& log) {
  ASSIGN_OR_RETURN(std::optional<std::string> stored,
                   log.ReplicationCheckpoint());
  const storage::Head head = log.GetHead();
  if (!stored.has_value()) {
    if (head.position != 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "--replication: the store holds ", head.position,
          " records but no replication checkpoint: it is not a replicated "
          "node's store (start from an empty directory or a peer's backup)"));
    }
    return EmptyCheckpoint();
  }
  v1::ReplicationCheckpoint proto;
  if (!proto.ParseFromString(*stored) ||
      proto.last_position() != head.position ||
      proto.last_record_hash() != head.hash) {
    return absl::DataLossError(
        "the store's replication checkpoint does not match its head");
  }
  return FollowerCheckpoint{
      proto.revision(),
      ChainEnd{proto.last_position(), proto.last_record_hash()},
      proto.entry_hash()};
}

}  // namespace

ReplicatedEventLog::ReplicatedEventLog(ReplicatedEventLogOptions options)
    : options_(std::move(options)) {
  logger_ = options_.logger != nullptr       ? options_.logger
            : options_.log.logger != nullptr ? options_.log.logger
                                             : &DefaultLogger();
}

absl::StatusOr<std::unique_ptr<ReplicatedEventLog>> ReplicatedEventLog::Open(
    ReplicatedEventLogOptions options) {
  if (options.endpoints.empty()) {
    return absl::InvalidArgumentError("--replication: no etcd endpoint");
  }
  if (options.node_id.empty()) {
    return absl::InvalidArgumentError("--node_id: required in replicated mode");
  }
  if (options.log.cluster_kek.size() != storage::kClusterKekBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("--cluster_kek: a key of ", storage::kClusterKekBytes,
                     " bytes is needed in replicated mode"));
  }
  std::unique_ptr<ReplicatedEventLog> log(
      new ReplicatedEventLog(std::move(options)));
  EtcdClientOptions client_options;
  client_options.endpoints = log->options_.endpoints;
  client_options.tls = log->options_.etcd_tls;
  ASSIGN_OR_RETURN(log->client_, EtcdClient::Create(client_options));
  log->metrics_ = std::make_unique<CommitMetrics>(
      log->options_.log.metrics, log->client_.get(), log->options_.prefix);
  storage::RocksDbEventLogOptions local_options = log->options_.log;
  local_options.replication = log.get();
  ASSIGN_OR_RETURN(log->local_,
                   storage::RocksDbEventLog::Open(std::move(local_options)));
  absl::StatusOr<FollowerCheckpoint> from = LoadCheckpoint(*log->local_);
  if (!from.ok()) {
    log->local_->Close();
    return from.status();
  }
  log->metrics_->Applied(from->end.last_position, from->revision);
  log->follower_ = std::make_unique<ReplicatedLogFollower>(
      log->client_.get(), log->options_.prefix, *from,
      [l = log.get()](const v1::ReplicatedEntry& entry,
                      const FollowerCheckpoint& after) {
        if (l->options_.before_apply) l->options_.before_apply();
        const absl::Time start = absl::Now();
        absl::Status applied =
            l->local_->ApplyReplicated(entry, EncodeCheckpoint(after));
        if (applied.ok()) {
          l->metrics_->ApplyTime(absl::ToDoubleSeconds(absl::Now() - start));
          l->metrics_->Applied(after.end.last_position, after.revision);
        }
        return applied;
      });
  log->follow_thread_ = std::thread([l = log.get()] { l->FollowLoop(); });
  log->campaign_thread_ = std::thread([l = log.get()] { l->CampaignLoop(); });
  log->round_thread_ = std::thread([l = log.get()] { l->RoundLoop(); });
  return log;
}

ReplicatedEventLog::~ReplicatedEventLog() { Close(); }

void ReplicatedEventLog::Close() {
  if (closed_.exchange(true)) return;
  {
    absl::MutexLock lock(&mu_);
    closing_ = true;
  }
  {
    absl::MutexLock lock(&round_mu_);
    rounds_closing_ = true;
  }
  if (round_thread_.joinable()) round_thread_.join();
  follower_->Stop();
  if (follow_thread_.joinable()) follow_thread_.join();
  // The writer answers what is queued (Prepare refuses: closing).
  local_->Close();
  if (campaign_thread_.joinable()) campaign_thread_.join();
  std::unique_ptr<LeaderLease> lease;
  {
    absl::MutexLock lock(&mu_);
    lease = std::move(lease_);
  }
  lease.reset();  // Resigns: another node may lead at once.
}

void ReplicatedEventLog::FollowLoop() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (closing_) return;
    }
    // What this node applied, for trimming etcd's tail: at most once a
    // second (each Follow below returns within one), and once at start so
    // that a new node holds trimming back from the beginning.
    CheckReady();
    NotifyRole();
    const uint64_t applied = follower_->checkpoint().end.last_position;
    if (!published_once_ || applied > published_) {
      if (PublishApplied(*client_, options_.prefix, options_.node_id, applied)
              .ok()) {
        published_ = applied;
        published_once_ = true;
      }
    }
    absl::Status s =
        follower_->Follow(UINT64_MAX, absl::Now() + absl::Seconds(1));
    if (s.code() == absl::StatusCode::kDeadlineExceeded) continue;
    if (s.code() == absl::StatusCode::kCancelled) return;
    if (!s.ok()) {
      logger_->Log(LogLevel::kError, "replication.follower_stopped",
                   {{"error", std::string(s.message())}});
      {
        absl::MutexLock lock(&mu_);
        follower_state_ = s;
      }
      NotifyRole();
      return;
    }
  }
}

void ReplicatedEventLog::CheckReady() {
  if (ready_) return;
  if (!ready_target_.has_value()) {
    absl::StatusOr<std::optional<KeyValue>> head =
        client_->Get(HeadKey(options_.prefix));
    if (!head.ok()) return;
    v1::ReplicatedHead parsed;
    if (head->has_value() && !parsed.ParseFromString((*head)->value)) return;
    ready_target_ = parsed.last_position();
  }
  if (follower_->checkpoint().end.last_position >= *ready_target_) {
    ready_ = true;
    logger_->Log(LogLevel::kInfo, "replication.ready",
                 {{"position", absl::StrCat(*ready_target_)}});
  }
}

storage::ClusterRole ReplicatedEventLog::role() {
  absl::MutexLock lock(&mu_);
  if (!follower_state_.ok() || !ready_) return storage::ClusterRole::kNotReady;
  if (lease_ != nullptr && lease_->held()) return storage::ClusterRole::kLeader;
  return storage::ClusterRole::kFollower;
}

void ReplicatedEventLog::SetRoleListener(
    std::function<void(storage::ClusterRole)> listener) {
  {
    absl::MutexLock lock(&role_mu_);
    role_listener_ = std::move(listener);
    told_role_.reset();
  }
  NotifyRole();
}

void ReplicatedEventLog::NotifyRole() {
  const storage::ClusterRole now = role();
  absl::MutexLock lock(&role_mu_);
  if (told_role_ == now) return;
  told_role_ = now;
  metrics_->Role(now);
  logger_->Log(LogLevel::kInfo, "replication.role",
               {{"role", storage::ClusterRoleName(now)}});
  if (role_listener_) role_listener_(now);
}

absl::Status ReplicatedEventLog::HoldForBackup(absl::string_view name,
                                               uint64_t position) {
  // The access log's batches too, from the store's mark (the copy holds at
  // least that much of it).
  ASSIGN_OR_RETURN(std::unique_ptr<storage::AccessLogStore> access,
                   local_->NewAccessLogStore());
  ASSIGN_OR_RETURN(int64_t mark, access->ReplicatedMark());
  RETURN_IF_ERROR(replication::HoldForBackup(
      *client_, AccessPrefix(options_.prefix), name,
      static_cast<uint64_t>(mark), options_.backup_hold));
  return replication::HoldForBackup(*client_, options_.prefix, name, position,
                                    options_.backup_hold);
}

absl::StatusOr<std::unique_ptr<storage::AccessLogStore>>
ReplicatedEventLog::ClusterAccessLog(
    std::unique_ptr<storage::AccessLogStore> local) {
  ReplicatedAccessLogOptions access;
  access.client = client_.get();
  access.prefix = options_.prefix;
  access.node_id = options_.node_id;
  access.kek = options_.log.cluster_kek;
  access.logger = logger_;
  ASSIGN_OR_RETURN(
      std::unique_ptr<ReplicatedAccessLog> log,
      ReplicatedAccessLog::Start(std::move(access), std::move(local)));
  return std::unique_ptr<storage::AccessLogStore>(std::move(log));
}

void ReplicatedEventLog::CampaignLoop() {
  while (true) {
    bool was_leading = false;
    bool leading = false;
    {
      absl::MutexLock lock(&mu_);
      if (closing_ || !follower_state_.ok()) return;
      if (lease_ != nullptr && lease_->held()) {
        // Leading: check the lease a few times a TTL.
        was_leading = true;
        mu_.AwaitWithTimeout(absl::Condition(&closing_),
                             options_.lease_ttl / 10);
        leading = !closing_ && lease_ != nullptr && lease_->held();
      }
    }
    if (was_leading) {
      if (leading) MaybeTrim();
      NotifyRole();
      continue;
    }
    if (absl::StatusOr<std::optional<KeyValue>> leader =
            client_->Leader(options_.election);
        leader.ok()) {
      absl::MutexLock lock(&mu_);
      leader_address_ = leader->has_value() ? (*leader)->value : "";
    }
    LeaderLeaseOptions lease_options;
    lease_options.election = options_.election;
    lease_options.value = options_.advertise;
    lease_options.ttl = options_.lease_ttl;
    // Short, so that Close() and the leader's address are seen.
    lease_options.campaign_timeout = absl::Seconds(2);
    absl::StatusOr<std::unique_ptr<LeaderLease>> won =
        LeaderLease::Campaign(client_.get(), lease_options);
    if (!won.ok()) {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(&closing_), absl::Milliseconds(100));
      continue;
    }
    std::unique_ptr<LeaderLease> old;
    {
      absl::MutexLock lock(&mu_);
      old = std::move(lease_);
      lease_ = *std::move(won);
      ++term_;
      leader_address_ = options_.advertise;
    }
    logger_->Log(LogLevel::kInfo, "replication.leading",
                 {{"advertise", options_.advertise}});
    NotifyRole();
  }
}

void ReplicatedEventLog::MaybeTrim() {
  if (options_.trim_interval == absl::ZeroDuration() ||
      absl::Now() - trimmed_at_ < options_.trim_interval) {
    return;
  }
  trimmed_at_ = absl::Now();
  absl::StatusOr<uint64_t> trimmed =
      TrimAppliedEntries(*client_, options_.prefix);
  if (!trimmed.ok()) {
    logger_->Log(LogLevel::kWarning, "replication.trim_failed",
                 {{"error", std::string(trimmed.status().message())}});
  }
  if (absl::StatusOr<int64_t> access =
          TrimAccessBatches(*client_, options_.prefix);
      !access.ok()) {
    logger_->Log(LogLevel::kWarning, "replication.access_trim_failed",
                 {{"error", std::string(access.status().message())}});
  }
}

bool ReplicatedEventLog::leading() {
  absl::MutexLock lock(&mu_);
  return lease_ != nullptr && lease_->held() && follower_state_.ok();
}

std::string ReplicatedEventLog::leader_address() {
  absl::MutexLock lock(&mu_);
  return leader_address_;
}

absl::Status ReplicatedEventLog::follower_state() {
  absl::MutexLock lock(&mu_);
  return follower_state_;
}

void ReplicatedEventLog::AppendAsync(storage::AppendRequest request,
                                     storage::AppendCallback done) {
  // Refused here, before queueing, when this node does not lead; the
  // writer checks again (Prepare) when it takes the append.
  if (!leading()) {
    std::move(done)(NotLeader("this node does not lead"));
    return;
  }
  // An append is never split across entries: one that cannot fit in one
  // is refused before anything is decided. The estimate is generous (a
  // stored record carries the actor, times, hashes and salt besides the
  // proposed event) so that the writer's own check never refuses a batch.
  size_t bytes = kEntryOverheadBytes;
  for (const v1::ProposedEvent& e : request.events) {
    bytes += e.ByteSizeLong() + kRecordOverheadBytes;
  }
  for (const storage::RecordWrite& r : request.records) {
    bytes += r.key.size() + r.value.size() + kRecordOverheadBytes;
  }
  if (bytes > kDefaultMaxEntryBytes) {
    std::move(done)(absl::InvalidArgumentError(absl::StrCat(
        "events: this append is too large for one replicated entry (about ",
        bytes, " bytes, at most ", kDefaultMaxEntryBytes,
        "): split it into several appends")));
    return;
  }
  local_->AppendAsync(std::move(request), std::move(done));
}

absl::Status ReplicatedEventLog::NotLeader(absl::string_view why) {
  std::string leader = leader_address();
  // Deposed, it may still have itself as the last leader it saw.
  if (leader == options_.advertise) leader.clear();
  return NotLeaderError(
      absl::StrCat(
          "not the leader (", why, "): send commands to the leader",
          leader.empty() ? " (none known yet; retry shortly)"
                         : absl::StrCat(" at ", leader),
          "; the outcome of an unacknowledged append is unknown: retry it with "
          "the same event ids"),
      leader);
}

bool ReplicatedEventLog::WaitApplied(uint64_t position) {
  return WaitApplied(position, absl::Now() + options_.apply_timeout,
                     /*cancel=*/nullptr);
}

bool ReplicatedEventLog::WaitApplied(uint64_t position, absl::Time deadline,
                                     const storage::CancelSignal* cancel) {
  struct Applied {
    absl::Mutex mu;
    bool done ABSL_GUARDED_BY(mu) = false;
  };
  auto applied = std::make_shared<Applied>();
  const uint64_t id = local_->WatchHead(position, [applied]() {
    absl::MutexLock lock(&applied->mu);
    applied->done = true;
  });
  if (id == 0) return local_->GetHead().position >= position;
  // A cancellation wakes the wait (its condition reads the signal).
  const uint64_t wake = cancel == nullptr ? 0 : cancel->OnCancel([applied]() {
    absl::MutexLock lock(&applied->mu);
  });
  bool done;
  {
    absl::MutexLock lock(&applied->mu);
    auto ready = [&applied,
                  cancel]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(applied->mu) {
      return applied->done || (cancel != nullptr && cancel->cancelled());
    };
    applied->mu.AwaitWithDeadline(absl::Condition(&ready), deadline);
    done = applied->done;
  }
  if (cancel != nullptr) cancel->Remove(wake);
  if (!done) {
    local_->CancelWatch(id);
    return false;
  }
  return local_->GetHead().position >= position;
}

absl::StatusOr<uint64_t> ReplicatedEventLog::AwaitCurrent(
    const storage::AwaitCurrentOptions& options) {
  // The leader too: a leader paused past its lease (its keep-alive thread
  // not yet run) still believes it leads while another has written, so no
  // node trusts its lease for a read.
  ASSIGN_OR_RETURN(const uint64_t head,
                   EtcdHead(options.deadline, options.cancel));
  // Nothing acknowledged anywhere is past etcd's head: no need to wait.
  if (options.min_position > head) {
    return storage::MinPositionBeyondHead(options.min_position, head);
  }
  if (WaitApplied(head, options.deadline, options.cancel)) return head;
  if (options.cancel != nullptr && options.cancel->cancelled()) {
    return storage::WaitCancelled();
  }
  if (!follower_state().ok()) {
    return absl::UnavailableError(
        "this node stopped applying the cluster's log (the cause is in the "
        "server's log): read from another node");
  }
  return absl::DeadlineExceededError(absl::StrCat(
      "this node has not yet applied the cluster's log up to position ", head,
      ", which this read must see; retry, or read from the leader"));
}

absl::StatusOr<uint64_t> ReplicatedEventLog::EtcdHead(
    absl::Time deadline, const storage::CancelSignal* cancel) {
  // A cancellation wakes the wait below (its condition reads the signal).
  const uint64_t wake = cancel == nullptr ? 0 : cancel->OnCancel([this]() {
    absl::MutexLock lock(&round_mu_);
  });
  absl::StatusOr<uint64_t> answer;
  {
    absl::MutexLock lock(&round_mu_);
    // A round that starts from now on reads etcd after this call began.
    const uint64_t needed = rounds_started_ + 1;
    if (!round_head_.ok() &&
        absl::Now() - round_finished_at_ < kRetryRoundAfter) {
      // etcd failed to answer a moment ago: refuse at once rather than
      // hold a reader thread for another round's timeout (the next round,
      // a second on, tries again).
      answer = round_head_.status();
    } else {
      rounds_wanted_ = std::max(rounds_wanted_, needed);
      auto ready = [this, needed, cancel]()
                       ABSL_EXCLUSIVE_LOCKS_REQUIRED(round_mu_) {
                         return rounds_finished_ >= needed || rounds_closing_ ||
                                (cancel != nullptr && cancel->cancelled());
                       };
      // Each caller waits until its own deadline, whatever the round's
      // read (bounded by the etcd client's own timeout) still takes.
      round_mu_.AwaitWithDeadline(absl::Condition(&ready), deadline);
      if (rounds_finished_ >= needed) {
        answer = round_head_;
      } else if (rounds_closing_) {
        answer = absl::UnavailableError("the event log is closed");
      } else if (cancel != nullptr && cancel->cancelled()) {
        answer = storage::WaitCancelled();
      } else {
        answer = absl::DeadlineExceededError(
            "this node could not tell by the deadline whether it holds the "
            "cluster's newest writes, so it shows nothing; retry");
      }
    }
  }
  if (cancel != nullptr) cancel->Remove(wake);
  return answer;
}

void ReplicatedEventLog::RoundLoop() {
  absl::MutexLock lock(&round_mu_);
  while (true) {
    auto wanted = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(round_mu_) {
      return rounds_closing_ || rounds_wanted_ > rounds_started_;
    };
    round_mu_.Await(absl::Condition(&wanted));
    if (rounds_closing_) return;
    const uint64_t round = ++rounds_started_;
    round_mu_.Unlock();
    absl::StatusOr<uint64_t> head = ReadEtcdHead();
    round_mu_.Lock();
    rounds_finished_ = round;
    round_finished_at_ = absl::Now();
    round_head_ = std::move(head);
  }
}

absl::StatusOr<uint64_t> ReplicatedEventLog::ReadEtcdHead() {
  absl::StatusOr<std::optional<KeyValue>> head =
      client_->Get(HeadKey(options_.prefix));
  v1::ReplicatedHead parsed;
  if (head.ok() && head->has_value() &&
      !parsed.ParseFromString((*head)->value)) {
    head = absl::DataLossError("the log's head key does not parse");
  }
  if (!head.ok()) {
    logger_->Log(LogLevel::kWarning, "replication.read_barrier_failed",
                 {{"code", absl::StatusCodeToString(head.status().code())},
                  {"error", std::string(head.status().message())}});
    return absl::UnavailableError(
        "this node cannot tell now whether it holds the cluster's newest "
        "writes (the cause is in the server's log), so it shows nothing; "
        "retry shortly");
  }
  return head->has_value() ? parsed.last_position() : 0;
}

void ReplicatedEventLog::Depose(const absl::Status& why) {
  logger_->Log(LogLevel::kWarning, "replication.deposed",
               {{"error", std::string(why.message())}});
  writer_.reset();
  std::unique_ptr<LeaderLease> lease;
  {
    absl::MutexLock lock(&mu_);
    if (term_ == writer_term_) lease = std::move(lease_);
  }
  lease.reset();
  NotifyRole();
}

absl::Status ReplicatedEventLog::Prepare() {
  uint64_t term = 0;
  Fence fence;
  {
    absl::MutexLock lock(&mu_);
    if (closing_) return absl::UnavailableError("the event log is closed");
    if (!follower_state_.ok()) {
      // Its cause was logged when applying stopped.
      return absl::UnavailableError(
          "this node stopped applying the replicated log (the cause is in "
          "the server's log); send commands to another node");
    }
    if (lease_ != nullptr && lease_->held()) {
      term = term_;
      fence = lease_->fence();
    }
  }
  if (term == 0) return NotLeader("it holds no leader lease");
  if (writer_ == nullptr || writer_term_ != term || writer_->deposed()) {
    writer_.reset();
    ReplicatedLogOptions writer_options;
    writer_options.prefix = options_.prefix;
    writer_options.metrics = metrics_.get();
    absl::StatusOr<std::unique_ptr<ReplicatedLogWriter>> opened =
        ReplicatedLogWriter::Open(client_.get(), writer_options, fence);
    if (!opened.ok()) return AppendNotCommitted(opened.status(), logger_);
    writer_ = *std::move(opened);
    writer_term_ = term;
  }
  // A leader decides only on a store that holds the whole log.
  if (!WaitApplied(writer_->head().last_position())) {
    return absl::UnavailableError(absl::StrCat(
        "the new leader has not yet applied the log up to position ",
        writer_->head().last_position(), "; retry shortly"));
  }
  return absl::OkStatus();
}

storage::ReplicatedCommitResult ReplicatedEventLog::Commit(
    const std::vector<v1::ReplicatedAppend>& appends) {
  WriteResult written = writer_->Write(appends);
  if (written.status.code() == absl::StatusCode::kUnavailable) {
    // The last entry is in doubt: settle it now, so the next batch starts
    // from a known head (if this fails too, the next Prepare opens a new
    // writer from etcd's head).
    absl::StatusOr<size_t> landed = writer_->Recover();
    if (landed.ok()) {
      written.appends_written += *landed;
    } else {
      writer_.reset();
    }
  } else if (written.status.code() == absl::StatusCode::kFailedPrecondition ||
             (writer_ != nullptr && writer_->deposed())) {
    Depose(written.status);  // Logs the cause.
  } else if (!written.status.ok()) {
    // INVALID_ARGUMENT: a batch that did not continue etcd's head, or (not
    // expected past AppendAsync's estimate) an append too large for an
    // entry. Nothing of it was written, and it is not the other appends'
    // fault: UNAVAILABLE, and the next batch starts from a writer opened
    // anew.
    writer_.reset();
  }
  uint64_t last = 0;
  if (written.appends_written > 0) {
    const v1::ReplicatedAppend& a = appends[written.appends_written - 1];
    v1::RecordedEvent record;
    if (storage::DecodeRecord(a.records(a.records_size() - 1), &record).ok()) {
      last = record.position();
    }
  }
  if (last > 0 && !WaitApplied(last)) {
    // Durable in etcd, but not applied here in time: their outcome, to
    // the caller, is unknown (a retry with the same ids is answered from
    // the log).
    return {0, absl::UnavailableError(
                   "the entry is in the replicated log but this node has "
                   "not applied it in time; retry with the same event ids")};
  }
  if (written.appends_written < appends.size() && written.status.ok()) {
    written.status = absl::UnavailableError("not written");
  }
  // The writer's errors carry etcd's text (logged here, or by Depose): the
  // appends not written get the rule only.
  if (written.status.code() == absl::StatusCode::kFailedPrecondition) {
    written.status = NotLeader("it was deposed");
  } else if (!written.status.ok()) {
    written.status = AppendNotCommitted(written.status, logger_);
  }
  return {written.appends_written, written.status};
}

}  // namespace ycr::replication
