// RocksDbEventLog, part 2 of 4 (see rocksdb_event_log_impl.h): the writer
// thread and group commit. Appends queue; the writer takes a batch, decides
// each append (version checks against the stream versions, idempotency,
// sealing), writes them in one WriteBatch, answers them, and publishes the
// head. After a failed write, writes stop until the store can be resumed.

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <vector>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/ids.h"
#include "common/proto_bytes.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "storage/append_validation.h"
#include "storage/key_format.h"
#include "storage/personal_crypto.h"
#include "storage/record_codec.h"
#include "storage/rocksdb_event_log.h"
#include "storage/rocksdb_event_log_impl.h"
#include "storage/rocksdb_internal.h"
#include "storage/subject_keys.h"

namespace ycr::storage {
namespace {

using internal::FromRocks;
using internal::View;

absl::Status VersionConflict(absl::string_view what, absl::string_view stream,
                             uint64_t current,
                             const ExpectedVersion& expected) {
  absl::Status status = absl::AbortedError(
      absl::StrCat(what, "stream '", stream, "' is at version ", current,
                   ", expected ", expected.ToString()));
  status.SetPayload(kConflictStreamPayload, absl::Cord(stream));
  status.SetPayload(kConflictVersionPayload, absl::Cord(absl::StrCat(current)));
  return status;
}

// What every refused append is told about itself.
constexpr char kRetryAdvice[] =
    "the outcome of an unacknowledged append is unknown: retry it with the "
    "same event ids (a retry is idempotent)";

// A failed write, as appends see it while writes are stopped.
absl::Status WriteError(const rocksdb::Status& s, absl::string_view path) {
  if (s.IsNoSpace()) {
    return absl::ResourceExhaustedError(
        absl::StrCat("writes are stopped: the store's filesystem is full (",
                     s.ToString(), "); free space under ", path,
                     " and writes resume by themselves; ", kRetryAdvice));
  }
  return absl::UnavailableError(absl::StrCat(
      "writes are stopped: the store could not write (", s.ToString(),
      "); check the disk under ", path,
      "; writes resume by themselves once the store can write again; ",
      kRetryAdvice));
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

}  // namespace

void RocksDbEventLog::Impl::AppendAsync(AppendRequest request,
                                        AppendCallback done) {
  if (absl::Status s = ValidateAppend(&request, options_.limits); !s.ok()) {
    std::move(done)(s);
    return;
  }
  size_t bytes = 0;
  for (const v1::ProposedEvent& e : request.events) bytes += e.ByteSizeLong();
  for (const RecordWrite& r : request.records) bytes += r.value.size();
  absl::Status refused;
  {
    absl::MutexLock lock(&queue_mu_);
    if (stopping_) {
      refused = absl::UnavailableError("the event log is closed");
    } else if (!queue_.empty() &&
               queued_bytes_ + bytes > options_.limits.max_queued_bytes) {
      refused = absl::ResourceExhaustedError(absl::StrCat(
          "the log's writer is behind (", queued_bytes_,
          " bytes of appends queued); retry shortly with the same event ids"));
    } else {
      queued_bytes_ += bytes;
      queue_.push_back(Pending{std::move(request), std::move(done), bytes,
                               std::chrono::steady_clock::now()});
      queue_cv_.Signal();
      return;
    }
  }
  std::move(done)(refused);
}

void RocksDbEventLog::Impl::WriterLoop() {
  std::vector<Pending> batch;
  for (;;) {
    bool try_resume = false;
    std::optional<rocksdb::Status> background_error;
    {
      absl::MutexLock lock(&queue_mu_);
      if (write_error_.ok()) {
        while (queue_.empty() && !stopping_ && !background_error_) {
          queue_cv_.Wait(&queue_mu_);
        }
        background_error.swap(background_error_);
      } else if (queue_.empty() && !stopping_) {
        // Writes are stopped: wake to try resuming even without appends.
        queue_cv_.WaitWithTimeout(&queue_mu_, options_.resume_interval);
        try_resume = queue_.empty() && !stopping_;
      }
      if (queue_.empty() && !try_resume && !background_error.has_value()) {
        return;  // Stopping, and every append is answered.
      }
      // Everything queued, up to max_batch_bytes (at least one append).
      // After a background error, appends wait for the next round.
      size_t taken = 0;
      auto take = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(queue_mu_) {
        while (!background_error.has_value() && !queue_.empty() &&
               (batch.empty() || taken + queue_.front().bytes <=
                                     options_.limits.max_batch_bytes)) {
          taken += queue_.front().bytes;
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      };
      take();
      // Replicated mode: a commit costs an etcd transaction synced on a
      // majority and a synced write on every node, whatever its size. The
      // callers answered by the last commit, besides those queued then,
      // were all waiting on the log: wait a little (a quarter of the last
      // commit's time, 2 ms at most) for them to come back, so that they
      // share the next commit rather than wait a whole commit behind it.
      if (options_.replication != nullptr && !batch.empty() && !stopping_ &&
          !background_error.has_value() && batch.size() < linger_for_) {
        const absl::Time until =
            absl::Now() + std::min(absl::Milliseconds(2), last_commit_ / 4);
        while (batch.size() + queue_.size() < linger_for_ && !stopping_ &&
               !queue_cv_.WaitWithDeadline(&queue_mu_, until)) {
        }
        take();
      }
      queued_bytes_ -= taken;
    }
    if (background_error.has_value()) {
      StopWrites(*background_error);
      continue;
    }
    if (try_resume) {
      TryResume().IgnoreError();  // Logged; appends see it when they come.
      continue;
    }
    const absl::Time start = absl::Now();
    CommitBatch(batch);
    last_commit_ = absl::Now() - start;
    batch.clear();
  }
}

void RocksDbEventLog::Impl::StopWrites(const rocksdb::Status& error) {
  const bool was_stopped = !write_error_.ok();
  write_error_ = WriteError(error, options_.path);
  if (was_stopped) return;
  logger_->Log(LogLevel::kError, "log.writes_stopped",
               {{"error", std::string(write_error_.message())},
                {"head", absl::StrCat(next_position_ - 1)}});
  SetWriteState(write_error_);
}

bool RocksDbEventLog::Impl::SetWriteState(const absl::Status& state) {
  {
    absl::MutexLock lock(&head_mu_);
    if (write_state_ == state) return false;
    write_state_ = state;
  }
  if (options_.on_write_state) options_.on_write_state(state);
  return true;
}

absl::Status RocksDbEventLog::Impl::TryResume() {
  if (write_error_.ok()) return absl::OkStatus();
  if (rocksdb::Status probe = ProbeWritable(); !probe.ok()) {
    StopWrites(probe);
    return write_error_;
  }
  {
    // Errors reported from here on are new: they stop writes again.
    absl::MutexLock lock(&queue_mu_);
    background_error_.reset();
  }
  // Clears RocksDB's background error (a failed WAL write or sync makes the
  // store read-only). Resume() flushes every memtable to new files, so the
  // WAL that failed is no longer needed and is never replayed over what is
  // written after this (the reopen in write_fault_test checks it).
  rocksdb::Status s = db_->Resume();
  if (!s.ok()) {
    if (s.severity() >= rocksdb::Status::Severity::kFatalError) {
      // RocksDB 7.8 will not resume after a failed WAL write that is not
      // for lack of space: only reopening the store (a restart) clears it.
      write_error_ = absl::UnavailableError(absl::StrCat(
          "writes are stopped: the store failed a write it cannot resume "
          "from (",
          s.ToString(), "); check the disk under ", options_.path,
          " and restart ycr-server; reads go on meanwhile; ", kRetryAdvice));
      if (SetWriteState(write_error_)) {
        logger_->Log(LogLevel::kError, "log.resume_impossible",
                     {{"error", std::string(write_error_.message())}});
      }
      return write_error_;
    }
    StopWrites(s);
    return write_error_;
  }
  // The failed batch may or may not be stored: take the head, the chain and
  // the versions from the store, not from memory.
  absl::StatusOr<Head> head = ReadStoredHead();
  absl::Status verified = head.status();
  if (verified.ok() && head->position + 1 < next_position_) {
    verified = absl::DataLossError(absl::StrCat(
        "the log ends at position ", head->position, " but position ",
        next_position_ - 1, " was acknowledged"));
  }
  LogTree tree;
  if (verified.ok()) {
    absl::ReaderMutexLock lock(&db_mu_);
    // From the last record known to be stored: it links what followed.
    verified = VerifyChainLocked(next_position_ > 1 ? next_position_ - 1 : 1,
                                 head->position, &tree);
  }
  if (!verified.ok()) {
    // Not expected after a failed write; stay stopped rather than write
    // past a chain that does not verify.
    write_error_ = absl::UnavailableError(absl::StrCat(
        "writes are stopped: after a failed write the stored log does not "
        "verify: ",
        verified.message(), "; run ycr-server verify on ", options_.path));
    logger_->Log(LogLevel::kError, "log.resume_failed",
                 {{"error", std::string(write_error_.message())}});
    SetWriteState(write_error_);
    return write_error_;
  }
  versions_.Clear();
  const uint64_t before = next_position_ - 1;
  next_position_ = head->position + 1;
  last_hash_ = head->hash;
  // The writer's tree is as durable before the failed write; it is read
  // again only when that write turns out to be stored.
  if (head->position != before) tree_ = std::move(tree);
  write_error_ = absl::OkStatus();
  logger_->Log(LogLevel::kWarning, "log.writes_resumed",
               {{"head", absl::StrCat(head->position)},
                {"head_before", absl::StrCat(before)}});
  if (head->position != before) PublishHead(head->position, head->hash);
  SetWriteState(absl::OkStatus());
  return absl::OkStatus();
}

void RocksDbEventLog::Impl::CommitBatch(std::vector<Pending>& batch) {
  if (options_.replication != nullptr) return CommitReplicated(batch);
  if (!write_error_.ok() && !TryResume().ok()) {
    for (Pending& pending : batch) {
      if (metrics_.appends_error != nullptr) {
        metrics_.appends_error->Increment();
        metrics_.latency->Observe(SecondsSince(pending.queued_at));
      }
      std::move(pending.done)(write_error_);
    }
    return;
  }
  BatchState state;
  state.next_position = next_position_;
  state.last_hash = last_hash_;
  state.tree = tree_;
  rocksdb::WriteBatch write_batch;
  const absl::Time now = clock_->Now();
  std::vector<absl::StatusOr<AppendResult>> results;
  results.reserve(batch.size());
  for (Pending& pending : batch) {
    results.push_back(Decide(pending.request, now, &state, &write_batch));
  }
  if (state.next_position != next_position_) {
    rocksdb::WriteOptions write_options;
    write_options.sync = options_.sync;
    const auto write_start = std::chrono::steady_clock::now();
    const rocksdb::Status written = db_->Write(write_options, &write_batch);
    if (metrics_.sync_write != nullptr) {
      metrics_.sync_write->Observe(SecondsSince(write_start));
    }
    if (!written.ok()) {
      // The decisions above assumed this batch would land; none of them
      // hold, and memory may no longer match the store: stop writing until
      // TryResume() has re-read it.
      StopWrites(written);
      for (auto& result : results) result = write_error_;
    } else {
      for (auto& [stream, version] : state.versions) {
        versions_.Put(stream, version);
      }
      if (metrics_.events != nullptr) {
        metrics_.events->Increment(state.next_position - next_position_);
      }
      next_position_ = state.next_position;
      last_hash_ = state.last_hash;
      tree_ = std::move(state.tree);
      PublishHead(next_position_ - 1, last_hash_);
      Scrub(state);
    }
  }
  Answer(batch, results);
}

void RocksDbEventLog::Impl::Answer(
    std::vector<Pending>& batch,
    std::vector<absl::StatusOr<AppendResult>>& results) {
  if (options_.replication != nullptr) {
    // Before anyone answered can append again.
    absl::MutexLock lock(&queue_mu_);
    linger_for_ = batch.size() + queue_.size();
  }
  if (metrics_.latency != nullptr) {
    metrics_.batch_appends->Observe(static_cast<double>(batch.size()));
    for (size_t i = 0; i < batch.size(); ++i) {
      (results[i].ok() ? metrics_.appends_ok : metrics_.appends_error)
          ->Increment();
      metrics_.latency->Observe(SecondsSince(batch[i].queued_at));
    }
  }
  for (size_t i = 0; i < batch.size(); ++i) {
    std::move(batch[i].done)(std::move(results[i]));
  }
}

absl::StatusOr<AppendResult> RocksDbEventLog::Impl::Decide(
    AppendRequest& request, absl::Time now, BatchState* state,
    rocksdb::WriteBatch* batch) {
  const size_t n = request.events.size();

  // Idempotency: an append is either wholly new or a retry of events already
  // appended, with the same content and in their original order (a subset of
  // an earlier append, in order, is a retry too: every event it asks for is in
  // the log exactly as asked).
  std::vector<std::string> keys(n);
  std::vector<std::string> digests(n);
  std::vector<std::optional<EventIdEntry>> found(n);
  size_t found_count = 0;
  for (size_t i = 0; i < n; ++i) {
    keys[i] = EventIdKey(request.events[i].event_id());
    ASSIGN_OR_RETURN(digests[i], Digest(request, i, state, batch));
    if (auto it = state->event_ids.find(keys[i]);
        it != state->event_ids.end()) {
      found[i] = it->second;
    } else {
      std::string value;
      rocksdb::Status s =
          db_->Get(rocksdb::ReadOptions(), ids_cf_, keys[i], &value);
      if (s.ok()) {
        found[i] = DecodeEventIdEntry(value);
        if (!found[i].has_value()) {
          return absl::DataLossError("stored event id entry is malformed");
        }
      } else if (!s.IsNotFound()) {
        return FromRocks(s, "cannot read event ids");
      }
    }
    if (found[i].has_value()) ++found_count;
  }
  if (found_count > 0) {
    for (size_t i = 0; i < n; ++i) {
      const std::string& id = request.events[i].event_id();
      if (!found[i].has_value()) {
        return absl::AlreadyExistsError(absl::StrCat(
            "events[", i, "].event_id ", id,
            " is new but other events of this append were appended before; "
            "a retry must resend events already appended, in their original "
            "order, and nothing new"));
      }
      if (found[i]->digest != digests[i]) {
        return absl::AlreadyExistsError(
            absl::StrCat("events[", i, "].event_id ", id,
                         " was already appended at position ",
                         found[i]->position, " with different content"));
      }
      if (found[i]->position != found[0]->position + i) {
        return absl::AlreadyExistsError(absl::StrCat(
            "events[", i, "].event_id ", id,
            " was appended before, but not in this order; a retry must "
            "resend events in their original order"));
      }
    }
    return AppendResult{found[0]->position, found[n - 1]->position,
                        found[n - 1]->stream_version, true};
  }

  // Version checks, on this stream and the conditions' streams.
  ASSIGN_OR_RETURN(uint64_t current, CurrentVersion(request.stream, *state));
  if (!request.expected.Allows(current)) {
    return VersionConflict("", request.stream, current, request.expected);
  }
  for (size_t i = 0; i < request.conditions.size(); ++i) {
    const StreamCondition& c = request.conditions[i];
    ASSIGN_OR_RETURN(uint64_t version, CurrentVersion(c.stream, *state));
    if (!c.expected.Allows(version)) {
      return VersionConflict(absl::StrCat("conditions[", i, "]: "), c.stream,
                             version, c.expected);
    }
  }
  for (size_t i = 0; i < request.record_conditions.size(); ++i) {
    const RecordCondition& c = request.record_conditions[i];
    std::optional<std::string> value;
    if (auto it = state->records.find(c.key); it != state->records.end()) {
      value = it->second;
    } else {
      std::string stored;
      rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), records_cf_,
                                   RecordKey(c.key), &stored);
      if (s.ok()) {
        value = std::move(stored);
      } else if (!s.IsNotFound()) {
        return FromRocks(s, "cannot read a record");
      }
    }
    if (value != c.value) {
      absl::Status status = absl::AbortedError(absl::StrCat(
          "record_conditions[", i, "]: record '", c.key, "' ",
          value.has_value() ? "has another value" : "does not exist",
          " than the append was decided on"));
      status.SetPayload(kConflictStreamPayload,
                        absl::Cord(absl::StrCat("record:", c.key)));
      return status;
    }
  }

