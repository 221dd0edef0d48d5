#pragma once

// A bounded map from stream id to current version, for the writer thread's
// version checks. Two generations approximate LRU cheaply: lookups hit the
// young generation, or promote from the old one; when the young one is full
// it becomes the old one. Memory is bounded by `capacity` entries (2x at
// most). Not thread-safe: the log's writer thread owns it.

#include <cstdint>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"

namespace ycr::storage {

class StreamVersionCache {
 public:
  explicit StreamVersionCache(size_t capacity)
      : half_(capacity < 2 ? 1 : capacity / 2) {}

  std::optional<uint64_t> Get(absl::string_view stream);
  void Put(absl::string_view stream, uint64_t version);
  size_t size() const { return young_.size() + old_.size(); }
  // Forgets every version (after a failed write, when memory may not match
  // the store).
  void Clear() {
    young_.clear();
    old_.clear();
  }

 private:
  size_t half_;
  absl::flat_hash_map<std::string, uint64_t> young_;
  absl::flat_hash_map<std::string, uint64_t> old_;
};

}  // namespace ycr::storage
