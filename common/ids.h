#pragma once

#include <string>

#include "absl/strings/string_view.h"

namespace ycr {

// True when `s` is a UUID in RFC 4122 text form
// (8-4-4-4-12 hexadecimal digits, either case).
bool IsUuid(absl::string_view s);

// A random (version 4) UUID in lower case, from OpenSSL's CSPRNG.
std::string NewUuid();

// A name-based UUID (the version 5 layout, RFC 4122 variant, lower case)
// from the first 16 bytes of SHA-256 of `name`: the same name always gives
// the same UUID, and different names practically never the same one.
std::string NameUuid(absl::string_view name);

// `n` random bytes from OpenSSL's CSPRNG.
std::string RandomBytes(size_t n);

}  // namespace ycr
