#include "common/tlog.h"

#include <openssl/evp.h>

#include <algorithm>
#include <bit>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/sha256.h"
#include "common/status_macros.h"

namespace ycr::tlog {
namespace {

// SHA-256 of prefix || a || b, with one digest context per thread (the
// tree hashes once or twice per appended record).
Hash Sha256(absl::string_view prefix, absl::string_view a,
            absl::string_view b) {
  struct Ctx {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ~Ctx() { EVP_MD_CTX_free(ctx); }
  };
  thread_local Ctx holder;
  EVP_MD_CTX* ctx = holder.ctx;
  Hash out;
  unsigned int length = 0;
  if (ctx == nullptr ||
      EVP_DigestInit_ex(ctx, Sha256Algorithm(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx, prefix.data(), prefix.size()) != 1 ||
      EVP_DigestUpdate(ctx, a.data(), a.size()) != 1 ||
      EVP_DigestUpdate(ctx, b.data(), b.size()) != 1 ||
      EVP_DigestFinal_ex(ctx, out.data(), &length) != 1 || length != 32) {
    // Only out of memory: nothing sensible to return.
    std::abort();
  }
  return out;
}

absl::string_view View(const Hash& h) {
  return absl::string_view(reinterpret_cast<const char*>(h.data()), h.size());
}

// The largest power of two strictly below n (n >= 2).
int64_t SplitPoint(int64_t n) {
  return int64_t{1} << (63 - std::countl_zero(static_cast<uint64_t>(n - 1)));
}

// The largest power of two at most n (n >= 1), with its log.
int64_t FloorPow2(int64_t n, int* log) {
  *log = 63 - std::countl_zero(static_cast<uint64_t>(n));
  return int64_t{1} << *log;
}

// MTH(D[lo:hi]) for a range the RFC's recursion produces (lo aligned to
// every complete subtree the greedy split takes), read in one batch.
absl::StatusOr<Hash> RangeHash(int64_t lo, int64_t hi, const HashReader& read) {
  std::vector<int64_t> indexes;
  for (int64_t at = lo; at < hi;) {
    int level = 0;
    const int64_t k = FloorPow2(hi - at, &level);
    if (at % k != 0) {
      return absl::InternalError(
          absl::StrCat("tlog: range ", lo, "..", hi, " is not aligned"));
    }
    indexes.push_back(StoredHashIndex(level, at >> level));
    at += k;
  }
  ASSIGN_OR_RETURN(std::vector<Hash> hashes, read(indexes));
  if (hashes.size() != indexes.size()) {
    return absl::DataLossError(absl::StrCat("tlog: asked for ", indexes.size(),
                                            " stored hashes, read ",
                                            hashes.size()));
  }
  Hash h = hashes.back();
  for (size_t i = hashes.size() - 1; i-- > 0;) h = NodeHash(hashes[i], h);
  return h;
}

absl::Status Path(int64_t m, int64_t lo, int64_t hi, const HashReader& read,
                  std::vector<Hash>* out) {
  const int64_t n = hi - lo;
  if (n == 1) return absl::OkStatus();
  const int64_t k = SplitPoint(n);
  if (m < k) {
    RETURN_IF_ERROR(Path(m, lo, lo + k, read, out));
    ASSIGN_OR_RETURN(Hash right, RangeHash(lo + k, hi, read));
    out->push_back(right);
  } else {
    RETURN_IF_ERROR(Path(m - k, lo + k, hi, read, out));
    ASSIGN_OR_RETURN(Hash left, RangeHash(lo, lo + k, read));
    out->push_back(left);
  }
  return absl::OkStatus();
}

absl::Status SubProof(int64_t m, int64_t lo, int64_t hi, bool whole,
                      const HashReader& read, std::vector<Hash>* out) {
  const int64_t n = hi - lo;
  if (m == n) {
    if (!whole) {
      ASSIGN_OR_RETURN(Hash h, RangeHash(lo, hi, read));
      out->push_back(h);
    }
    return absl::OkStatus();
  }
  const int64_t k = SplitPoint(n);
  if (m <= k) {
    RETURN_IF_ERROR(SubProof(m, lo, lo + k, whole, read, out));
    ASSIGN_OR_RETURN(Hash right, RangeHash(lo + k, hi, read));
    out->push_back(right);
  } else {
    RETURN_IF_ERROR(SubProof(m - k, lo + k, hi, false, read, out));
    ASSIGN_OR_RETURN(Hash left, RangeHash(lo, lo + k, read));
    out->push_back(left);
  }
  return absl::OkStatus();
}

absl::Status ProofFailed(absl::string_view what) {
  return absl::FailedPreconditionError(
      absl::StrCat("tlog: the proof does not verify: ", what));
}

}  // namespace

Hash EmptyTreeHash() { return Sha256("", "", ""); }

Hash RecordHash(absl::string_view record) {
  return Sha256(absl::string_view("\x00", 1), record, "");
}

Hash NodeHash(const Hash& left, const Hash& right) {
  return Sha256("\x01", View(left), View(right));
}

std::string HashBytes(const Hash& hash) { return std::string(View(hash)); }

absl::StatusOr<Hash> HashFromBytes(absl::string_view bytes) {
  if (bytes.size() != 32) {
    return absl::InvalidArgumentError(
        absl::StrCat("a hash is 32 bytes, not ", bytes.size()));
  }
  Hash h;
  std::copy(bytes.begin(), bytes.end(), h.begin());
  return h;
}

std::string HashHex(const Hash& hash) {
  return absl::BytesToHexString(View(hash));
}

int64_t StoredHashIndex(int level, int64_t n) {
  // The subtree's last record, n * 2^level + 2^level - 1, stores it as the
  // level-th hash after its own record hash.
  for (int l = level; l > 0; --l) n = 2 * n + 1;
  // Record r's hash follows every hash of records 0..r-1: r record
  // hashes, r/2 of level 1, r/4 of level 2, ...
  int64_t index = 0;
  for (; n > 0; n >>= 1) index += n;
  return index + level;
}

void SplitStoredHashIndex(int64_t index, int* level, int64_t* n) {
  // The record whose append stored it: the last r with
  // StoredHashIndex(0, r) <= index (r <= index, and the function grows).
  int64_t lo = 0;
  int64_t hi = index;
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo + 1) / 2;
    if (StoredHashIndex(0, mid) <= index) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  *level = static_cast<int>(index - StoredHashIndex(0, lo));
  *n = lo >> *level;
}

int64_t StoredHashCount(int64_t size) {
  if (size <= 0) return 0;
  const int64_t last = size - 1;
  return StoredHashIndex(0, last) + 1 +
         std::countr_one(static_cast<uint64_t>(last));
}

absl::StatusOr<std::vector<Hash>> StoredHashes(int64_t n,
                                               const Hash& record_hash,
                                               const HashReader& read) {
  if (n < 0) return absl::InvalidArgumentError("tlog: negative record index");
  // Each trailing one bit of n completes a subtree with its left sibling.
  const int completed = std::countr_one(static_cast<uint64_t>(n));
  std::vector<int64_t> siblings(completed);
  for (int i = 0; i < completed; ++i) {
    siblings[i] = StoredHashIndex(i, (n >> i) - 1);
  }
  ASSIGN_OR_RETURN(std::vector<Hash> left, read(siblings));
  if (left.size() != siblings.size()) {
    return absl::DataLossError("tlog: a stored hash is missing");
  }
  std::vector<Hash> out = {record_hash};
  Hash h = record_hash;
  for (int i = 0; i < completed; ++i) {
    h = NodeHash(left[i], h);
    out.push_back(h);
  }
  return out;
}

absl::StatusOr<Hash> TreeHash(int64_t size, const HashReader& read) {
  if (size < 0) return absl::InvalidArgumentError("tlog: negative tree size");
  if (size == 0) return EmptyTreeHash();
  return RangeHash(0, size, read);
}

absl::StatusOr<std::vector<Hash>> InclusionProof(int64_t index, int64_t size,
                                                 const HashReader& read) {
  if (index < 0 || index >= size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "position: record ", index, " is not in a tree of ", size));
  }
  std::vector<Hash> out;
  RETURN_IF_ERROR(Path(index, 0, size, read, &out));
  return out;
}