  // Event types first: nothing below may fail once the batch is touched.
  std::vector<std::string> types(n);
  for (size_t i = 0; i < n; ++i) {
    ASSIGN_OR_RETURN(types[i],
                     EventTypeOf(request.events[i].payload(),
                                 absl::StrCat("events[", i, "].payload")));
  }

  // Personal parts and sealed records are sealed before anything of this
  // append is in the batch but the subject keys they need (a key written
  // for an append that then fails is simply the subject's key from then on).
  for (size_t i = 0; i < n; ++i) {
    v1::ProposedEvent& e = request.events[i];
    if (!e.payload().has_personal()) continue;
    ASSIGN_OR_RETURN(std::string key,
                     subject_keys_->KeyForWrite(
                         internal::KeyName(e.payload().personal().subject_id(),
                                           internal::SealingOwner(
                                               e.payload(), request.actor)),
                         &state->keys, batch));
    RETURN_IF_ERROR(internal::SubjectKeys::SealEvent(key, e.event_id(),
                                                     e.mutable_payload()));
  }
  for (RecordWrite& r : request.records) {
    if (r.seal_subject.empty()) continue;
    ASSIGN_OR_RETURN(std::string key, subject_keys_->KeyForWrite(
                                          r.seal_subject, &state->keys, batch));
    ASSIGN_OR_RETURN(Sealed sealed,
                     Seal(key, RecordAad(r.seal_subject, r.key), r.value));
    v1::EncryptedPersonal stored;
    stored.set_subject_id(r.seal_subject);
    stored.set_key_version(kDataKeyVersion);
    stored.set_nonce(std::move(sealed.nonce));
    stored.set_ciphertext(std::move(sealed.ciphertext));
    r.value = stored.SerializeAsString();
  }
  // The keys the erasures destroy (the batch holds only new keys so far).
  std::vector<std::vector<std::string>> erased_keys;
  for (const std::string& subject : request.erase_subjects) {
    ASSIGN_OR_RETURN(erased_keys.emplace_back(),
                     subject_keys_->KeysToErase(
                         subject, request.erase_retaining, state->keys));
  }

