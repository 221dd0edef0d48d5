#include "replication/replicated_log_writer.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "google/protobuf/io/coded_stream.h"
#include "storage/record_codec.h"
#include "ycr/v1/event.pb.h"

namespace ycr::replication {
namespace {

// The bytes a message of `size` bytes adds to its parent as a
// length-delimited field (tag < 16).
size_t FieldBytes(size_t size) {
  return 1 + google::protobuf::io::CodedOutputStream::VarintSize64(size) + size;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ReplicatedLogWriter>> ReplicatedLogWriter::Open(
    EtcdClient* client, ReplicatedLogOptions options,
    std::optional<Fence> fence) {
  if (options.prefix.empty() || options.prefix.size() > kMaxPrefixBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("prefix: 1 to ", kMaxPrefixBytes, " bytes"));
  }
  if (options.max_entry_bytes < 1024 ||
      options.max_entry_bytes > kDefaultMaxEntryBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_entry_bytes: 1024 to ", kDefaultMaxEntryBytes,
                     " (etcd refuses a request over 1.5 MiB by default)"));
  }
  if (fence.has_value() &&
      (fence->key.empty() || fence->create_revision <= 0)) {
    return absl::InvalidArgumentError(
        "fence: a key and its create revision (from Campaign)");
  }
  std::unique_ptr<ReplicatedLogWriter> writer(
      new ReplicatedLogWriter(client, std::move(options), std::move(fence)));
  ASSIGN_OR_RETURN(std::optional<KeyValue> head,
                   client->Get(HeadKey(writer->options_.prefix)));
  if (!head.has_value()) {
    writer->head_.set_last_record_hash(storage::GenesisHash());
    writer->head_.set_entry_hash(NoEntryHash());
    return writer;
  }
  if (!writer->head_.ParseFromString(head->value)) {
    return absl::DataLossError(
        absl::StrCat("etcd ", head->key, ": not a ReplicatedHead"));
  }
  writer->head_revision_ = head->mod_revision;
  return writer;
}

absl::StatusOr<std::vector<size_t>> ReplicatedLogWriter::Plan(
    const std::vector<v1::ReplicatedAppend>& appends) const {
  ChainEnd end{head_.last_position(), head_.last_record_hash()};
  // An entry without appends: its first position and the previous hash.
  v1::ReplicatedEntry bare;
  bare.set_first_position(UINT64_MAX);
  bare.set_prev_entry_hash(NoEntryHash());
  const size_t bare_bytes = bare.ByteSizeLong();
  std::vector<size_t> starts;
  size_t entry_bytes = 0;
  for (size_t i = 0; i < appends.size(); ++i) {
    const v1::ReplicatedAppend& append = appends[i];
    RETURN_IF_ERROR(ContinueChain(append, absl::StrCat("appends[", i, "]"),
                                  absl::StatusCode::kInvalidArgument, &end));
    const size_t bytes = FieldBytes(append.ByteSizeLong());
    if (bare_bytes + bytes > options_.max_entry_bytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("appends[", i, "]: ", bytes,
                       " bytes, over the replicated entry "
                       "limit of ",
                       options_.max_entry_bytes,
                       " bytes (an append is never split across entries)"));
    }
    if (starts.empty() || entry_bytes + bytes > options_.max_entry_bytes) {
      starts.push_back(i);
      entry_bytes = bare_bytes;
    }
    entry_bytes += bytes;
  }
  return starts;
}

WriteResult ReplicatedLogWriter::Write(
    const std::vector<v1::ReplicatedAppend>& appends) {
  WriteResult result;
  if (deposed_) {
    result.status = absl::FailedPreconditionError(
        "replicated log: this writer was deposed; it never writes again");
    return result;
  }
  if (in_doubt_.has_value()) {
    result.status = absl::UnavailableError(
        "replicated log: the last entry's outcome is unknown; Recover() "
        "first");
    return result;
  }
  absl::StatusOr<std::vector<size_t>> starts = Plan(appends);
  if (!starts.ok()) {
    result.status = starts.status();
    return result;
  }
  for (size_t k = 0; k < starts->size(); ++k) {
    const size_t end =
        k + 1 < starts->size() ? (*starts)[k + 1] : appends.size();
    result.status = WriteEntry(appends, (*starts)[k], end);
    if (!result.status.ok()) return result;
    result.appends_written = end;
  }
  return result;
}

