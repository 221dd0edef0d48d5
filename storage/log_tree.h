#pragma once

// LogTree: the right edge of the log's Merkle tree (common/tlog.h), kept in
// memory so that appending never reads the store for the tree.
//
// A tree of `size` records has one complete subtree per set bit of `size`
// on its right edge (its "frontier"): the hashes of those subtrees are all
// that appending the next record needs, and all the root needs. Appending
// record n completes one subtree per trailing one bit of n, each the node
// hash of a frontier hash and the subtree just completed; the hashes it
// yields are exactly tlog::StoredHashes(n, record_hash, read) (tested
// against it), in the same order, from index tlog::StoredHashIndex(0, n).
//
// A plain value: the writer copies it for a group commit, appends the
// batch's records to the copy, and keeps the copy only once the batch is
// durable. Not thread-safe.

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "common/tlog.h"

namespace ycr::storage {

class LogTree {
 public:
  // The empty tree.
  LogTree() = default;

  // The stored-hash indexes of the frontier of a tree of `size` records,
  // largest subtree (leftmost) first: what Load reads.
  static std::vector<int64_t> FrontierIndexes(int64_t size);
  // The tree of `size` records, its frontier read through `read` (one
  // call). DATA_LOSS when `read` returns the wrong number of hashes.
  static absl::StatusOr<LogTree> Load(int64_t size,
                                      const tlog::HashReader& read);

  // Records in the tree.
  int64_t size() const { return size_; }
  // Stored hashes of the tree (tlog::StoredHashCount(size())): the index
  // of the first hash the next Append yields.
  int64_t next_index() const { return next_index_; }

  // Appends the record whose leaf hash is `record_hash` and sets *stored to
  // the hashes to store for it, from index next_index() before the call.
  void Append(const tlog::Hash& record_hash, std::vector<tlog::Hash>* stored);

  // The root hash, MTH of the size() records (tlog::TreeHash(size())).
  tlog::Hash Root() const;

 private:
  int64_t size_ = 0;
  int64_t next_index_ = 0;
  // One hash per set bit of size_, the largest subtree first.
  std::vector<tlog::Hash> frontier_;
};

}  // namespace ycr::storage