  // The records, chained, each with random bytes of its own (salt).
  const google::protobuf::Timestamp recorded_at = ToProtoTime(now);
  ASSIGN_OR_RETURN(const std::string salts, RandomBytes(kRecordSaltBytes * n));
  AppendResult result{state->next_position, 0, 0, false};
  for (size_t i = 0; i < n; ++i) {
    v1::ProposedEvent& e = request.events[i];
    v1::RecordedEvent record;
    record.set_position(state->next_position);
    record.set_stream(request.stream);
    record.set_stream_version(current + i + 1);
    record.set_event_id(e.event_id());
    record.set_event_type(std::move(types[i]));
    *record.mutable_payload() = std::move(*e.mutable_payload());
    *record.mutable_recorded_at() = recorded_at;
    if (e.has_occurred_at()) *record.mutable_occurred_at() = e.occurred_at();
    *record.mutable_actor() = request.actor;
    record.set_correlation_id(e.correlation_id());
    record.set_causation_id(e.causation_id());
    record.set_prev_hash(state->last_hash);
    record.set_salt(salts.substr(i * kRecordSaltBytes, kRecordSaltBytes));
    std::string value = EncodeRecord(&record);

    EventIdEntry entry{record.position(), record.stream_version(),
                       std::move(digests[i])};
    batch->Put(log_cf_, LogKey(record.position()), value);
    AppendToTree(value, state, batch);
    batch->Put(streams_cf_, StreamKey(request.stream, record.stream_version()),
               EncodePosition(record.position()));
    batch->Put(ids_cf_, keys[i], EncodeEventIdEntry(entry));
    state->event_ids.emplace(std::move(keys[i]), std::move(entry));
    state->last_hash = record.hash();
    ++state->next_position;
  }
  for (RecordWrite& r : request.records) {
    if (r.remove) {
      batch->Delete(records_cf_, RecordKey(r.key));
      batch->Delete(records_cf_, SealedRecordKey(r.key));
      state->records[r.key] = std::nullopt;
      state->removed_records.push_back(std::move(r.key));
    } else if (!r.seal_subject.empty()) {
      batch->Put(records_cf_, SealedRecordKey(r.key), r.value);
    } else {
      batch->Put(records_cf_, RecordKey(r.key), r.value);
      state->records[r.key] = r.value;
    }
  }
  for (size_t i = 0; i < request.erase_subjects.size(); ++i) {
    const std::string& subject = request.erase_subjects[i];
    subject_keys_->Erase(subject, erased_keys[i], result.first_position,
                         &state->keys, batch);
    state->erased.push_back(subject);
  }
  result.last_position = state->next_position - 1;
  result.stream_version = current + n;
  state->versions[request.stream] = result.stream_version;
  return result;
}

absl::StatusOr<std::string> RocksDbEventLog::Impl::Digest(
    AppendRequest& request, size_t i, BatchState* state,
    rocksdb::WriteBatch* batch) {
  v1::ProposedEvent& e = request.events[i];
  if (!e.payload().has_personal()) {
    return ContentDigest(request.stream, e, request.actor);
  }
  const v1::PersonalData& personal = e.payload().personal();
  ASSIGN_OR_RETURN(
      std::string key,
      subject_keys_->KeyForWrite(
          internal::KeyName(personal.subject_id(),
                            internal::SealingOwner(e.payload(), request.actor)),
          &state->keys, batch));
  // The event without its personal part: the part is set aside meanwhile
  // rather than the event copied.
  std::unique_ptr<v1::PersonalData> aside(
      e.mutable_payload()->release_personal());
  std::string content = ContentDigest(request.stream, e, request.actor);
  std::string keyed = KeyedDigest(key, DeterministicBytes(*aside));
  e.mutable_payload()->set_allocated_personal(aside.release());
  return Sha256(content, keyed);
}

void RocksDbEventLog::Impl::Scrub(const BatchState& state) {
  // The append is durable whatever happens here: a failure leaves the
  // deleted bytes in the files until RocksDB compacts them on its own.
  for (const std::string& subject : state.erased) {
    subject_keys_->Scrub(handles_, subject).IgnoreError();
  }
  for (const std::string& key : state.removed_records) {
    internal::CompactKey(db_.get(), records_cf_, RecordKey(key)).IgnoreError();
    internal::CompactKey(db_.get(), records_cf_, SealedRecordKey(key))
        .IgnoreError();
  }
}

absl::StatusOr<uint64_t> RocksDbEventLog::Impl::CurrentVersion(
    const std::string& stream, const BatchState& state) {
  if (auto it = state.versions.find(stream); it != state.versions.end()) {
    return it->second;
  }
  if (std::optional<uint64_t> cached = versions_.Get(stream)) return *cached;
  ASSIGN_OR_RETURN(uint64_t version, LastStreamVersion(stream));
  versions_.Put(stream, version);  // Committed state: safe to cache now.
  return version;
}

absl::StatusOr<uint64_t> RocksDbEventLog::Impl::LastStreamVersion(
    absl::string_view stream) {
  StreamIndexIterator index(db_.get(), streams_cf_, stream);
  rocksdb::Iterator* it = index.get();
  it->SeekToLast();
  RETURN_IF_ERROR(FromRocks(it->status(), "cannot read the stream index"));
  if (!it->Valid()) return 0;
  std::optional<StreamKeyParts> parts = DecodeStreamKey(View(it->key()));
  if (!parts.has_value() || parts->stream != stream) {
    return absl::DataLossError(
        absl::StrCat("stream index of '", stream, "' is malformed"));
  }
  return parts->version;
}

void RocksDbEventLog::Impl::PublishHead(uint64_t position,
                                        const std::string& hash) {
  std::vector<WatchCallback> ready;
  {
    absl::MutexLock lock(&head_mu_);
    head_.position = position;
    head_.hash = hash;
    auto end = watches_.upper_bound({position, UINT64_MAX});
    for (auto it = watches_.begin(); it != end; ++it) {
      watch_positions_.erase(it->first.second);
      ready.push_back(std::move(it->second));
    }
    watches_.erase(watches_.begin(), end);
  }
  for (WatchCallback& callback : ready) std::move(callback)();
}

}  // namespace ycr::storage
