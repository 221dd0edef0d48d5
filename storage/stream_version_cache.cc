#include "storage/stream_version_cache.h"

namespace ycr::storage {

std::optional<uint64_t> StreamVersionCache::Get(absl::string_view stream) {
  if (auto it = young_.find(stream); it != young_.end()) return it->second;
  auto it = old_.find(stream);
  if (it == old_.end()) return std::nullopt;
  uint64_t version = it->second;
  Put(stream, version);
  return version;
}

void StreamVersionCache::Put(absl::string_view stream, uint64_t version) {
  if (auto it = young_.find(stream); it != young_.end()) {
    it->second = version;
    return;
  }
  if (young_.size() >= half_) {
    old_ = std::move(young_);
    young_.clear();
  }
  young_.emplace(stream, version);
}

}  // namespace ycr::storage
