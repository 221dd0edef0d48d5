// RocksDbEventLog in replicated mode (issue 17; see replicated_commit.h):
// the writer's side, which turns each decided append into a
// v1::ReplicatedAppend instead of writing it, and ApplyReplicated, the only
// way records reach a replicated node's store.

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/ids.h"
#include "common/status_macros.h"
#include "storage/key_format.h"
#include "storage/personal_crypto.h"
#include "storage/record_codec.h"
#include "storage/replicated_commit.h"
#include "storage/rocksdb_event_log.h"
#include "storage/rocksdb_event_log_impl.h"
#include "storage/rocksdb_internal.h"

namespace ycr::storage {
namespace {

using internal::FromRocks;
using internal::View;

constexpr char kKekIdContext[] = "ycr cluster kek id";
constexpr char kWrapContext[] = "ycr cluster kek wrap v1";

std::string WrapAad(absl::string_view row_key) {
  return absl::StrCat(kWrapContext, std::string(1, '\0'), row_key);
}

// Collects one decided append's writes (a WriteBatch of its own) into a
// ReplicatedAppend. The log's records are carried as stored; the tree and
// stream index are derived from them on apply; event ids carry only their
// digest; subject-key rows are wrapped under the cluster key.
class Exporter : public rocksdb::WriteBatch::Handler {
 public:
  Exporter(uint32_t log, uint32_t tree, uint32_t streams, uint32_t ids,
           uint32_t records, uint32_t keys, absl::string_view kek,
           v1::ReplicatedAppend* out)
      : log_(log),
        tree_(tree),
        streams_(streams),
        ids_(ids),
        records_(records),
        keys_(keys),
        kek_(kek),
        kek_id_(ClusterKekId(kek)),
        out_(out) {}

  rocksdb::Status PutCF(uint32_t cf, const rocksdb::Slice& key,
                        const rocksdb::Slice& value) override {
    if (cf == log_) {
      out_->add_records(value.data(), value.size());
    } else if (cf == tree_ || cf == streams_) {
      // Derived from the records on apply.
    } else if (cf == ids_) {
      std::optional<EventIdEntry> entry = DecodeEventIdEntry(View(value));
      if (!entry.has_value()) return rocksdb::Status::Corruption("event id");
      out_->add_event_digests(entry->digest);
    } else if (cf == records_ && !key.empty()) {
      v1::ReplicatedRecordWrite* w = out_->add_record_writes();
      w->set_key(key.data() + 1, key.size() - 1);
      w->set_value(value.data(), value.size());
      if (key[0] == static_cast<char>(KeyPrefix::kSealedRecord)) {
        v1::EncryptedPersonal sealed;
        if (!sealed.ParseFromArray(value.data(), value.size())) {
          return rocksdb::Status::Corruption("sealed record");
        }
        w->set_seal_subject(sealed.subject_id());
      }
    } else if (cf == keys_) {
      absl::StatusOr<Sealed> wrapped =
          Seal(kek_, WrapAad(View(key)), View(value));
      if (!wrapped.ok()) return rocksdb::Status::Aborted("wrap");
      v1::ReplicatedKeyWrite* w = out_->add_key_writes();
      w->set_key(key.data(), key.size());
      w->set_nonce(std::move(wrapped->nonce));
      w->set_wrapped_value(std::move(wrapped->ciphertext));
      w->set_kek_id(kek_id_);
    } else {
      return rocksdb::Status::NotSupported("column family");
    }
    return rocksdb::Status::OK();
  }

