// RocksDbEventLog, part 4 of 4 (see rocksdb_event_log_impl.h): the Merkle
// tree's stored hashes and leaves that readers ask for, its frontier loaded
// from the store, and the check of the stored hashes against the records.
// The writer appends to the tree in rocksdb_event_log_writer.cc
// (AppendToTree is here).

#include <rocksdb/db.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "storage/key_format.h"
#include "storage/log_tree.h"
#include "storage/rocksdb_event_log.h"
#include "storage/rocksdb_event_log_impl.h"
#include "storage/rocksdb_internal.h"

namespace ycr::storage {
namespace {

using internal::FromRocks;
using internal::View;

// Hashes one ReadTreeHashes call may ask for: a proof needs about 2 log2(n)
// and a tile 256; this bounds one call's memory at 2 MiB.
constexpr size_t kMaxTreeHashesPerRead = 1 << 16;

absl::Status TreeMismatch(uint64_t position, int64_t index,
                          absl::string_view what) {
  int level = 0;
  int64_t n = 0;
  tlog::SplitStoredHashIndex(index, &level, &n);
  return absl::DataLossError(absl::StrCat(
      "the log's Merkle tree does not match its records at position ", position,
      ": stored hash ", index, " (level ", level, ", subtree ", n, ") ", what,
      "; run ycr-server verify and restore from a backup"));
}

}  // namespace

namespace internal {

TreeChecker::TreeChecker(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* tree_cf,
                         LogTree tree)
    : tree_(std::move(tree)),
      it_(db->NewIterator(rocksdb::ReadOptions(), tree_cf)) {
  it_->Seek(TreeHashKey(tree_.next_index()));
}

absl::Status TreeChecker::Check(uint64_t position, absl::string_view leaf) {
  tree_.Append(tlog::RecordHash(leaf), &stored_);
  const int64_t first =
      tree_.next_index() - static_cast<int64_t>(stored_.size());
  for (size_t i = 0; i < stored_.size(); ++i) {
    const int64_t index = first + static_cast<int64_t>(i);
    RETURN_IF_ERROR(FromRocks(it_->status(), "cannot read the log's tree"));
    if (!it_->Valid() || DecodeTreeHashKey(View(it_->key())) != index) {
      return TreeMismatch(position, index, "is missing");
    }
    if (View(it_->value()) != tlog::HashBytes(stored_[i])) {
      return TreeMismatch(position, index,
                          absl::StrCat("differs from the hash of the records (",
                                       tlog::HashHex(stored_[i]), ")"));
    }
    it_->Next();
  }
  return absl::OkStatus();
}

}  // namespace internal

void RocksDbEventLog::Impl::AppendToTree(absl::string_view value,
                                         BatchState* state,
                                         rocksdb::WriteBatch* batch) {
  const int64_t first = state->tree.next_index();
  state->tree.Append(tlog::RecordHash(value.substr(kHashBytes)),
                     &state->stored);
  for (size_t i = 0; i < state->stored.size(); ++i) {
    batch->Put(
        tree_cf_, TreeHashKey(first + static_cast<int64_t>(i)),
        rocksdb::Slice(reinterpret_cast<const char*>(state->stored[i].data()),
                       state->stored[i].size()));
  }
}

absl::StatusOr<std::vector<tlog::Hash>> RocksDbEventLog::Impl::ReadTreeHashes(
    absl::Span<const int64_t> indexes) {
  if (indexes.size() > kMaxTreeHashesPerRead) {
    return absl::InvalidArgumentError(
        absl::StrCat("indexes: ", indexes.size(), " stored hashes asked for, ",
                     kMaxTreeHashesPerRead, " at most per read"));
  }
  const uint64_t size = GetHead().position;
  const int64_t count = tlog::StoredHashCount(static_cast<int64_t>(size));
  for (size_t i = 0; i < indexes.size(); ++i) {
    if (indexes[i] < 0 || indexes[i] >= count) {
      return absl::NotFoundError(
          absl::StrCat("indexes[", i, "]: stored hash ", indexes[i],
                       " is not in the log's tree of ", size, " records (",
                       count, " stored hashes)"));
    }
  }
  absl::ReaderMutexLock lock(&db_mu_);
  if (db_closed_) return absl::UnavailableError("the event log is closed");
  return ReadTreeHashesLocked(indexes);
}

absl::StatusOr<std::vector<tlog::Hash>>
RocksDbEventLog::Impl::ReadTreeHashesLocked(absl::Span<const int64_t> indexes) {
  const size_t n = indexes.size();
  std::vector<std::string> keys(n);
  std::vector<rocksdb::Slice> slices(n);
  for (size_t i = 0; i < n; ++i) {
    keys[i] = TreeHashKey(indexes[i]);
    slices[i] = keys[i];
  }
  std::vector<rocksdb::PinnableSlice> values(n);
  std::vector<rocksdb::Status> statuses(n);
  db_->MultiGet(rocksdb::ReadOptions(), tree_cf_, n, slices.data(),
                values.data(), statuses.data());
  std::vector<tlog::Hash> hashes(n);
  for (size_t i = 0; i < n; ++i) {
    if (statuses[i].IsNotFound()) {
      return absl::DataLossError(
          absl::StrCat("the log's tree has no stored hash ", indexes[i],
                       " although its records need it; run ycr-server verify"));
    }
    RETURN_IF_ERROR(FromRocks(statuses[i], "cannot read the log's tree"));
    absl::StatusOr<tlog::Hash> hash = tlog::HashFromBytes(View(values[i]));
    if (!hash.ok()) {
      return absl::DataLossError(
          absl::StrCat("the log's stored hash ", indexes[i],
                       " is malformed: ", hash.status().message()));
    }
    hashes[i] = *hash;
  }
  return hashes;
}

absl::StatusOr<LogTree> RocksDbEventLog::Impl::LoadTreeLocked(uint64_t size) {
  // Called with db_mu_ held (shared) by the caller.
  return LogTree::Load(static_cast<int64_t>(size),
                       [this](absl::Span<const int64_t> indexes)
                           ABSL_NO_THREAD_SAFETY_ANALYSIS {
                             return ReadTreeHashesLocked(indexes);
                           });
}

absl::StatusOr<std::string> RocksDbEventLog::Impl::ReadLeaf(uint64_t position) {
  const uint64_t head = GetHead().position;
  if (position < 1 || position > head) {
    return absl::NotFoundError(absl::StrCat(
        "position: ", position, " is not in the log (1..", head, ")"));
  }
  absl::ReaderMutexLock lock(&db_mu_);
  if (db_closed_) return absl::UnavailableError("the event log is closed");
  rocksdb::PinnableSlice value;
  RETURN_IF_ERROR(FromRocks(
      db_->Get(rocksdb::ReadOptions(), log_cf_, LogKey(position), &value),
      absl::StrCat("cannot read log position ", position)));
  if (value.size() < kHashBytes) {
    return absl::DataLossError(
        absl::StrCat("log record at position ", position, " is malformed"));
  }
  return std::string(value.data() + kHashBytes, value.size() - kHashBytes);
}

}  // namespace ycr::storage
