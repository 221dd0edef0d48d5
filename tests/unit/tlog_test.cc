// The RFC 6962 tree kept as stored hashes (common/tlog.h): every root and
// proof checked against the RFC's recursive definition computed from the
// records themselves, and every tampered proof refused.

#include "common/tlog.h"

#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace ycr::tlog {
namespace {

std::string Record(int64_t i) { return absl::StrCat("record ", i); }

// MTH(D[lo:hi]) straight from RFC 9162 2.1.1.
Hash Mth(int64_t lo, int64_t hi) {
  if (hi == lo) return EmptyTreeHash();
  if (hi - lo == 1) return RecordHash(Record(lo));
  int64_t k = 1;
  while (k * 2 < hi - lo) k *= 2;
  return NodeHash(Mth(lo, lo + k), Mth(lo + k, hi));
}

// A tree in memory, grown through StoredHashes.
class Tree {
 public:
  void Append() {
    const int64_t n = size_;
    absl::StatusOr<std::vector<Hash>> add =
        StoredHashes(n, RecordHash(Record(n)), Reader());
    ASSERT_TRUE(add.ok()) << add.status();
    ASSERT_EQ(static_cast<int64_t>(stored_.size()), StoredHashIndex(0, n));
    stored_.insert(stored_.end(), add->begin(), add->end());
    ++size_;
    ASSERT_EQ(static_cast<int64_t>(stored_.size()), StoredHashCount(size_));
  }
  HashReader Reader() const {
    return [this](absl::Span<const int64_t> indexes)
               -> absl::StatusOr<std::vector<Hash>> {
      std::vector<Hash> out;
      for (int64_t i : indexes) {
        if (i < 0 || i >= static_cast<int64_t>(stored_.size())) {
          return absl::NotFoundError(absl::StrCat("no stored hash ", i));
        }
        out.push_back(stored_[i]);
      }
      return out;
    };
  }
  int64_t size() const { return size_; }