  rocksdb::Status DeleteCF(uint32_t cf, const rocksdb::Slice& key) override {
    if (cf == records_ && !key.empty()) {
      // A removal deletes the plain and the sealed row: one write.
      const std::string name(key.data() + 1, key.size() - 1);
      const int n = out_->record_writes_size();
      if (n > 0 && out_->record_writes(n - 1).remove() &&
          out_->record_writes(n - 1).key() == name) {
        return rocksdb::Status::OK();
      }
      v1::ReplicatedRecordWrite* w = out_->add_record_writes();
      w->set_key(name);
      w->set_remove(true);
    } else if (cf == keys_) {
      v1::ReplicatedKeyWrite* w = out_->add_key_writes();
      w->set_key(key.data(), key.size());
      w->set_remove(true);
      w->set_kek_id(kek_id_);
    } else {
      return rocksdb::Status::NotSupported("delete in column family");
    }
    return rocksdb::Status::OK();
  }

 private:
  const uint32_t log_, tree_, streams_, ids_, records_, keys_;
  const absl::string_view kek_;
  const std::string kek_id_;
  v1::ReplicatedAppend* const out_;
};

}  // namespace

std::string ClusterKekId(absl::string_view kek) {
  return Sha256(kKekIdContext, kek).substr(0, 8);
}

absl::Status RocksDbEventLog::Impl::ExportAppend(
    const rocksdb::WriteBatch& batch, const AppendRequest& request,
    v1::ReplicatedAppend* out) {
  Exporter exporter(log_cf_->GetID(), tree_cf_->GetID(), streams_cf_->GetID(),
                    ids_cf_->GetID(), records_cf_->GetID(), keys_cf_->GetID(),
                    options_.cluster_kek, out);
  rocksdb::Status s = batch.Iterate(&exporter);
  if (!s.ok()) {
    return absl::InternalError(absl::StrCat(
        "cannot make a replicated entry of an append: ", s.ToString()));
  }
  for (const std::string& subject : request.erase_subjects) {
    out->add_erase_subjects(subject);
  }
  for (const std::string& org : request.erase_retaining) {
    out->add_erase_retaining(org);
  }
  return absl::OkStatus();
}

absl::Status RocksDbEventLog::Impl::ReloadWriterState() {
  Head head;
  {
    absl::MutexLock lock(&head_mu_);
    head = head_;
  }
  if (!writer_reload_ && head.position + 1 == next_position_ &&
      head.hash == last_hash_) {
    return absl::OkStatus();
  }
  absl::ReaderMutexLock lock(&db_mu_);
  if (db_closed_) return absl::UnavailableError("the event log is closed");
  ASSIGN_OR_RETURN(tree_, LoadTreeLocked(head.position));
  next_position_ = head.position + 1;
  last_hash_ = head.hash;
  versions_.Clear();
  writer_reload_ = false;
  return absl::OkStatus();
}

void RocksDbEventLog::Impl::CommitReplicated(std::vector<Pending>& batch) {
  absl::Status ready = options_.replication->Prepare();
  if (ready.ok()) ready = ReloadWriterState();
  if (!ready.ok()) {
    std::vector<absl::StatusOr<AppendResult>> refused(batch.size(), ready);
    Answer(batch, refused);
    return;
  }
  BatchState state;
  state.next_position = next_position_;
  state.last_hash = last_hash_;
  state.tree = tree_;
  const absl::Time now = clock_->Now();
  std::vector<absl::StatusOr<AppendResult>> results;
  std::vector<v1::ReplicatedAppend> appends;
  // Subject keys a refused append created stay the subjects' keys (as in
  // a single node's commit): they go with the next append written.
  std::vector<v1::ReplicatedKeyWrite> carried;
  for (Pending& pending : batch) {
    rocksdb::WriteBatch own;
    results.push_back(Decide(pending.request, now, &state, &own));
    v1::ReplicatedAppend append;
    if (absl::Status s = ExportAppend(own, pending.request, &append); !s.ok()) {
      // Not expected: the decisions of this batch cannot be written.
      std::vector<absl::StatusOr<AppendResult>> failed(batch.size(), s);
      Answer(batch, failed);
      writer_reload_ = true;
      return;
    }
    if (append.records_size() == 0) {
      for (auto& w : *append.mutable_key_writes()) carried.push_back(w);
      continue;
    }
    if (!carried.empty()) {
      google::protobuf::RepeatedPtrField<v1::ReplicatedKeyWrite> writes(
          carried.begin(), carried.end());
      writes.MergeFrom(append.key_writes());
      append.mutable_key_writes()->Swap(&writes);
      carried.clear();
    }
    appends.push_back(std::move(append));
  }
  ReplicatedCommitResult written{0, absl::OkStatus()};
  if (!appends.empty()) {
    written = options_.replication->Commit(appends);
    if (written.appends_written == appends.size()) {
      for (auto& [stream, version] : state.versions) {
        versions_.Put(stream, version);
      }
      next_position_ = state.next_position;
      last_hash_ = state.last_hash;
      tree_ = std::move(state.tree);
    } else {
      // Only what the replicated log holds counts: the next batch starts
      // from the store as applied.
      writer_reload_ = true;
      uint64_t first_lost = next_position_;
      for (size_t i = 0; i < written.appends_written; ++i) {
        first_lost += appends[i].records_size();
      }
      for (auto& result : results) {
        if (result.ok() && result->last_position >= first_lost) {
          result = written.status.ok() ? absl::UnavailableError("not written")
                                       : written.status;
        }
      }
    }
  }
  Answer(batch, results);
}

absl::Status RocksDbEventLog::Impl::ApplyAppend(
    const v1::ReplicatedAppend& append, BatchState* state,
    rocksdb::WriteBatch* batch) {
  if (append.event_digests_size() != append.records_size()) {
    return absl::DataLossError(
        "a replicated append has not one event digest per record");
  }
  for (int i = 0; i < append.records_size(); ++i) {
    const std::string& value = append.records(i);
    const uint64_t position = state->next_position;
    std::string hash;
    RETURN_IF_ERROR(
        VerifyRecordValue(value, state->last_hash, position, &hash));
    v1::RecordedEvent record;
    RETURN_IF_ERROR(DecodeRecord(value, &record));
    if (!IsUuid(record.event_id()) ||
        append.event_digests(i).size() != kHashBytes) {
      return absl::DataLossError(
          absl::StrCat("replicated record at position ", position,
                       " has a malformed event id or digest"));
    }
    batch->Put(log_cf_, LogKey(position), value);
    AppendToTree(value, state, batch);
    batch->Put(streams_cf_, StreamKey(record.stream(), record.stream_version()),
               EncodePosition(position));
    batch->Put(ids_cf_, EventIdKey(record.event_id()),
               EncodeEventIdEntry({position, record.stream_version(),
                                   append.event_digests(i)}));
    state->last_hash = std::move(hash);
    ++state->next_position;
  }
  for (const v1::ReplicatedRecordWrite& r : append.record_writes()) {
    if (r.remove()) {
      batch->Delete(records_cf_, RecordKey(r.key()));
      batch->Delete(records_cf_, SealedRecordKey(r.key()));
      state->removed_records.push_back(r.key());
    } else if (!r.seal_subject().empty()) {
      batch->Put(records_cf_, SealedRecordKey(r.key()), r.value());
    } else {
      batch->Put(records_cf_, RecordKey(r.key()), r.value());
    }
  }
  const std::string kek_id = ClusterKekId(options_.cluster_kek);
  for (const v1::ReplicatedKeyWrite& k : append.key_writes()) {
    if (k.kek_id() != kek_id) {
      return absl::FailedPreconditionError(absl::StrCat(
          "a replicated subject key is wrapped under another cluster "
          "key-encryption key than this node's --cluster_kek (key id ",
          absl::BytesToHexString(k.kek_id()), ", this node's ",
          absl::BytesToHexString(kek_id),
          "): every node of a cluster must hold the same key; nothing "
          "applied"));
    }
    if (k.remove()) {
      batch->Delete(keys_cf_, k.key());
      continue;
    }
    absl::StatusOr<std::string> value = Unseal(
        options_.cluster_kek, WrapAad(k.key()), k.nonce(), k.wrapped_value());
    if (!value.ok()) {
      return absl::FailedPreconditionError(
          "a replicated subject key does not unwrap under this node's "
          "--cluster_kek: nothing applied");
    }
    batch->Put(keys_cf_, k.key(), *value);
  }
  for (const std::string& subject : append.erase_subjects()) {
    state->erased.push_back(subject);
  }
  return absl::OkStatus();
}

absl::Status RocksDbEventLog::Impl::ApplyReplicated(
    const v1::ReplicatedEntry& entry, absl::string_view checkpoint) {
  if (options_.replication == nullptr) {
    return absl::FailedPreconditionError(
        "ApplyReplicated: this log is not in replicated mode");
  }
  uint64_t records = 0;
  for (const v1::ReplicatedAppend& a : entry.appends()) {
    records += a.records_size();
  }
  if (records == 0) {
    return absl::DataLossError("a replicated entry without records");
  }
  const uint64_t last = entry.first_position() + records - 1;
  absl::MutexLock apply(&apply_mu_);
  BatchState state;
  {
    absl::ReaderMutexLock lock(&db_mu_);
    if (db_closed_) return absl::UnavailableError("the event log is closed");
    const Head head = GetHead();
    if (last <= head.position) {
      // Applied before (a crash between etcd and this write, or the
      // follower's retry): the same bytes must be there.
      std::string stored;
      RETURN_IF_ERROR(FromRocks(
          db_->Get(rocksdb::ReadOptions(), log_cf_, LogKey(last), &stored),
          "cannot read the log"));
      const v1::ReplicatedAppend& tail =
          entry.appends(entry.appends_size() - 1);
      if (stored != tail.records(tail.records_size() - 1)) {
        return absl::DataLossError(absl::StrCat(
            "replicated entry at position ", entry.first_position(),
            " differs from the record this node holds at ", last,
            ": the node stops rather than diverge"));
      }
      return absl::OkStatus();
    }
    if (entry.first_position() != head.position + 1) {
      return absl::DataLossError(
          absl::StrCat("replicated entry starts at position ",
                       entry.first_position(), " but this node's log ends at ",
                       head.position, ": the node stops rather than diverge"));
    }
    if (!apply_tree_.has_value() ||
        apply_tree_->size() != static_cast<int64_t>(head.position)) {
      ASSIGN_OR_RETURN(apply_tree_, LoadTreeLocked(head.position));
    }
    state.next_position = head.position + 1;
    state.last_hash = head.hash;
    state.tree = *apply_tree_;
    rocksdb::WriteBatch batch;
    for (const v1::ReplicatedAppend& a : entry.appends()) {
      RETURN_IF_ERROR(ApplyAppend(a, &state, &batch));
    }
    batch.Put(default_cf_, ReplicationCheckpointKey(),
              internal::Slice(checkpoint));
    rocksdb::WriteOptions write_options;
    write_options.sync = options_.sync;
    RETURN_IF_ERROR(FromRocks(db_->Write(write_options, &batch),
                              "cannot write a replicated entry"));
    apply_tree_ = std::move(state.tree);
    if (metrics_.events != nullptr) metrics_.events->Increment(records);
    Scrub(state);
  }
  PublishHead(last, state.last_hash);
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>>
RocksDbEventLog::Impl::ReplicationCheckpoint() {
  absl::ReaderMutexLock lock(&db_mu_);
  if (db_closed_) return absl::UnavailableError("the event log is closed");
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), default_cf_,
                               ReplicationCheckpointKey(), &value);
  if (s.IsNotFound()) return std::nullopt;
  RETURN_IF_ERROR(FromRocks(s, "cannot read the replication checkpoint"));
  return value;
}

}  // namespace ycr::storage
