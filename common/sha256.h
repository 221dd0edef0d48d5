#pragma once

// SHA-256 for the hot paths (the hash chain, the Merkle tree, event ids),
// with OpenSSL 3's implementation fetched once per process. EVP_sha256()
// handed to EVP_DigestInit_ex, and SHA256(), look the implementation up
// again on every call (a lock and a search by name), which cost about as
// much as the hashing of a short input. The digests are the same. (Keyed
// digests stay on OpenSSL's own HMAC(): a MAC is not written out here.)

#include <openssl/evp.h>

#include <cstdlib>

namespace ycr {

inline const EVP_MD* Sha256Algorithm() {
  static const EVP_MD* const md = [] {
    const EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA2-256", nullptr);
    return fetched != nullptr ? fetched : EVP_sha256();
  }();
  return md;
}

// SHA-256 of `data` into `out` (32 bytes). Aborts only when OpenSSL cannot
// hash at all (out of memory).
inline void Sha256Into(const void* data, size_t size, unsigned char* out) {
  unsigned int length = 0;
  if (EVP_Digest(data, size, out, &length, Sha256Algorithm(), nullptr) != 1 ||
      length != 32) {
    std::abort();
  }
}

}  // namespace ycr
