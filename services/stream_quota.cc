#include "services/stream_quota.h"

#include "absl/strings/str_cat.h"

namespace ycr::services {

StreamQuota::Lease::Lease(Lease&& other) noexcept
    : quota_(other.quota_), key_(std::move(other.key_)) {
  other.quota_ = nullptr;
}

StreamQuota::Lease& StreamQuota::Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    Release();
    quota_ = other.quota_;
    key_ = std::move(other.key_);
    other.quota_ = nullptr;
  }
  return *this;
}

StreamQuota::Lease::~Lease() { Release(); }

void StreamQuota::Lease::Release() {
  if (quota_ != nullptr) quota_->Give(key_);
  quota_ = nullptr;
}

std::string StreamQuota::Key(const v1::Actor& caller) {
  // Neither part may hold a NUL (caller_identity.h: printable ASCII).
  return absl::StrCat(caller.organisation(), std::string(1, '\0'),
                      caller.user());
}

absl::StatusOr<StreamQuota::Lease> StreamQuota::Acquire(
    const v1::Actor& caller) {
  std::string key = Key(caller);
  absl::MutexLock lock(&mu_);
  int& open = open_[key];
  if (per_caller_ > 0 && open >= per_caller_) {
    if (open == 0) open_.erase(key);
    return absl::ResourceExhaustedError(absl::StrCat(
        "at most ", per_caller_, " streams open at once per caller (",
        caller.organisation(), "/", caller.user(),
        " has that many); close one, or page with unary calls"));
  }
  ++open;
  return Lease(this, std::move(key));
}

int StreamQuota::Open(const v1::Actor& caller) const {
  absl::MutexLock lock(&mu_);
  auto it = open_.find(Key(caller));
  return it == open_.end() ? 0 : it->second;
}

void StreamQuota::Give(const std::string& key) {
  absl::MutexLock lock(&mu_);
  auto it = open_.find(key);
  if (it == open_.end()) return;
  if (--it->second <= 0) open_.erase(it);
}

}  // namespace ycr::services