 private:
  std::vector<Hash> stored_;
  int64_t size_ = 0;
};

Hash Flipped(Hash h) {
  h[7] ^= 0x40;
  return h;
}

TEST(TlogTest, TheEmptyTreeIsTheHashOfNothing) {
  EXPECT_EQ(HashHex(EmptyTreeHash()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  Tree tree;
  absl::StatusOr<Hash> root = TreeHash(0, tree.Reader());
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(*root, EmptyTreeHash());
}

TEST(TlogTest, LeafAndNodeHashesArePrefixedAsTheRfcSays) {
  // SHA-256 of the single byte 0x00: the hash of an empty record.
  EXPECT_EQ(HashHex(RecordHash("")),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
  EXPECT_NE(RecordHash("ab"), NodeHash(RecordHash("a"), RecordHash("b")));
}

TEST(TlogTest, StoredHashIndexesRoundTrip) {
  for (int64_t index = 0; index < 5000; ++index) {
    int level = 0;
    int64_t n = 0;
    SplitStoredHashIndex(index, &level, &n);
    EXPECT_EQ(StoredHashIndex(level, n), index) << index;
  }
  EXPECT_EQ(StoredHashCount(0), 0);
  EXPECT_EQ(StoredHashCount(1), 1);
  EXPECT_EQ(StoredHashCount(2), 3);
  EXPECT_EQ(StoredHashCount(4), 7);
}

TEST(TlogTest, EveryRootIsTheRfcsTreeHash) {
  Tree tree;
  for (int64_t n = 1; n <= 300; ++n) {
    ASSERT_NO_FATAL_FAILURE(tree.Append());
    absl::StatusOr<Hash> root = TreeHash(n, tree.Reader());
    ASSERT_TRUE(root.ok()) << root.status();
    ASSERT_EQ(*root, Mth(0, n)) << n;
  }
  // Earlier sizes stay readable from the grown tree.
  for (int64_t n : {1, 2, 3, 5, 64, 100, 255, 256, 257}) {
    absl::StatusOr<Hash> root = TreeHash(n, tree.Reader());
    ASSERT_TRUE(root.ok());
    EXPECT_EQ(*root, Mth(0, n)) << n;
  }
}

TEST(TlogTest, EveryInclusionProofVerifiesAndNoTamperedOneDoes) {
  Tree tree;
  for (int i = 0; i < 70; ++i) ASSERT_NO_FATAL_FAILURE(tree.Append());
  for (int64_t size = 1; size <= 70; ++size) {
    const Hash root = Mth(0, size);
    for (int64_t index = 0; index < size; ++index) {
      absl::StatusOr<std::vector<Hash>> proof =
          InclusionProof(index, size, tree.Reader());
      ASSERT_TRUE(proof.ok()) << proof.status();
      const Hash leaf = RecordHash(Record(index));
      ASSERT_TRUE(VerifyInclusion(index, size, leaf, *proof, root).ok())
          << index << " in " << size;
      EXPECT_FALSE(
          VerifyInclusion(index, size, Flipped(leaf), *proof, root).ok());
      EXPECT_FALSE(
          VerifyInclusion(index, size, leaf, *proof, Flipped(root)).ok());
      if (size > 1) {
        EXPECT_FALSE(
            VerifyInclusion((index + 1) % size, size, leaf, *proof, root).ok());
      }
      for (size_t i = 0; i < proof->size(); ++i) {
        std::vector<Hash> bad = *proof;
        bad[i] = Flipped(bad[i]);
        EXPECT_FALSE(VerifyInclusion(index, size, leaf, bad, root).ok());
      }
      std::vector<Hash> longer = *proof;
      longer.push_back(root);
      EXPECT_FALSE(VerifyInclusion(index, size, leaf, longer, root).ok());
      if (!proof->empty()) {
        std::vector<Hash> shorter(proof->begin(), proof->end() - 1);
        EXPECT_FALSE(VerifyInclusion(index, size, leaf, shorter, root).ok());
      }
    }
  }
  EXPECT_EQ(InclusionProof(5, 5, tree.Reader()).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(InclusionProof(-1, 5, tree.Reader()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(TlogTest, EveryConsistencyProofVerifiesAndNoTamperedOneDoes) {
  Tree tree;
  for (int i = 0; i < 70; ++i) ASSERT_NO_FATAL_FAILURE(tree.Append());
  for (int64_t size = 1; size <= 70; ++size) {
    const Hash new_root = Mth(0, size);
    for (int64_t old = 0; old <= size; ++old) {
      const Hash old_root = Mth(0, old);
      absl::StatusOr<std::vector<Hash>> proof =
          ConsistencyProof(old, size, tree.Reader());
      ASSERT_TRUE(proof.ok()) << proof.status();
      ASSERT_TRUE(VerifyConsistency(old, size, old_root, new_root, *proof).ok())
          << old << " -> " << size;
      if (old == 0) continue;
      // A forked history: another old root.
      EXPECT_FALSE(
          VerifyConsistency(old, size, Flipped(old_root), new_root, *proof)
              .ok());
      EXPECT_FALSE(
          VerifyConsistency(old, size, old_root, Flipped(new_root), *proof)
              .ok());
      for (size_t i = 0; i < proof->size(); ++i) {
        std::vector<Hash> bad = *proof;
        bad[i] = Flipped(bad[i]);
        EXPECT_FALSE(
            VerifyConsistency(old, size, old_root, new_root, bad).ok());
      }
      if (old < size) {
        EXPECT_FALSE(VerifyConsistency(old, size, old_root, new_root, {}).ok());
        // The proof is for these two sizes only.
        if (old + 1 < size) {
          EXPECT_FALSE(VerifyConsistency(old + 1, size, Mth(0, old + 1),
                                         new_root, *proof)
                           .ok());
        }
      }
    }
  }
  EXPECT_EQ(ConsistencyProof(6, 5, tree.Reader()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(TlogTest, TilePathsAreWrittenAsC2spWritesThem) {
  EXPECT_EQ(TileIndexPath(0), "000");
  EXPECT_EQ(TileIndexPath(5), "005");
  EXPECT_EQ(TileIndexPath(1000), "x001/000");
  EXPECT_EQ(TileIndexPath(1234067), "x001/x234/067");
  EXPECT_EQ(TilePath({0, 1234067, 256}), "tile/0/x001/x234/067");
  EXPECT_EQ(TilePath({2, 5, 17}), "tile/2/005.p/17");
  for (const Tile& tile : {Tile{0, 0, 256}, Tile{1, 5, 17}, Tile{0, 1234067, 1},
                           Tile{3, 999, 255}, Tile{0, 1000, 256}}) {
    absl::StatusOr<Tile> parsed = ParseTilePath(TilePath(tile));
    ASSERT_TRUE(parsed.ok()) << TilePath(tile) << " " << parsed.status();
    EXPECT_EQ(parsed->level, tile.level);
    EXPECT_EQ(parsed->n, tile.n);
    EXPECT_EQ(parsed->width, tile.width);
  }
  for (const char* bad :
       {"tile/0/5", "tile/0/0005", "tile/0/x000/005", "tile/0/001/005",
        "tile/0/005.p/0", "tile/0/005.p/256", "tile/0/005.p/07", "tile/a/005",
        "tile/00/005", "tile/0/", "tiles/0/005", "tile/0/x001", "tile/8/000",
        "tile/entries/000",
        // One tile, one path: no sign or space in a group.
        "tile/0/+00.p/5", "tile/0/ 05", "tile/0/x+01/000",
        // Past any tree of 2^63 records: its first index would overflow.
        "tile/0/x072/x057/x594/x037/x927/936.p/5",
        "tile/0/x999/x999/x999/x999/x999/999"}) {
    EXPECT_FALSE(ParseTilePath(bad).ok()) << bad;
  }
  // The largest index no tree can reach is refused without overflowing.
  EXPECT_EQ(TileOf(0, int64_t{1} << 56, 1000).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(
      TileOf(0, std::numeric_limits<int64_t>::max(), 1000).status().code(),
      absl::StatusCode::kNotFound);
  EXPECT_TRUE(TileOf(0, 3, 1000).ok());
  EXPECT_EQ(TileOf(0, 4, 1000).status().code(), absl::StatusCode::kNotFound);
}

TEST(TlogTest, TilesHoldTheRowsOfCompleteSubtrees) {
  Tree tree;
  for (int i = 0; i < 600; ++i) ASSERT_NO_FATAL_FAILURE(tree.Append());
  // Level 0: the record hashes, 256 a tile; the last one partial.
  absl::StatusOr<Tile> full = TileOf(0, 1, 600);
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(full->width, 256);
  absl::StatusOr<std::string> bytes = TileHashes(*full, tree.Reader());
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  ASSERT_EQ(bytes->size(), 8192u);
  EXPECT_EQ(bytes->substr(0, 32), HashBytes(RecordHash(Record(256))));
  absl::StatusOr<Tile> edge = TileOf(0, 2, 600);
  ASSERT_TRUE(edge.ok());
  EXPECT_EQ(edge->width, 600 - 512);
  EXPECT_EQ(TilePath(*edge), "tile/0/002.p/88");
  EXPECT_EQ(TileOf(0, 3, 600).status().code(), absl::StatusCode::kNotFound);
  // Level 1: the roots of the two complete level-0 tiles.
  absl::StatusOr<Tile> up = TileOf(1, 0, 600);
  ASSERT_TRUE(up.ok());
  EXPECT_EQ(up->width, 2);
  bytes = TileHashes(*up, tree.Reader());
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(*bytes, HashBytes(Mth(0, 256)) + HashBytes(Mth(256, 512)));
  EXPECT_EQ(TileOf(1, 0, 255).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace ycr::tlog
