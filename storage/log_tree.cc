#include "storage/log_tree.h"

#include <bit>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace ycr::storage {

std::vector<int64_t> LogTree::FrontierIndexes(int64_t size) {
  std::vector<int64_t> indexes;
  int64_t at = 0;
  for (int level = 62; level >= 0; --level) {
    const int64_t width = int64_t{1} << level;
    if ((size & width) == 0) continue;
    indexes.push_back(tlog::StoredHashIndex(level, at >> level));
    at += width;
  }
  return indexes;
}

absl::StatusOr<LogTree> LogTree::Load(int64_t size,
                                      const tlog::HashReader& read) {
  LogTree tree;
  if (size < 0) return absl::InvalidArgumentError("negative tree size");
  tree.size_ = size;
  tree.next_index_ = tlog::StoredHashCount(size);
  if (size == 0) return tree;
  const std::vector<int64_t> indexes = FrontierIndexes(size);
  ASSIGN_OR_RETURN(tree.frontier_, read(indexes));
  if (tree.frontier_.size() != indexes.size()) {
    return absl::DataLossError(
        absl::StrCat("the tree of ", size, " records has ", indexes.size(),
                     " frontier hashes; read ", tree.frontier_.size()));
  }
  return tree;
}

void LogTree::Append(const tlog::Hash& record_hash,
                     std::vector<tlog::Hash>* stored) {
  // Each trailing one bit of size_ is a frontier subtree the new record
  // completes a larger one with, smallest (rightmost, last) first.
  const int completed = std::countr_one(static_cast<uint64_t>(size_));
  stored->clear();
  stored->push_back(record_hash);
  tlog::Hash hash = record_hash;
  for (int i = 0; i < completed; ++i) {
    hash = tlog::NodeHash(frontier_.back(), hash);
    frontier_.pop_back();
    stored->push_back(hash);
  }
  frontier_.push_back(hash);
  ++size_;
  next_index_ += 1 + completed;
}

tlog::Hash LogTree::Root() const {
  if (frontier_.empty()) return tlog::EmptyTreeHash();
  tlog::Hash hash = frontier_.back();
  for (size_t i = frontier_.size() - 1; i-- > 0;) {
    hash = tlog::NodeHash(frontier_[i], hash);
  }
  return hash;
}

}  // namespace ycr::storage
