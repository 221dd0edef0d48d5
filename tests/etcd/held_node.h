#pragma once

// What the cluster tests that hold a node back share: a gate for failure
// injection (ReplicatedEventLogOptions::before_apply,
// projections::RunnerOptions::before_step), a bounded wait for a node to
// apply a position, and the check that a client's status names no etcd.

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "replication/replicated_event_log.h"

namespace ycr::testing {

// Holds the thread that calls Pass (a follower's apply loop, a projection's
// runner) while closed.
class Gate {
 public:
  void Close() {
    absl::MutexLock lock(&mu_);
    open_ = false;
  }
  void Open() {
    absl::MutexLock lock(&mu_);
    open_ = true;
  }
  // While closed, lets `n` more callers of Pass through.
  void Allow(int n) {
    absl::MutexLock lock(&mu_);
    allowed_ += n;
  }
  void Pass() {
    absl::MutexLock lock(&mu_);
    auto may_pass = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return open_ || allowed_ > 0;
    };
    mu_.Await(absl::Condition(&may_pass));
    if (!open_) --allowed_;
  }

 private:
  absl::Mutex mu_;
  bool open_ ABSL_GUARDED_BY(mu_) = true;
  int allowed_ ABSL_GUARDED_BY(mu_) = 0;
};

// Whether `log` applied `position` within 15 s.
inline bool AwaitApplied(replication::ReplicatedEventLog* log,
                         uint64_t position) {
  auto applied = std::make_shared<absl::Notification>();
  if (log->WatchHead(position, [applied] { applied->Notify(); }) == 0) {
    return true;
  }
  return applied->WaitForNotificationWithTimeout(absl::Seconds(15));
}

// Expects that `status` (message and details) names neither etcd nor the
// port of `etcd_endpoint` (host:port); `what` says which call.
inline void ExpectNoInfrastructure(const grpc::Status& status,
                                   const std::string& etcd_endpoint,
                                   const std::string& what) {
  const std::string port = etcd_endpoint.substr(etcd_endpoint.rfind(':') + 1);
  for (const std::string& text :
       {status.error_message(), status.error_details()}) {
    EXPECT_FALSE(absl::StrContains(text, port)) << what << ": " << text;
    EXPECT_FALSE(absl::StrContains(absl::AsciiStrToLower(text), "etcd"))
        << what << ": " << text;
  }
}

}  // namespace ycr::testing
