#pragma once

// C2SP tlog-proof: an offline-verifiable receipt that one record is in the
// log, as text:
//
//   c2sp.org/tlog-proof@v1
//   extra <base64>            (optional)
//   index <leaf index>
//   <base64 hash>             (the audit path, leaf to root, one a line)
//   ...
//   <blank line>
//   <the signed checkpoint>
//
// ycr's `extra` is the record: either its leaf bytes (for a reader entitled
// to the whole stored record) or, for anyone else, only its 32-byte leaf
// hash (a stored record is never 32 bytes long). Plain functions.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/tlog.h"

namespace ycr::tlog {

inline constexpr char kProofHeader[] = "c2sp.org/tlog-proof@v1";

struct Proof {
  std::optional<std::string> extra;
  int64_t index = 0;
  std::vector<Hash> path;
  // The signed note, ending in a newline.
  std::string checkpoint;
};

std::string FormatProof(const Proof& proof);
// INVALID_ARGUMENT naming what is malformed.
absl::StatusOr<Proof> ParseProof(absl::string_view text);

// The leaf hash a ycr proof's `extra` gives: RecordHash(extra), or extra
// itself when it is a 32-byte hash. INVALID_ARGUMENT without one.
absl::StatusOr<Hash> ProofLeafHash(const Proof& proof);

}  // namespace ycr::tlog