absl::Status ReplicatedLogWriter::WriteEntry(
    const std::vector<v1::ReplicatedAppend>& appends, size_t begin,
    size_t end) {
  v1::ReplicatedEntry entry;
  entry.set_first_position(head_.last_position() + 1);
  entry.set_prev_entry_hash(head_.entry_hash());
  for (size_t i = begin; i < end; ++i) *entry.add_appends() = appends[i];
  const std::string value = entry.SerializeAsString();
  const v1::ReplicatedAppend& last_append = appends[end - 1];
  const std::string& last_record =
      last_append.records(last_append.records_size() - 1);

  v1::ReplicatedHead next;
  next.set_last_position(head_.last_position());
  for (size_t i = begin; i < end; ++i) {
    next.set_last_position(next.last_position() + appends[i].records_size());
  }
  next.set_last_record_hash(last_record.substr(0, 32));
  next.set_entry_hash(EntryHash(value));
  next.set_entry_key(EntryKey(options_.prefix, entry.first_position()));

  const std::string head_key = HeadKey(options_.prefix);
  etcdserverpb::TxnRequest txn;
  *txn.add_compare() = ModRevisionIs(head_key, head_revision_);
  *txn.add_compare() = CreateRevisionIs(next.entry_key(), 0);
  if (fence_.has_value()) {
    *txn.add_compare() = CreateRevisionIs(fence_->key, fence_->create_revision);
  }
  *txn.add_success() = PutOp(next.entry_key(), value);
  *txn.add_success() = PutOp(head_key, next.SerializeAsString());
  *txn.add_failure() = RangeOp(head_key);
  *txn.add_failure() = RangeOp(next.entry_key());
  // A call that fails fast (the member it went to died under it) is sent
  // again, as it is: if the first one committed, the head now names this
  // entry and the second's failure branch says so. A call that ran out its
  // deadline is not (no majority, most likely): it is left in doubt.
  absl::StatusOr<TxnOutcome> outcome;
  const absl::Time txn_start = absl::Now();
  for (int attempt = 0; attempt < 3; ++attempt) {
    const absl::Time start = absl::Now();
    outcome = client_->TxnDecide(txn);
    if (outcome.ok() ||
        outcome.status().code() == absl::StatusCode::kInvalidArgument ||
        absl::Now() - start > client_->call_timeout() / 2) {
      break;
    }
  }
  RecordTransaction(options_.metrics, txn_start, entry, outcome);
  if (!outcome.ok()) {
    // etcd refuses an invalid request before proposing it; anything else
    // may yet have committed.
    if (outcome.status().code() != absl::StatusCode::kInvalidArgument) {
      in_doubt_ = InDoubt{next, end - begin};
    }
    return outcome.status();
  }
  if (!outcome->succeeded) {
    const auto& found = outcome->response.responses(0).response_range();
    const auto& ours = outcome->response.responses(1).response_range();
    if (ours.kvs_size() > 0 &&
        EntryHash(ours.kvs(0).value()) == next.entry_hash()) {
      // An earlier attempt committed it. If another writer has written
      // since, this one is deposed from the next entry on.
      const bool head_is_ours =
          found.kvs_size() > 0 &&
          found.kvs(0).mod_revision() == ours.kvs(0).mod_revision();
      head_ = std::move(next);
      head_revision_ = ours.kvs(0).mod_revision();
      deposed_ = !head_is_ours;
      return absl::OkStatus();
    }
  }
  if (!outcome->succeeded) {
    deposed_ = true;
    const auto& range = outcome->response.responses(0).response_range();
    const int64_t now = range.kvs_size() > 0 ? range.kvs(0).mod_revision() : 0;
    std::string why;
    if (now != head_revision_) {
      why = absl::StrCat("another writer moved the head (revision ", now,
                         ", this writer's ", head_revision_, ")");
    } else if (outcome->response.responses(1).response_range().kvs_size() > 0) {
      why = absl::StrCat("an entry already exists at ", next.entry_key(),
                         " (the head was removed or reset?)");
    } else {
      why = "the fence key is gone (lease expired or leader resigned)";
    }
    return absl::FailedPreconditionError(
        absl::StrCat("replicated log: deposed: ", why));
  }
  head_ = std::move(next);
  head_revision_ = outcome->response.header().revision();
  return absl::OkStatus();
}

absl::StatusOr<size_t> ReplicatedLogWriter::Recover() {
  if (deposed_) {
    return absl::FailedPreconditionError(
        "replicated log: this writer was deposed");
  }
  if (!in_doubt_.has_value()) return 0;
  // Settle it for good: re-put the head as this writer knows it, fenced like
  // an entry. If that commits, the entry in doubt never can (its compare on
  // the head's revision fails from now on).
  const std::string head_key = HeadKey(options_.prefix);
  etcdserverpb::TxnRequest txn;
  *txn.add_compare() = ModRevisionIs(head_key, head_revision_);
  if (fence_.has_value()) {
    *txn.add_compare() = CreateRevisionIs(fence_->key, fence_->create_revision);
  }
  *txn.add_success() = PutOp(head_key, head_.SerializeAsString());
  *txn.add_failure() = RangeOp(head_key);
  ASSIGN_OR_RETURN(TxnOutcome outcome, client_->TxnDecide(txn));
  const InDoubt doubt = *std::move(in_doubt_);
  in_doubt_.reset();
  if (outcome.succeeded) {
    head_revision_ = outcome.response.header().revision();
    return 0;
  }
  const auto& range = outcome.response.responses(0).response_range();
  v1::ReplicatedHead found;
  if (range.kvs_size() > 0 && found.ParseFromString(range.kvs(0).value())) {
    if (found.entry_hash() == doubt.head.entry_hash()) {
      // It landed: go on from it. (A fence gone since is found by the next
      // Write.)
      head_ = std::move(found);
      head_revision_ = range.kvs(0).mod_revision();
      return doubt.appends;
    }
    if (found.SerializeAsString() == head_.SerializeAsString()) {
      // Only the revision moved: an earlier settling put of this head that
      // got no answer. The entry in doubt can no longer land.
      head_revision_ = range.kvs(0).mod_revision();
      return 0;
    }
  }
  deposed_ = true;
  return absl::FailedPreconditionError(
      "replicated log: deposed while an entry was in doubt");
}

}  // namespace ycr::replication
