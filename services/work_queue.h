#pragma once

// A fixed pool of threads running posted tasks in order of posting. gRPC
// reactions post reads here so that no reaction blocks on storage.

#include <deque>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"

namespace ycr::services {

class WorkQueue {
 public:
  explicit WorkQueue(int threads);
  // Stops and joins.
  ~WorkQueue();

  // Runs `task` on a pool thread. After Stop(), tasks are dropped.
  // Thread-safe.
  void Post(absl::AnyInvocable<void() &&> task);

  // Runs every task already posted, then joins the threads. Idempotent.
  void Stop();

 private:
  void Run();

  absl::Mutex mu_;
  absl::CondVar cv_;
  std::deque<absl::AnyInvocable<void() &&>> tasks_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace ycr::services
