#include "storage/log_tree.h"

#include <bit>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/tlog.h"
#include "gtest/gtest.h"

namespace ycr::storage {
namespace {

// Stored hashes by index, as tlog::StoredHashes computes them: the
// reference LogTree is checked against.
class StoredHashMap {
 public:
  tlog::HashReader Reader() {
    return [this](absl::Span<const int64_t> indexes)
               -> absl::StatusOr<std::vector<tlog::Hash>> {
      std::vector<tlog::Hash> out;
      for (int64_t index : indexes) {
        auto it = hashes_.find(index);
        if (it == hashes_.end()) {
          return absl::NotFoundError(absl::StrCat("no hash ", index));
        }
        out.push_back(it->second);
      }
      return out;
    };
  }
  // Appends record `n` the way the published algorithm does.
  std::vector<tlog::Hash> Append(int64_t n, const tlog::Hash& record_hash) {
    absl::StatusOr<std::vector<tlog::Hash>> stored =
        tlog::StoredHashes(n, record_hash, Reader());
    EXPECT_TRUE(stored.ok()) << stored.status();
    const int64_t first = tlog::StoredHashIndex(0, n);
    for (size_t i = 0; i < stored->size(); ++i) {
      hashes_[first + static_cast<int64_t>(i)] = (*stored)[i];
    }
    return *stored;
  }

 private:
  std::map<int64_t, tlog::Hash> hashes_;
};

tlog::Hash Leaf(int64_t n) { return tlog::RecordHash(absl::StrCat("r", n)); }

TEST(LogTreeTest, AppendYieldsExactlyTheStoredHashesOfTheRfcAlgorithm) {
  LogTree tree;
  StoredHashMap reference;
  std::vector<tlog::Hash> stored;
  EXPECT_EQ(tree.Root(), tlog::EmptyTreeHash());
  for (int64_t n = 0; n < 1100; ++n) {
    ASSERT_EQ(tree.next_index(), tlog::StoredHashCount(n));
    tree.Append(Leaf(n), &stored);
    ASSERT_EQ(stored, reference.Append(n, Leaf(n))) << "record " << n;
    ASSERT_EQ(tree.size(), n + 1);
    absl::StatusOr<tlog::Hash> root = tlog::TreeHash(n + 1, reference.Reader());
    ASSERT_TRUE(root.ok()) << root.status();
    ASSERT_EQ(tree.Root(), *root) << "size " << n + 1;
  }
}

TEST(LogTreeTest, LoadedTreeContinuesAsIfItHadNeverStopped) {
  StoredHashMap reference;
  for (int64_t n = 0; n < 1030; ++n) reference.Append(n, Leaf(n));
  for (int64_t size : {0, 1, 2, 3, 7, 255, 256, 257, 511, 512, 1000}) {
    absl::StatusOr<LogTree> tree = LogTree::Load(size, reference.Reader());
    ASSERT_TRUE(tree.ok()) << tree.status();
    EXPECT_EQ(tree->size(), size);
    EXPECT_EQ(tree->next_index(), tlog::StoredHashCount(size));
    EXPECT_EQ(LogTree::FrontierIndexes(size).size(),
              static_cast<size_t>(std::popcount(static_cast<uint64_t>(size))));
    std::vector<tlog::Hash> stored;
    for (int64_t n = size; n < size + 30; ++n) {
      const int64_t first = tree->next_index();
      tree->Append(Leaf(n), &stored);
      ASSERT_EQ(first, tlog::StoredHashIndex(0, n));
      absl::StatusOr<std::vector<tlog::Hash>> expected =
          reference.Reader()(std::vector<int64_t>{first});
      ASSERT_TRUE(expected.ok());
      ASSERT_EQ(stored.front(), expected->front());
    }
    absl::StatusOr<tlog::Hash> root =
        tlog::TreeHash(size + 30, reference.Reader());
    ASSERT_TRUE(root.ok());
    EXPECT_EQ(tree->Root(), *root) << "loaded at " << size;
  }
}

TEST(LogTreeTest, LoadRefusesAReaderThatReturnsTheWrongNumberOfHashes) {
  auto short_reader =
      [](absl::Span<const int64_t>) -> absl::StatusOr<std::vector<tlog::Hash>> {
    return std::vector<tlog::Hash>{};
  };
  EXPECT_EQ(LogTree::Load(3, short_reader).status().code(),
            absl::StatusCode::kDataLoss);
  auto failing =
      [](absl::Span<const int64_t>) -> absl::StatusOr<std::vector<tlog::Hash>> {
    return absl::UnavailableError("disk");
  };
  EXPECT_EQ(LogTree::Load(3, failing).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_TRUE(LogTree::Load(0, failing).ok());  // Nothing to read.
}

TEST(LogTreeTest, CopiesAreIndependent) {
  LogTree tree;
  std::vector<tlog::Hash> stored;
  for (int64_t n = 0; n < 5; ++n) tree.Append(Leaf(n), &stored);
  const tlog::Hash before = tree.Root();
  LogTree copy = tree;
  copy.Append(Leaf(5), &stored);
  EXPECT_EQ(tree.Root(), before);
  EXPECT_EQ(tree.size(), 5);
  EXPECT_NE(copy.Root(), before);
}

}  // namespace
}  // namespace ycr::storage
