#include "replication/replicated_access_log.h"

#include <algorithm>
#include <iostream>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/ids.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "replication/etcd_watch.h"
#include "replication/log_trimmer.h"
#include "storage/personal_crypto.h"
#include "storage/replicated_commit.h"

namespace ycr::replication {
namespace {

// Most entries in one batch (each is well under 1 KiB).
constexpr int kMaxAccessBatchEntries = 4096;
// Deletes per trimming transaction (etcd allows 128 operations).
constexpr int kTrimOpsPerTxn = 100;

std::string BatchesBegin(absl::string_view prefix) {
  return absl::StrCat(AccessPrefix(prefix), "/batch/");
}

// <prefix>/access/batch/<node>/<first entry's time, 20 digits>-<random>:
// unique without any state kept between flushes.
std::string BatchKey(absl::string_view prefix, absl::string_view node_id,
                     const v1::AccessLogEntry& first) {
  const int64_t micros = absl::ToUnixMicros(FromProtoTime(first.at()));
  return absl::StrCat(BatchesBegin(prefix), node_id, "/",
                      absl::StrFormat("%020d", std::max<int64_t>(micros, 0)),
                      "-", absl::BytesToHexString(RandomBytes(8)));
}

std::string BatchAad(absl::string_view key) {
  return absl::StrCat("ycr.access-batch.v1", std::string(1, '\0'), key);
}

Logger& DefaultLogger() {
  static Logger* const logger =
      new Logger(&std::cerr, LogFormat::kText, LogLevel::kInfo);
  return *logger;
}

}  // namespace

absl::StatusOr<std::string> SealAccessBatch(absl::string_view kek,
                                            absl::string_view key,
                                            const v1::AccessLogPage& page) {
  ASSIGN_OR_RETURN(storage::Sealed sealed,
                   storage::Seal(kek, BatchAad(key), page.SerializeAsString()));
  return absl::StrCat(kSealedAccessBatch, storage::ClusterKekId(kek),
                      sealed.nonce, sealed.ciphertext);
}

absl::StatusOr<v1::AccessLogPage> OpenAccessBatch(absl::string_view kek,
                                                  absl::string_view key,
                                                  absl::string_view value) {
  const std::string id = storage::ClusterKekId(kek);
  if (!absl::ConsumePrefix(&value, kSealedAccessBatch)) {
    return absl::DataLossError(
        absl::StrCat("access batch ", key,
                     " is not sealed (written in clear, or not by ycr)"));
  }
  if (value.size() < id.size() + storage::kNonceBytes) {
    return absl::DataLossError(
        absl::StrCat("access batch ", key, " is malformed"));
  }
  if (value.substr(0, id.size()) != id) {
    return absl::FailedPreconditionError(absl::StrCat(
        "access batch ", key, " is sealed under another cluster key (id ",
        absl::BytesToHexString(value.substr(0, id.size())), ", this node's ",
        absl::BytesToHexString(id),
        "): every node needs the same --cluster_kek"));
  }
  value.remove_prefix(id.size());
  absl::StatusOr<std::string> plain =
      storage::Unseal(kek, BatchAad(key), value.substr(0, storage::kNonceBytes),
                      value.substr(storage::kNonceBytes));
  v1::AccessLogPage page;
  if (!plain.ok() || !page.ParseFromString(*plain)) {
    return absl::DataLossError(absl::StrCat(
        "access batch ", key,
        " does not authenticate under the cluster key (tampered with in etcd, "
        "or moved from another key)"));
  }
  return page;
}

std::string AccessPrefix(absl::string_view prefix) {
  return absl::StrCat(prefix, "/access");
}

absl::StatusOr<int64_t> TrimAccessBatches(EtcdClient& client,
                                          absl::string_view prefix) {
  ASSIGN_OR_RETURN(auto marks, ListApplied(client, AccessPrefix(prefix)));
  if (marks.empty()) return 0;
  uint64_t lowest = marks.front().second;
  for (const auto& [name, mark] : marks) lowest = std::min(lowest, mark);
  const std::string begin = BatchesBegin(prefix);
  ASSIGN_OR_RETURN(etcdserverpb::RangeResponse batches,
                   client.Range(begin, PrefixEnd(begin)));
  int64_t deleted = 0;
  etcdserverpb::TxnRequest txn;
  auto flush = [&]() -> absl::Status {
    if (txn.success_size() == 0) return absl::OkStatus();
    ASSIGN_OR_RETURN(TxnOutcome outcome, client.TxnDecide(txn));
    if (outcome.succeeded) deleted += txn.success_size();
    txn.Clear();
    return absl::OkStatus();
  };
  for (const mvccpb::KeyValue& kv : batches.kvs()) {
    if (static_cast<uint64_t>(kv.mod_revision()) > lowest) continue;
    // Only the batch every node applied, not one put again since.
    *txn.add_compare() = ModRevisionIs(kv.key(), kv.mod_revision());
    *txn.add_success() = DeleteOp(kv.key());
    if (txn.success_size() == kTrimOpsPerTxn) RETURN_IF_ERROR(flush());
  }
  RETURN_IF_ERROR(flush());
  return deleted;
}

absl::StatusOr<std::unique_ptr<ReplicatedAccessLog>> ReplicatedAccessLog::Start(
    ReplicatedAccessLogOptions options,
    std::unique_ptr<storage::AccessLogStore> local) {
  if (options.client == nullptr || options.node_id.empty() ||
      options.kek.size() != storage::kClusterKekBytes) {
    return absl::InvalidArgumentError(
        "replicated access log: an etcd client, a node id and the cluster "
        "key-encryption key are required");
  }
  ASSIGN_OR_RETURN(int64_t mark, local->ReplicatedMark());
  std::unique_ptr<ReplicatedAccessLog> log(
      new ReplicatedAccessLog(std::move(options), std::move(local), mark));
  log->applier_ = std::thread([raw = log.get()] { raw->ApplyLoop(); });
  return log;
}

ReplicatedAccessLog::ReplicatedAccessLog(
    ReplicatedAccessLogOptions options,
    std::unique_ptr<storage::AccessLogStore> local, int64_t mark)
    : options_(std::move(options)),
      logger_(options_.logger != nullptr ? options_.logger : &DefaultLogger()),
      local_(std::move(local)),
      mark_(mark) {}

ReplicatedAccessLog::~ReplicatedAccessLog() { Stop(); }

void ReplicatedAccessLog::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (applier_.joinable()) applier_.join();
}

