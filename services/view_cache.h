#pragma once

// Folded views of the streams commands depend on (a consent, a concern, an
// agreement, a referral, an area), kept by stream with the version they were
// folded to, so that a command does not read and fold the same stream again
// for every call.
//
// A cached view may be stale: another writer may have moved its stream since.
// That is safe only where the command makes the append conditional on the
// stream being still at the view's version (CommandAttempt::Depend): a stale
// view then fails the append with a conflict on that stream, the command
// forgets it (Forget) and decides again from a fresh fold. A refusal has no
// append to check it, so a command refused on cached views decides again
// without the cache (DomainCommands::Execute).
//
// Only views of streams that exist (version > 0) are kept: "no such stream"
// is always read fresh. The views hold no personal data (the folds see
// events as stored, with their personal parts sealed). Bounded: two
// generations of at most capacity / 2 entries each, as StreamVersionCache.
// Thread-safe.

#include <cstddef>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace ycr::services {

template <typename View>
class ViewCache {
 public:
  explicit ViewCache(size_t capacity)
      : half_(capacity < 2 ? 1 : capacity / 2) {}

  // The view last folded for `stream`, if kept.
  std::optional<View> Get(absl::string_view stream) {
    absl::MutexLock lock(&mu_);
    if (auto it = young_.find(stream); it != young_.end()) return it->second;
    auto it = old_.find(stream);
    if (it == old_.end()) return std::nullopt;
    View view = it->second;
    PutLocked(stream, view);
    return view;
  }

  // Keeps `view` of `stream` unless it is of a missing stream or older than
  // the one kept.
  void Put(absl::string_view stream, const View& view) {
    if (view.version == 0) return;
    absl::MutexLock lock(&mu_);
    if (auto it = young_.find(stream);
        it != young_.end() && it->second.version >= view.version) {
      return;
    }
    PutLocked(stream, view);
  }

  // Drops what is kept of `stream` (it moved since).
  void Forget(absl::string_view stream) {
    absl::MutexLock lock(&mu_);
    young_.erase(stream);
    old_.erase(stream);
  }

  size_t size() {
    absl::MutexLock lock(&mu_);
    return young_.size() + old_.size();
  }

 private:
  void PutLocked(absl::string_view stream, const View& view)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (young_.size() >= half_ && !young_.contains(stream)) {
      old_ = std::move(young_);
      young_.clear();
    }
    young_.insert_or_assign(std::string(stream), view);
  }

  const size_t half_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, View> young_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, View> old_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ycr::services
