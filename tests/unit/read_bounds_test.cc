// Reads stop at LogLimits::max_read_bytes (always returning at least one
// event) and page on, so a response never outgrows what a client accepts.

#include "gtest/gtest.h"
#include "storage/rocksdb_event_log.h"
#include "tests/unit/test_util.h"

namespace ycr::test {
namespace {

using storage::ExpectedVersion;

class ReadBoundsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    storage::RocksDbEventLogOptions options;
    options.path = dir_.path();
    options.sync = false;
    options.limits.max_read_bytes = 10 * 1024;
    auto log = storage::RocksDbEventLog::Open(options);
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = *std::move(log);
    for (int i = 0; i < 10; ++i) {
      ASSERT_TRUE(log_->Append(OneEvent("big", ExpectedVersion::Any(),
                                        std::string(4 * 1024, 'x')))
                      .ok());
    }
  }

  TempDir dir_;
  std::unique_ptr<storage::RocksDbEventLog> log_;
};

TEST_F(ReadBoundsTest, ReadAllStopsAtTheByteLimitAndPagesOn) {
  std::vector<uint64_t> positions;
  uint64_t from = 1;
  int pages = 0;
  for (;; ++pages) {
    auto slice = log_->ReadAll(from, 0, {});
    ASSERT_TRUE(slice.ok()) << slice.status();
    EXPECT_LE(slice->events.size(), 3u);  // 3 x 4 KiB passes 10 KiB.
    for (const auto& e : slice->events) positions.push_back(e.position());
    from = slice->next_position;
    if (slice->reached_end) break;
  }
  EXPECT_GE(pages, 3);
  EXPECT_EQ(positions.size(), 10u);
  for (size_t i = 0; i < positions.size(); ++i) EXPECT_EQ(positions[i], i + 1);
}

TEST_F(ReadBoundsTest, ReadStreamStopsAtTheByteLimitAndPagesOn) {
  storage::ReadStreamOptions options;
  auto first = log_->ReadStream("big", options);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->events.size(), 3u);
  EXPECT_EQ(first->next_version, 4u);
  options.from_version = first->next_version;
  auto second = log_->ReadStream("big", options);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->events.front().stream_version(), 4u);
}

TEST_F(ReadBoundsTest, AnEventLargerThanTheLimitIsStillReturnedAlone) {
  ASSERT_TRUE(log_->Append(OneEvent("huge", ExpectedVersion::Any(),
                                    std::string(20 * 1024, 'y')))
                  .ok());
  auto slice = log_->ReadStream("huge", {});
  ASSERT_TRUE(slice.ok());
  EXPECT_EQ(slice->events.size(), 1u);
  auto all = log_->ReadAll(11, 0, {});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->events.size(), 1u);
}

}  // namespace
}  // namespace ycr::test