int64_t ReplicatedAccessLog::mark() {
  absl::MutexLock lock(&mu_);
  return mark_;
}

bool ReplicatedAccessLog::StoppedWithin(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(&stopping_), timeout);
}

absl::Status ReplicatedAccessLog::Write(
    std::vector<v1::AccessLogEntry>* entries) {
  size_t done = 0;
  int64_t last_revision = 0;
  while (done < entries->size()) {
    v1::AccessLogPage batch;
    size_t bytes = 0;
    while (done + batch.entries_size() < entries->size() &&
           batch.entries_size() < kMaxAccessBatchEntries) {
      const v1::AccessLogEntry& next = (*entries)[done + batch.entries_size()];
      const size_t size = next.ByteSizeLong() + 8;
      if (batch.entries_size() > 0 && bytes + size > kMaxAccessBatchBytes) {
        break;
      }
      bytes += size;
      *batch.add_entries() = next;
    }
    const std::string key =
        BatchKey(options_.prefix, options_.node_id, batch.entries(0));
    absl::StatusOr<std::string> sealed =
        SealAccessBatch(options_.kek, key, batch);
    absl::StatusOr<TxnOutcome> put = absl::InternalError("not sealed");
    if (!sealed.ok()) {
      put = sealed.status();
    } else {
      etcdserverpb::TxnRequest txn;
      *txn.add_success() = PutOp(key, *sealed);
      put = options_.client->TxnDecide(txn);
    }
    if (!put.ok()) {
      entries->erase(entries->begin(), entries->begin() + done);
      return absl::UnavailableError(absl::StrCat(
          "the access log cannot be written to etcd (", put.status().message(),
          "): reads of personal data are refused until it can"));
    }
    last_revision = put->response.header().revision();
    done += batch.entries_size();
  }
  // Visible here before the flush returns (bounded: durable either way).
  absl::MutexLock lock(&mu_);
  auto applied = [this, last_revision]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopping_ || mark_ >= last_revision || !refused_.empty();
  };
  mu_.AwaitWithTimeout(absl::Condition(&applied), options_.apply_wait);
  return absl::OkStatus();
}

absl::Status ReplicatedAccessLog::Refuse(const std::string& key,
                                         const absl::Status& why) {
  absl::MutexLock lock(&mu_);
  if (refused_ != key) {
    // Not passed over: the entries in it would be lost without a trace.
    logger_->Log(LogLevel::kError, "replication.access_batch_refused",
                 {{"key", key}, {"error", std::string(why.message())}});
  }
  refused_ = key;
  return why;
}

bool ReplicatedAccessLog::refused() {
  absl::MutexLock lock(&mu_);
  return !refused_.empty();
}

absl::Status ReplicatedAccessLog::Whole() {
  absl::MutexLock lock(&mu_);
  if (refused_.empty()) return absl::OkStatus();
  return absl::DataLossError(
      "this node's copy of the cluster's access log is held at a batch that "
      "does not open under the cluster key (tampered with, or sealed under "
      "another key): the reads logged after it are not shown here until it "
      "is removed (the server's log names it)");
}

