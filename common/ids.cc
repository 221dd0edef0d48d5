#include "common/ids.h"

#include <openssl/rand.h>
#include <openssl/sha.h>

#include <cstdint>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "common/sha256.h"

namespace ycr {

bool IsUuid(absl::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-') return false;
    } else if (!absl::ascii_isxdigit(static_cast<unsigned char>(s[i]))) {
      return false;
    }
  }
  return true;
}

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  if (n > 0 && RAND_bytes(reinterpret_cast<unsigned char*>(out.data()),
                          static_cast<int>(n)) != 1) {
    std::abort();  // No entropy: cannot go on.
  }
  return out;
}

namespace {

std::string FormatUuid(const uint8_t* b) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[b[i] >> 4]);
    out.push_back(kHex[b[i] & 0x0f]);
  }
  return out;
}

}  // namespace

std::string NewUuid() {
  uint8_t b[16];
  if (RAND_bytes(b, sizeof(b)) != 1) std::abort();  // No entropy: cannot go on.
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  return FormatUuid(b);
}

std::string NameUuid(absl::string_view name) {
  uint8_t digest[SHA256_DIGEST_LENGTH];
  Sha256Into(name.data(), name.size(), digest);
  digest[6] = (digest[6] & 0x0f) | 0x50;  // Version 5 layout (name-based).
  digest[8] = (digest[8] & 0x3f) | 0x80;  // RFC 4122 variant.
  return FormatUuid(digest);
}

}  // namespace ycr