absl::Status VerifyInclusion(int64_t index, int64_t size,
                             const Hash& record_hash,
                             absl::Span<const Hash> proof, const Hash& root) {
  if (index < 0 || index >= size) return ProofFailed("index outside the tree");
  uint64_t fn = static_cast<uint64_t>(index);
  uint64_t sn = static_cast<uint64_t>(size - 1);
  Hash r = record_hash;
  for (const Hash& p : proof) {
    if (sn == 0) return ProofFailed("the path is too long");
    if ((fn & 1) != 0 || fn == sn) {
      r = NodeHash(p, r);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      r = NodeHash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return ProofFailed("the path is too short");
  if (r != root) return ProofFailed("the root differs");
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Hash>> ConsistencyProof(int64_t old_size,
                                                   int64_t new_size,
                                                   const HashReader& read) {
  if (old_size < 0 || old_size > new_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "old_size: ", old_size, " is not between 0 and new_size ", new_size));
  }
  std::vector<Hash> out;
  if (old_size == 0 || old_size == new_size) return out;
  RETURN_IF_ERROR(SubProof(old_size, 0, new_size, true, read, &out));
  return out;
}

absl::Status VerifyConsistency(int64_t old_size, int64_t new_size,
                               const Hash& old_root, const Hash& new_root,
                               absl::Span<const Hash> proof) {
  if (old_size < 0 || old_size > new_size) {
    return ProofFailed("the old tree is larger than the new one");
  }
  if (old_size == new_size) {
    if (!proof.empty()) return ProofFailed("a proof between equal sizes");
    if (old_root != new_root) return ProofFailed("equal sizes, other roots");
    return absl::OkStatus();
  }
  if (old_size == 0) {
    if (!proof.empty()) return ProofFailed("a proof from the empty tree");
    return absl::OkStatus();
  }
  if (proof.empty()) return ProofFailed("the proof is empty");
  std::vector<Hash> path(proof.begin(), proof.end());
  if (std::has_single_bit(static_cast<uint64_t>(old_size))) {
    path.insert(path.begin(), old_root);
  }
  uint64_t fn = static_cast<uint64_t>(old_size - 1);
  uint64_t sn = static_cast<uint64_t>(new_size - 1);
  while ((fn & 1) != 0) {
    fn >>= 1;
    sn >>= 1;
  }
  Hash fr = path[0];
  Hash sr = path[0];
  for (size_t i = 1; i < path.size(); ++i) {
    const Hash& c = path[i];
    if (sn == 0) return ProofFailed("the path is too long");
    if ((fn & 1) != 0 || fn == sn) {
      fr = NodeHash(c, fr);
      sr = NodeHash(c, sr);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      sr = NodeHash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return ProofFailed("the path is too short");
  if (fr != old_root) return ProofFailed("the old root differs");
  if (sr != new_root) return ProofFailed("the new root differs");
  return absl::OkStatus();
}

std::string TileIndexPath(int64_t n) {
  std::string out = absl::StrFormat("%03d", n % 1000);
  for (n /= 1000; n > 0; n /= 1000) {
    out = absl::StrCat(absl::StrFormat("x%03d", n % 1000), "/", out);
  }
  return out;
}

std::string TilePath(const Tile& tile) {
  std::string out =
      absl::StrCat("tile/", tile.level, "/", TileIndexPath(tile.n));
  if (tile.width < kTileWidth) absl::StrAppend(&out, ".p/", tile.width);
  return out;
}

absl::StatusOr<Tile> ParseTilePath(absl::string_view path) {
  const absl::Status bad = absl::InvalidArgumentError(absl::StrCat(
      "tile path: expected tile/<L>/<N>[.p/<W>] (C2SP tlog-tiles), got \"",
      absl::CHexEscape(path.substr(0, 80)), "\""));
  std::vector<absl::string_view> parts = absl::StrSplit(path, '/');
  if (parts.size() < 3 || parts[0] != "tile") return bad;
  Tile tile;
  if (parts[1].size() != 1 || !absl::SimpleAtoi(parts[1], &tile.level) ||
      tile.level < 0 || tile.level > 7) {
    return bad;
  }
  tile.width = kTileWidth;
  size_t end = parts.size();
  if (parts.size() >= 4 && absl::EndsWith(parts[end - 2], ".p")) {
    int w = 0;
    if (!absl::SimpleAtoi(parts[end - 1], &w) || w < 1 || w >= kTileWidth ||
        absl::StrCat(w) != parts[end - 1]) {
      return bad;
    }
    tile.width = w;
    parts[end - 2].remove_suffix(2);
    --end;
  }
  int64_t n = 0;
  for (size_t i = 2; i < end; ++i) {
    absl::string_view group = parts[i];
    const bool last = i + 1 == end;
    if (!last) {
      if (!absl::ConsumePrefix(&group, "x")) return bad;
    }
    // Exactly three ASCII digits: no sign, no spaces, so one tile has one
    // path.
    if (group.size() != 3 || !absl::ascii_isdigit(group[0]) ||
        !absl::ascii_isdigit(group[1]) || !absl::ascii_isdigit(group[2])) {
      return bad;
    }
    const int value =
        (group[0] - '0') * 100 + (group[1] - '0') * 10 + (group[2] - '0');
    if (i == 2 && !last && value == 0) return bad;
    if (n > (int64_t{1} << 52)) return bad;
    n = n * 1000 + value;
  }
  // No tree of at most 2^63 records has a tile at index 2^55 or beyond (and
  // n * 256 must not overflow).
  if (n >= (int64_t{1} << 55)) return bad;
  tile.n = n;
  return tile;
}

absl::StatusOr<Tile> TileOf(int level, int64_t n, int64_t size) {
  if (level < 0 || level > 7 || n < 0 || size < 0) {
    return absl::InvalidArgumentError(
        "tile: level, index or size out of range");
  }
  const int64_t hashes = size >> (kTileHeight * level);
  // Compared before multiplying, so no index overflows.
  if (n >= (hashes + kTileWidth - 1) / kTileWidth) {
    return absl::NotFoundError(
        absl::StrCat("tile ", level, "/", n, " is past the tree of ", size));
  }
  const int64_t first = n * kTileWidth;
  return Tile{level, n, static_cast<int>(std::min(kTileWidth, hashes - first))};
}

absl::StatusOr<std::string> TileHashes(const Tile& tile,
                                       const HashReader& read) {
  std::vector<int64_t> indexes;
  indexes.reserve(tile.width);
  for (int i = 0; i < tile.width; ++i) {
    indexes.push_back(
        StoredHashIndex(kTileHeight * tile.level, tile.n * kTileWidth + i));
  }
  ASSIGN_OR_RETURN(std::vector<Hash> hashes, read(indexes));
  if (hashes.size() != indexes.size()) {
    return absl::DataLossError("tlog: a stored hash is missing");
  }
  std::string out;
  out.reserve(hashes.size() * 32);
  for (const Hash& h : hashes) out.append(View(h).data(), h.size());
  return out;
}

}  // namespace ycr::tlog