absl::StatusOr<storage::AccessPage> ReplicatedAccessLog::ListBySubject(
    absl::string_view subject_id, const storage::AccessTimeRange& range,
    const std::optional<storage::AccessCursor>& start, size_t limit) {
  RETURN_IF_ERROR(Whole());
  return local_->ListBySubject(subject_id, range, start, limit);
}

absl::StatusOr<storage::AccessPage> ReplicatedAccessLog::ListByReader(
    absl::string_view organisation, absl::string_view user,
    const storage::AccessTimeRange& range,
    const std::optional<storage::AccessCursor>& start, size_t limit) {
  RETURN_IF_ERROR(Whole());
  return local_->ListByReader(organisation, user, range, start, limit);
}

absl::Status ReplicatedAccessLog::Apply(const KeyValue& kv) {
  absl::StatusOr<v1::AccessLogPage> batch =
      OpenAccessBatch(options_.kek, kv.key, kv.value);
  if (!batch.ok()) return Refuse(kv.key, batch.status());
  std::vector<v1::AccessLogEntry> entries(batch->entries().begin(),
                                          batch->entries().end());
  while (true) {
    std::vector<v1::AccessLogEntry> copy = entries;
    absl::Status written = local_->WriteReplicated(&copy, kv.mod_revision);
    if (written.ok()) break;
    logger_->Log(LogLevel::kWarning, "replication.access_apply_failed",
                 {{"key", kv.key}, {"error", std::string(written.message())}});
    if (StoppedWithin(absl::Milliseconds(200))) return absl::OkStatus();
  }
  absl::MutexLock lock(&mu_);
  mark_ = kv.mod_revision;
  return absl::OkStatus();
}

absl::Status ReplicatedAccessLog::CatchUp(int64_t* read_at) {
  const std::string begin = BatchesBegin(options_.prefix);
  ASSIGN_OR_RETURN(etcdserverpb::RangeResponse batches,
                   options_.client->Range(begin, PrefixEnd(begin)));
  std::vector<KeyValue> pending;
  const int64_t from = mark();
  for (const mvccpb::KeyValue& kv : batches.kvs()) {
    if (kv.mod_revision() > from) pending.push_back(FromProto(kv));
  }
  std::sort(pending.begin(), pending.end(),
            [](const KeyValue& a, const KeyValue& b) {
              return a.mod_revision < b.mod_revision;
            });
  for (const KeyValue& kv : pending) {
    RETURN_IF_ERROR(Apply(kv));
    if (StoppedWithin(absl::ZeroDuration())) break;
  }
  *read_at = batches.header().revision();
  absl::MutexLock lock(&mu_);
  if (!refused_.empty()) {
    logger_->Log(LogLevel::kInfo, "replication.access_batch_gone",
                 {{"key", refused_}});
    refused_.clear();
  }
  return absl::OkStatus();
}

void ReplicatedAccessLog::MaybePublish() {
  const int64_t now = mark();
  if (now == published_ || absl::Now() - published_at_ < absl::Seconds(1)) {
    return;
  }
  if (PublishApplied(*options_.client, AccessPrefix(options_.prefix),
                     options_.node_id, static_cast<uint64_t>(now))
          .ok()) {
    published_ = now;
    published_at_ = absl::Now();
  }
}

void ReplicatedAccessLog::ApplyLoop() {
  const std::string begin = BatchesBegin(options_.prefix);
  while (!StoppedWithin(absl::ZeroDuration())) {
    int64_t read_at = 0;
    if (absl::Status s = CatchUp(&read_at); !s.ok()) {
      // etcd did not answer, or a batch does not open (read again: it may
      // have been removed).
      StoppedWithin(absl::Milliseconds(refused() ? 1000 : 200));
      continue;
    }
    MaybePublish();
    absl::StatusOr<std::unique_ptr<EtcdWatch>> watch =
        options_.client->Watch(begin, PrefixEnd(begin), read_at + 1);
    if (!watch.ok()) {
      StoppedWithin(absl::Milliseconds(200));
      continue;
    }
    while (!StoppedWithin(absl::ZeroDuration())) {
      absl::StatusOr<std::vector<WatchEvent>> events =
          (*watch)->Next(absl::Now() + absl::Milliseconds(250));
      if (!events.ok()) {
        if (absl::IsDeadlineExceeded(events.status())) {
          MaybePublish();
          continue;
        }
        break;  // Broken or compacted: read again from the mark.
      }
      bool held = false;
      for (const WatchEvent& event : *events) {
        if (event.deleted || event.kv.mod_revision <= mark()) continue;
        if (!Apply(event.kv).ok()) {
          held = true;
          break;
        }
      }
      if (held) break;  // Read again from the mark (CatchUp).
      MaybePublish();
    }
  }
}

}  // namespace ycr::replication
