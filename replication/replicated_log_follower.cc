#include "replication/replicated_log_follower.h"

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "replication/etcd_watch.h"
#include "storage/record_codec.h"

namespace ycr::replication {
namespace {

// Before trying etcd again after it did not answer (a member that refuses
// connections fails at once): a pause, not a wait for anything.
void Backoff(absl::Time deadline) {
  absl::SleepFor(std::min(absl::Milliseconds(100), deadline - absl::Now()));
}

}  // namespace

FollowerCheckpoint EmptyCheckpoint() {
  return FollowerCheckpoint{0, ChainEnd{0, storage::GenesisHash()},
                            NoEntryHash()};
}

ReplicatedLogFollower::ReplicatedLogFollower(EtcdClient* client,
                                             std::string prefix,
                                             FollowerCheckpoint from,
                                             ApplyEntry apply)
    : client_(client),
      prefix_(std::move(prefix)),
      checkpoint_(std::move(from)),
      apply_(std::move(apply)) {}

ReplicatedLogFollower::~ReplicatedLogFollower() = default;

absl::Status ReplicatedLogFollower::Apply(const std::string& key,
                                          const std::string& value,
                                          int64_t revision) {
  v1::ReplicatedEntry entry;
  if (!entry.ParseFromString(value)) {
    return absl::DataLossError(
        absl::StrCat("replicated log: ", key, " is not an entry"));
  }
  FollowerCheckpoint next = checkpoint_;
  if (entry.prev_entry_hash() != checkpoint_.entry_hash ||
      entry.first_position() != checkpoint_.end.last_position + 1 ||
      key != EntryKey(prefix_, entry.first_position())) {
    return absl::DataLossError(absl::StrCat(
        "replicated log: ", key,
        " does not follow the entry applied at "
        "revision ",
        checkpoint_.revision, " (position ", checkpoint_.end.last_position,
        "): its previous-entry hash or first "
        "position differs; this node stops rather than diverge"));
  }
  if (entry.appends().empty()) {
    return absl::DataLossError(
        absl::StrCat("replicated log: ", key, " has no appends"));
  }
  for (int i = 0; i < entry.appends_size(); ++i) {
    absl::Status s =
        ContinueChain(entry.appends(i), absl::StrCat(key, " appends[", i, "]"),
                      absl::StatusCode::kDataLoss, &next.end);
    if (!s.ok()) {
      return absl::DataLossError(absl::StrCat("replicated log: ", s.message(),
                                              "; this node stops rather than "
                                              "diverge"));
    }
  }
  next.entry_hash = EntryHash(value);
  next.revision = revision;
  if (absl::Status applied = apply_(entry, next); !applied.ok()) {
    return applied;
  }
  checkpoint_ = std::move(next);
  return absl::OkStatus();
}

absl::Status ReplicatedLogFollower::CatchUp(int64_t* read_at) {
  const std::string end = PrefixEnd(EntriesBegin(prefix_));
  while (true) {
    const std::string from =
        EntryKey(prefix_, checkpoint_.end.last_position + 1);
    // A few entries at a time: each may be up to 1.5 MiB.
    ASSIGN_OR_RETURN(etcdserverpb::RangeResponse range,
                     client_->Range(from, end, /*limit=*/8));
    *read_at = range.header().revision();
    for (const mvccpb::KeyValue& kv : range.kvs()) {
      if (kv.key() != EntryKey(prefix_, checkpoint_.end.last_position + 1)) {
        return absl::OutOfRangeError(absl::StrCat(
            "replicated log: the entry at position ",
            checkpoint_.end.last_position + 1,
            " is no longer in etcd (its "
            "tail was trimmed past this node, next there is ",
            kv.key(), "): restore this node from a peer's backup"));
      }
      RETURN_IF_ERROR(Apply(kv.key(), kv.value(), kv.mod_revision()));
    }
    if (!range.more()) break;
  }
  // Nothing after this node's checkpoint is left, but the log may have gone
  // on past it and been trimmed whole: then the next entry to come would
  // not continue this node's log.
  ASSIGN_OR_RETURN(std::optional<KeyValue> head,
                   client_->Get(HeadKey(prefix_)));
  v1::ReplicatedHead parsed;
  if (head.has_value() && parsed.ParseFromString(head->value) &&
      parsed.last_position() > checkpoint_.end.last_position) {
    ASSIGN_OR_RETURN(
        etcdserverpb::RangeResponse again,
        client_->Range(EntryKey(prefix_, checkpoint_.end.last_position + 1),
                       end, /*limit=*/1));
    if (again.kvs().empty()) {
      return absl::OutOfRangeError(absl::StrCat(
          "replicated log: etcd's log reaches position ",
          parsed.last_position(), " but holds no entry after position ",
          checkpoint_.end.last_position,
          " (its tail was trimmed past this node): restore this node from a "
          "peer's backup"));
    }
  }
  return absl::OkStatus();
}

absl::Status ReplicatedLogFollower::Follow(uint64_t until_position,
                                           absl::Time deadline) {
  if (!stopped_for_good_.ok()) return stopped_for_good_;
  const std::string begin = EntriesBegin(prefix_);
  std::unique_ptr<EtcdWatch> watch;
  while (checkpoint_.end.last_position < until_position) {
    if (stopped_) return absl::CancelledError("replicated log: stopped");
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "replicated log: applied up to ", checkpoint_.end.last_position,
          ", not ", until_position, ", by the deadline"));
    }
    if (watch == nullptr) {
      // Read what is there (entries are never rewritten), then watch for
      // what comes after that read: no history etcd may have compacted is
      // needed.
      int64_t read_at = 0;
      if (absl::Status s = CatchUp(&read_at); !s.ok()) {
        if (s.code() == absl::StatusCode::kUnavailable) {
          Backoff(deadline);
          continue;
        }
        stopped_for_good_ = s;
        return s;
      }
      if (checkpoint_.end.last_position >= until_position) break;
      absl::StatusOr<std::unique_ptr<EtcdWatch>> opened =
          client_->Watch(begin, PrefixEnd(begin), read_at + 1);
      if (!opened.ok()) {  // Retried until the deadline.
        Backoff(deadline);
        continue;
      }
      watch = std::move(*opened);
    }
    // Short waits, so Stop() and the deadline are seen.
    absl::StatusOr<std::vector<WatchEvent>> events =
        watch->Next(std::min(deadline, absl::Now() + absl::Milliseconds(200)));
    if (events.status().code() == absl::StatusCode::kDeadlineExceeded) {
      continue;
    }
    if (!events.ok()) {
      watch.reset();  // Lost, or compacted past: read again, then watch.
      continue;
    }
    for (const WatchEvent& e : *events) {
      // Removing entries already applied everywhere is etcd's tail kept
      // short, not the log changing.
      if (e.deleted || e.kv.mod_revision <= checkpoint_.revision) continue;
      if (absl::Status s = Apply(e.kv.key, e.kv.value, e.kv.mod_revision);
          !s.ok()) {
        stopped_for_good_ = s;
        return s;
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace ycr::replication
