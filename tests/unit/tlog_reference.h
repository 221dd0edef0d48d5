#pragma once

// RFC 6962's tree hash by its own recursion, over leaf hashes: a reference
// for tests that shares nothing with the code under test but the two hash
// functions.

#include <cstddef>
#include <vector>

#include "common/tlog.h"

namespace ycr::test {

// MTH(D[lo:hi]) for `leaves` (leaf hashes, SHA-256(0x00 || leaf)).
inline tlog::Hash ReferenceTreeHash(const std::vector<tlog::Hash>& leaves,
                                    size_t lo, size_t hi) {
  if (hi == lo) return tlog::EmptyTreeHash();
  if (hi - lo == 1) return leaves[lo];
  size_t k = 1;  // The largest power of two below hi - lo.
  while (k * 2 < hi - lo) k *= 2;
  return tlog::NodeHash(ReferenceTreeHash(leaves, lo, lo + k),
                        ReferenceTreeHash(leaves, lo + k, hi));
}

}  // namespace ycr::test
