#pragma once

// The Merkle tree of a transparency log, as RFC 6962 (and RFC 9162, section
// 2.1) defines it, so that verifiers ycr did not write can check ycr's log:
//
//   leaf hash  SHA-256(0x00 || record bytes)
//   node hash  SHA-256(0x01 || left || right)
//   MTH(D[n])  the hash of the n records, split at the largest power of two
//              below n; MTH of no records is SHA-256 of the empty string.
//
// The tree is kept as "stored hashes": the hash of every complete subtree,
// each at a fixed index (StoredHashIndex), written once when its last
// record is appended and never changed. Appending record n writes
// 1 + (trailing one bits of n) hashes (StoredHashes). Every tree head,
// inclusion proof and consistency proof for any tree size up to the log's
// is computed from O(log n) stored hashes read through a HashReader. The
// same numbering of complete subtrees gives the C2SP tlog-tiles hash tiles
// (TileHashes): 256 hashes of one level-8L row per tile.
//
// Plain functions: no storage, no gRPC. Sizes and indexes are int64_t, as
// in the published formats (a tree size is a decimal uint64 in a
// checkpoint, but no log reaches 2^63 records).

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace ycr::tlog {

using Hash = std::array<uint8_t, 32>;

// SHA-256 of the empty string: the root of the empty tree.
Hash EmptyTreeHash();
// SHA-256(0x00 || record).
Hash RecordHash(absl::string_view record);
// SHA-256(0x01 || left || right).
Hash NodeHash(const Hash& left, const Hash& right);

std::string HashBytes(const Hash& hash);  // The 32 bytes as a string.
// The 32 bytes of `bytes`; INVALID_ARGUMENT when it is not 32 bytes long.
absl::StatusOr<Hash> HashFromBytes(absl::string_view bytes);
std::string HashHex(const Hash& hash);

// Where the hash of the complete subtree at `level` (2^level records) with
// index `n` (its records are n*2^level .. (n+1)*2^level - 1) is stored.
// Hashes are stored in the order they become known, so index order is
// append order.
int64_t StoredHashIndex(int level, int64_t n);
// The inverse: the level and subtree index of stored hash `index`.
void SplitStoredHashIndex(int64_t index, int* level, int64_t* n);
// How many hashes a tree of `size` records stores.
int64_t StoredHashCount(int64_t size);

// Reads stored hashes by index (each index < StoredHashCount(size) of the
// tree being read); returns them in the order asked.
using HashReader = std::function<absl::StatusOr<std::vector<Hash>>(
    absl::Span<const int64_t> indexes)>;

// The hashes to store when record `n` (0-based) with hash `record_hash` is
// appended to a tree of n records, in index order starting at
// StoredHashIndex(0, n). Reads the hashes of the subtrees it completes.
absl::StatusOr<std::vector<Hash>> StoredHashes(int64_t n,
                                               const Hash& record_hash,
                                               const HashReader& read);

// MTH of the first `size` records.
absl::StatusOr<Hash> TreeHash(int64_t size, const HashReader& read);

// The audit path of record `index` in the tree of `size` records (RFC 9162
// 2.1.3.1), leaf to root. INVALID_ARGUMENT unless 0 <= index < size.
absl::StatusOr<std::vector<Hash>> InclusionProof(int64_t index, int64_t size,
                                                 const HashReader& read);
// OK when `proof` shows that the record with `record_hash` is at `index` in
// the tree of `size` records whose root is `root` (RFC 9162 2.1.3.2).
absl::Status VerifyInclusion(int64_t index, int64_t size,
                             const Hash& record_hash,
                             absl::Span<const Hash> proof, const Hash& root);

// The consistency proof from the tree of `old_size` records to the tree of
// `new_size` (RFC 9162 2.1.4.1). INVALID_ARGUMENT unless
// 0 <= old_size <= new_size; empty when old_size is 0 or equal.
absl::StatusOr<std::vector<Hash>> ConsistencyProof(int64_t old_size,
                                                   int64_t new_size,
                                                   const HashReader& read);
// OK when `proof` shows that the tree of `old_size` records with root
// `old_root` is a prefix of the tree of `new_size` with root `new_root`
// (RFC 9162 2.1.4.2).
absl::Status VerifyConsistency(int64_t old_size, int64_t new_size,
                               const Hash& old_root, const Hash& new_root,
                               absl::Span<const Hash> proof);

// C2SP tlog-tiles: tiles of height 8, 256 hashes (8,192 bytes) when full.
inline constexpr int kTileHeight = 8;
inline constexpr int64_t kTileWidth = 256;

// A hash tile: level `level`, index `n`, holding `width` hashes
// (1..kTileWidth; fewer than kTileWidth only for the partial tile at the
// right edge of a tree).
struct Tile {
  int level = 0;
  int64_t n = 0;
  int width = 0;
};

// The tile's path in the C2SP tlog-tiles read API, without the leading
// slash: "tile/<L>/<N>" or "tile/<L>/<N>.p/<W>", N written in groups of
// three digits, every group but the last prefixed with "x" (1234067 ->
// "x001/x234/067").
std::string TilePath(const Tile& tile);
// The index written as TilePath writes it ("x001/x234/067").
std::string TileIndexPath(int64_t n);
// Parses "tile/<L>/<N>[.p/<W>]" (no leading slash); INVALID_ARGUMENT for
// anything else, including non-canonical numbers and W outside 1..255.
absl::StatusOr<Tile> ParseTilePath(absl::string_view path);

// The tile with index `n` at `level` in the tree of `size` records: full, or
// partial at the right edge; NOT_FOUND when the tree has no hash in it.
absl::StatusOr<Tile> TileOf(int level, int64_t n, int64_t size);
// The hashes of `tile` (its width times 32 bytes), read from the stored
// hashes: the subtrees of level kTileHeight*tile.level with indexes
// n*kTileWidth .. n*kTileWidth + width - 1.
absl::StatusOr<std::string> TileHashes(const Tile& tile,
                                       const HashReader& read);

}  // namespace ycr::tlog
