#include "services/view_cache.h"

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace ycr::services {
namespace {

struct FakeView {
  uint64_t version = 0;
  std::string state;
};

std::optional<uint64_t> VersionOf(ViewCache<FakeView>& cache,
                                  absl::string_view stream) {
  std::optional<FakeView> view = cache.Get(stream);
  if (!view.has_value()) return std::nullopt;
  return view->version;
}

TEST(ViewCacheTest, KeepsOnlyViewsOfStreamsThatExist) {
  ViewCache<FakeView> cache(8);
  cache.Put("missing", FakeView{0, "none"});
  cache.Put("there", FakeView{2, "open"});
  EXPECT_EQ(cache.Get("missing"), std::nullopt);
  ASSERT_EQ(VersionOf(cache, "there"), 2u);
  EXPECT_EQ(cache.Get("there")->state, "open");
}

TEST(ViewCacheTest, AnOlderFoldDoesNotReplaceANewerOne) {
  ViewCache<FakeView> cache(8);
  cache.Put("s", FakeView{3, "new"});
  cache.Put("s", FakeView{2, "old"});
  EXPECT_EQ(VersionOf(cache, "s"), 3u);
  cache.Put("s", FakeView{4, "newer"});
  EXPECT_EQ(cache.Get("s")->state, "newer");
}

TEST(ViewCacheTest, ForgetDropsTheStreamFromBothGenerations) {
  ViewCache<FakeView> cache(4);  // Generations of 2.
  cache.Put("a", FakeView{1, ""});
  cache.Put("b", FakeView{1, ""});
  cache.Put("c", FakeView{1, ""});  // "a" and "b" are now the old generation.
  cache.Forget("a");
  cache.Forget("c");
  EXPECT_EQ(cache.Get("a"), std::nullopt);
  EXPECT_EQ(cache.Get("c"), std::nullopt);
  EXPECT_EQ(VersionOf(cache, "b"), 1u);
}

TEST(ViewCacheTest, MemoryIsBoundedByTheCapacity) {
  ViewCache<FakeView> cache(10);
  for (int i = 0; i < 1000; ++i) {
    cache.Put(absl::StrCat("stream-", i), FakeView{1, ""});
    ASSERT_LE(cache.size(), 10u);
  }
  // The most recent are kept.
  EXPECT_EQ(VersionOf(cache, "stream-999"), 1u);
  EXPECT_EQ(cache.Get("stream-0"), std::nullopt);
}

}  // namespace
}  // namespace ycr::services
