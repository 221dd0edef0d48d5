#include "common/tlog_proof.h"

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace ycr::tlog {

std::string FormatProof(const Proof& proof) {
  std::string out = absl::StrCat(kProofHeader, "\n");
  if (proof.extra.has_value()) {
    absl::StrAppend(&out, "extra ", absl::Base64Escape(*proof.extra), "\n");
  }
  absl::StrAppend(&out, "index ", proof.index, "\n");
  for (const Hash& hash : proof.path) {
    absl::StrAppend(&out, absl::Base64Escape(HashBytes(hash)), "\n");
  }
  absl::StrAppend(&out, "\n", proof.checkpoint);
  return out;
}

absl::StatusOr<Proof> ParseProof(absl::string_view text) {
  const size_t blank = text.find("\n\n");
  if (blank == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        "tlog-proof: no blank line before the checkpoint");
  }
  Proof proof;
  proof.checkpoint = std::string(text.substr(blank + 2));
  std::vector<absl::string_view> lines =
      absl::StrSplit(text.substr(0, blank), '\n');
  size_t i = 0;
  if (lines[i++] != kProofHeader) {
    return absl::InvalidArgumentError(
        absl::StrCat("tlog-proof: the first line is not ", kProofHeader));
  }
  if (i < lines.size() && absl::StartsWith(lines[i], "extra ")) {
    std::string extra;
    if (!absl::Base64Unescape(lines[i].substr(6), &extra)) {
      return absl::InvalidArgumentError("tlog-proof: extra is not base64");
    }
    proof.extra = std::move(extra);
    ++i;
  }
  if (i >= lines.size() || !absl::StartsWith(lines[i], "index ") ||
      !absl::SimpleAtoi(lines[i].substr(6), &proof.index) || proof.index < 0 ||
      absl::StrCat(proof.index) != lines[i].substr(6)) {
    return absl::InvalidArgumentError("tlog-proof: no valid index line");
  }
  for (++i; i < lines.size(); ++i) {
    std::string bytes;
    if (!absl::Base64Unescape(lines[i], &bytes)) {
      return absl::InvalidArgumentError(
          absl::StrCat("tlog-proof: path line ", i, " is not base64"));
    }
    absl::StatusOr<Hash> hash = HashFromBytes(bytes);
    if (!hash.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("tlog-proof: path line ", i, " is not a hash"));
    }
    proof.path.push_back(*hash);
  }
  return proof;
}

absl::StatusOr<Hash> ProofLeafHash(const Proof& proof) {
  if (!proof.extra.has_value()) {
    return absl::InvalidArgumentError(
        "tlog-proof: no extra line (the record or its leaf hash)");
  }
  if (proof.extra->size() == 32) return HashFromBytes(*proof.extra);
  return RecordHash(*proof.extra);
}

}  // namespace ycr::tlog
