// The append queue is bounded in bytes: while the writer is busy, appends
// past LogLimits::max_queued_bytes are refused with RESOURCE_EXHAUSTED, and
// those queued all complete once it moves on.

#include <atomic>

#include "absl/synchronization/notification.h"
#include "common/clock.h"
#include "gtest/gtest.h"
#include "storage/rocksdb_event_log.h"
#include "tests/unit/test_util.h"

namespace ycr::test {
namespace {

// A clock whose first Now() blocks until released: it holds the log's
// writer inside its first group commit.
class GateClock : public Clock {
 public:
  absl::Time Now() const override {
    if (!first_.exchange(true)) {
      entered_.Notify();
      release_.WaitForNotification();
    }
    return absl::UnixEpoch();
  }
  void WaitUntilEntered() { entered_.WaitForNotification(); }
  void Release() { release_.Notify(); }

 private:
  mutable std::atomic<bool> first_{false};
  mutable absl::Notification entered_;
  absl::Notification release_;
};

TEST(WriteQueueTest, AppendsPastTheQueuedByteLimitAreRefusedNotQueued) {
  TempDir dir;
  GateClock clock;
  storage::RocksDbEventLogOptions options;
  options.path = dir.path();
  options.sync = false;
  options.clock = &clock;
  options.limits.max_queued_bytes = 10 * 1024;
  auto log = storage::RocksDbEventLog::Open(options);
  ASSERT_TRUE(log.ok()) << log.status();

  std::atomic<int> ok{0};
  auto count_ok = [&ok](absl::StatusOr<storage::AppendResult> r) {
    if (r.ok()) ++ok;
  };
  // The writer takes the first append and blocks inside its commit.
  (*log)->AppendAsync(OneEvent("s-0"), count_ok);
  clock.WaitUntilEntered();

  const std::string four_kib(4 * 1024, 'x');
  for (int i = 0; i < 2; ++i) {  // 8 KiB queued: within the limit.
    (*log)->AppendAsync(OneEvent("s-" + std::to_string(i + 1),
                                 storage::ExpectedVersion::Any(), four_kib),
                        count_ok);
  }
  absl::Status refused;
  absl::Notification answered;
  (*log)->AppendAsync(
      OneEvent("s-3", storage::ExpectedVersion::Any(), four_kib),
      [&](absl::StatusOr<storage::AppendResult> r) {
        refused = r.status();
        answered.Notify();
      });
  ASSERT_TRUE(answered.HasBeenNotified());  // Refused at once, not queued.
  EXPECT_TRUE(
      StatusIs(refused, absl::StatusCode::kResourceExhausted, {"retry"}));

  clock.Release();
  (*log)->Close();  // Finishes every queued append.
  EXPECT_EQ(ok.load(), 3);
}

}  // namespace
}  // namespace ycr::test
