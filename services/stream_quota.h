#pragma once

// How many server streams (Subscribe, Audit.Trail,
// Audit.OrganisationDisclosures) one caller may hold open at once, so that
// one misbehaving client cannot tie up the server's readers. A caller is an
// organisation and user. Thread-safe.

#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "ycr/v1/event.pb.h"

namespace ycr::services {

class StreamQuota {
 public:
  // One open stream; the slot is given back when the lease is destroyed.
  // Must not outlive its quota.
  class Lease {
   public:
    Lease() = default;
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&& other) noexcept;
    ~Lease();

   private:
    friend class StreamQuota;
    Lease(StreamQuota* quota, std::string key)
        : quota_(quota), key_(std::move(key)) {}
    void Release();

    StreamQuota* quota_ = nullptr;
    std::string key_;
  };

  // `per_caller` open streams at most; 0: no limit.
  explicit StreamQuota(int per_caller) : per_caller_(per_caller) {}

  // A slot for `caller`, or RESOURCE_EXHAUSTED when it already holds
  // `per_caller` streams.
  absl::StatusOr<Lease> Acquire(const v1::Actor& caller);

  // Streams `caller` holds open now.
  int Open(const v1::Actor& caller) const;

 private:
  static std::string Key(const v1::Actor& caller);
  void Give(const std::string& key);

  const int per_caller_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, int> open_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ycr::services
