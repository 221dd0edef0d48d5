#include "replication/cluster_kek.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "storage/replicated_commit.h"

namespace ycr::replication {

absl::StatusOr<std::string> LoadClusterKek(absl::string_view flag,
                                           const std::string& path) {
  absl::StatusOr<std::string> text =
      ReadPrivateFile(flag, path, "a cluster key-encryption key");
  if (!text.ok()) return text.status();
  const absl::string_view hex = absl::StripAsciiWhitespace(*text);
  const bool all_hex = std::all_of(
      hex.begin(), hex.end(), [](char c) { return absl::ascii_isxdigit(c); });
  if (hex.size() != 2 * storage::kClusterKekBytes || !all_hex) {
    return absl::InvalidArgumentError(absl::StrCat(
        flag, ": ", path, " must hold ", 2 * storage::kClusterKekBytes,
        " hexadecimal digits (umask 077; openssl rand -hex ",
        storage::kClusterKekBytes, " > ", path, ")"));
  }
  return absl::HexStringToBytes(hex);
}

}  // namespace ycr::replication
