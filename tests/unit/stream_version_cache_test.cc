#include "storage/stream_version_cache.h"

#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace ycr::storage {
namespace {

TEST(StreamVersionCacheTest, GetOfUnknownStreamReturnsNullopt) {
  StreamVersionCache cache(8);
  EXPECT_EQ(cache.Get("missing"), std::nullopt);
  EXPECT_EQ(cache.size(), 0u);
}

TEST(StreamVersionCacheTest, PutThenGetReturnsVersion) {
  StreamVersionCache cache(8);
  cache.Put("a", 3);
  cache.Put("b", 0);
  EXPECT_EQ(cache.Get("a"), std::optional<uint64_t>(3));
  EXPECT_EQ(cache.Get("b"), std::optional<uint64_t>(0));
  EXPECT_EQ(cache.Get("c"), std::nullopt);
}

TEST(StreamVersionCacheTest, PutOverwritesVersion) {
  StreamVersionCache cache(8);
  cache.Put("a", 3);
  cache.Put("a", 4);
  EXPECT_EQ(cache.Get("a"), std::optional<uint64_t>(4));
  EXPECT_EQ(cache.size(), 1u);
}

TEST(StreamVersionCacheTest, PutOfOldGenerationEntryWinsOverItsStaleValue) {
  StreamVersionCache cache(4);  // Generations of 2.
  cache.Put("a", 1);
  cache.Put("b", 1);
  cache.Put("c", 1);  // "a" and "b" move to the old generation.
  cache.Put("a", 5);  // New value in the young generation.
  EXPECT_EQ(cache.Get("a"), std::optional<uint64_t>(5));
  cache.Put("d", 1);  // The young generation (with a=5) becomes old.
  EXPECT_EQ(cache.Get("a"), std::optional<uint64_t>(5));
}

TEST(StreamVersionCacheTest, EvictionKeepsSizeBoundedByTwiceCapacity) {
  for (size_t capacity : {0u, 1u, 2u, 3u, 10u, 100u}) {
    StreamVersionCache cache(capacity);
    const size_t bound = 2 * std::max<size_t>(capacity, 1);
    for (int i = 0; i < 5000; ++i) {
      cache.Put(absl::StrCat("stream-", i), i);
      ASSERT_LE(cache.size(), bound) << "capacity " << capacity << " i " << i;
    }
    // The most recent entry is always there.
    EXPECT_EQ(cache.Get("stream-4999"), std::optional<uint64_t>(4999));
    // Old entries were evicted.
    EXPECT_EQ(cache.Get("stream-0"), std::nullopt) << "capacity " << capacity;
  }
}

TEST(StreamVersionCacheTest, EntriesReadBetweenInsertsSurviveEviction) {
  for (size_t capacity : {1u, 2u, 4u, 10u}) {
    StreamVersionCache cache(capacity);
    cache.Put("hot", 7);
    for (int i = 0; i < 1000; ++i) {
      cache.Put(absl::StrCat("cold-", i), i);
      ASSERT_EQ(cache.Get("hot"), std::optional<uint64_t>(7))
          << "capacity " << capacity << " after " << i << " inserts";
      ASSERT_LE(cache.size(), 2 * capacity);
    }
  }
}

TEST(StreamVersionCacheTest, PromotedEntrySurvivesAGenerationThatDropsOthers) {
  StreamVersionCache cache(4);  // Generations of 2.
  cache.Put("a", 1);
  cache.Put("b", 2);
  cache.Put("c", 3);  // old = {a, b}, young = {c}.
  EXPECT_EQ(cache.Get("a"), std::optional<uint64_t>(1));  // Promoted.
  cache.Put("d", 4);  // old = {c, a}, young = {d}: "b" is dropped.
  EXPECT_EQ(cache.Get("b"), std::nullopt);
  EXPECT_EQ(cache.Get("a"), std::optional<uint64_t>(1));
  EXPECT_EQ(cache.Get("c"), std::optional<uint64_t>(3));
  EXPECT_EQ(cache.Get("d"), std::optional<uint64_t>(4));
}

}  // namespace
}  // namespace ycr::storage
