#include "common/signed_note.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <memory>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"

namespace ycr::note {
namespace {

constexpr char kAlgEd25519 = 0x01;
// U+2014 EM DASH and a space: how every signature line starts.
constexpr absl::string_view kSignaturePrefix = "\xe2\x80\x94 ";
constexpr size_t kMaxSignatures = 100;

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

const unsigned char* Bytes(absl::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

absl::StatusOr<std::string> PublicKeyOf(absl::string_view seed) {
  Pkey key(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, Bytes(seed),
                                        seed.size()));
  if (key == nullptr) return absl::InvalidArgumentError("not an Ed25519 seed");
  std::string out(32, '\0');
  size_t length = out.size();
  if (EVP_PKEY_get_raw_public_key(key.get(),
                                  reinterpret_cast<unsigned char*>(out.data()),
                                  &length) != 1 ||
      length != 32) {
    return absl::InternalError("Ed25519: cannot derive the public key");
  }
  return out;
}

// "<name>+<hex id>+<base64(alg || key)>": name, id and key bytes.
absl::Status SplitKey(absl::string_view key, std::string* name, uint32_t* id,
                      std::string* bytes) {
  std::vector<absl::string_view> parts = absl::StrSplit(key, '+');
  if (parts.size() != 3 || !ValidKeyName(parts[0]).ok() ||
      parts[1].size() != 8 || !absl::SimpleHexAtoi(parts[1], id)) {
    return absl::InvalidArgumentError(
        "key: expected <name>+<8 hex digits>+<base64 key>");
  }
  std::string decoded;
  if (!absl::Base64Unescape(parts[2], &decoded) || decoded.size() != 33 ||
      decoded[0] != kAlgEd25519) {
    return absl::InvalidArgumentError(
        "key: the key is not base64 of 0x01 and 32 Ed25519 bytes");
  }
  *name = std::string(parts[0]);
  *bytes = decoded.substr(1);
  return absl::OkStatus();
}

std::string KeyText(absl::string_view name, uint32_t id,
                    absl::string_view bytes) {
  return absl::StrCat(
      name, "+", absl::StrFormat("%08x", id), "+",
      absl::Base64Escape(absl::StrCat(std::string(1, kAlgEd25519), bytes)));
}

absl::Status ValidText(absl::string_view text) {
  if (text.empty() || text.back() != '\n') {
    return absl::InvalidArgumentError("note: the text must end in a newline");
  }
  if (absl::StrContains(text, "\n\n")) {
    return absl::InvalidArgumentError("note: the text has a blank line");
  }
  for (char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 && c != '\n') {
      return absl::InvalidArgumentError(
          "note: the text has a control character");
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidKeyName(absl::string_view name) {
  if (name.empty() || name.size() > 255) {
    return absl::InvalidArgumentError("key name: 1 to 255 characters");
  }
  for (char c : name) {
    if (c <= ' ' || c == '+' || static_cast<unsigned char>(c) >= 0x7f) {
      return absl::InvalidArgumentError(
          "key name: printable ASCII without spaces or '+'");
    }
  }
  return absl::OkStatus();
}

uint32_t KeyId(absl::string_view name, absl::string_view public_key) {
  const std::string input =
      absl::StrCat(name, "\n", std::string(1, kAlgEd25519), public_key);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(Bytes(input), input.size(), digest);
  return (uint32_t{digest[0]} << 24) | (uint32_t{digest[1]} << 16) |
         (uint32_t{digest[2]} << 8) | uint32_t{digest[3]};
}

absl::StatusOr<Signer> NewSigner(absl::string_view name) {
  RETURN_IF_ERROR(ValidKeyName(name));
  Signer signer;
  signer.name = std::string(name);
  signer.seed.assign(32, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(signer.seed.data()), 32) !=
      1) {
    return absl::InternalError("no random bytes for a key");
  }
  ASSIGN_OR_RETURN(signer.public_key, PublicKeyOf(signer.seed));
  signer.key_id = KeyId(signer.name, signer.public_key);
  return signer;
}

std::string SignerKey(const Signer& signer) {
  return absl::StrCat("PRIVATE+KEY+",
                      KeyText(signer.name, signer.key_id, signer.seed));
}

absl::StatusOr<Signer> ParseSignerKey(absl::string_view key) {
  if (!absl::ConsumePrefix(&key, "PRIVATE+KEY+")) {
    return absl::InvalidArgumentError(
        "signer key: expected PRIVATE+KEY+<name>+<id>+<key>");
  }
  Signer signer;
  RETURN_IF_ERROR(SplitKey(key, &signer.name, &signer.key_id, &signer.seed));
  ASSIGN_OR_RETURN(signer.public_key, PublicKeyOf(signer.seed));
  if (KeyId(signer.name, signer.public_key) != signer.key_id) {
    return absl::InvalidArgumentError(
        "signer key: the id does not match the name and key");
  }
  return signer;
}

std::string VerifierKey(const Signer& signer) {
  return KeyText(signer.name, signer.key_id, signer.public_key);
}

absl::StatusOr<Verifier> ParseVerifierKey(absl::string_view key) {
  Verifier verifier;
  RETURN_IF_ERROR(
      SplitKey(key, &verifier.name, &verifier.key_id, &verifier.public_key));
  if (KeyId(verifier.name, verifier.public_key) != verifier.key_id) {
    return absl::InvalidArgumentError(
        "verifier key: the id does not match the name and key");
  }
  return verifier;
}

absl::StatusOr<std::string> Sign(absl::string_view text, const Signer& signer) {
  RETURN_IF_ERROR(ValidText(text));
  Pkey key(EVP_PKEY_new_raw_private_key(
      EVP_PKEY_ED25519, nullptr, Bytes(signer.seed), signer.seed.size()));
  MdCtx ctx(EVP_MD_CTX_new());
  if (key == nullptr || ctx == nullptr) {
    return absl::InternalError("Ed25519: cannot load the signer key");
  }
  unsigned char signature[64];
  size_t length = sizeof(signature);
  if (EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) !=
          1 ||
      EVP_DigestSign(ctx.get(), signature, &length, Bytes(text), text.size()) !=
          1 ||
      length != 64) {
    return absl::InternalError("Ed25519: signing failed");
  }
  std::string blob(4, '\0');
  for (int i = 0; i < 4; ++i) {
    blob[i] = static_cast<char>(signer.key_id >> (24 - 8 * i));
  }
  blob.append(reinterpret_cast<const char*>(signature), length);
  return absl::StrCat(text, "\n", kSignaturePrefix, signer.name, " ",
                      absl::Base64Escape(blob), "\n");
}

absl::StatusOr<std::string> Open(absl::string_view note,
                                 const Verifier& verifier) {
  const size_t split = note.rfind("\n\n");
  if (split == absl::string_view::npos || note.back() != '\n') {
    return absl::InvalidArgumentError(
        "note: no blank line before signatures, or no final newline");
  }
  const absl::string_view text = note.substr(0, split + 1);
  RETURN_IF_ERROR(ValidText(text));
  absl::string_view signatures = note.substr(split + 2);
  if (signatures.empty()) {
    return absl::InvalidArgumentError("note: no signature lines");
  }
  signatures.remove_suffix(1);
  std::vector<absl::string_view> lines = absl::StrSplit(signatures, '\n');
  if (lines.size() > kMaxSignatures) {
    return absl::InvalidArgumentError("note: more than 100 signatures");
  }
  for (absl::string_view line : lines) {
    if (!absl::ConsumePrefix(&line, kSignaturePrefix)) {
      return absl::InvalidArgumentError("note: a malformed signature line");
    }
    const size_t space = line.rfind(' ');
    if (space == absl::string_view::npos) {
      return absl::InvalidArgumentError("note: a malformed signature line");
    }
    const absl::string_view name = line.substr(0, space);
    std::string blob;
    if (!ValidKeyName(name).ok() ||
        !absl::Base64Unescape(line.substr(space + 1), &blob) ||
        blob.size() < 5) {
      return absl::InvalidArgumentError("note: a malformed signature line");
    }
    const uint32_t id = (uint32_t{static_cast<uint8_t>(blob[0])} << 24) |
                        (uint32_t{static_cast<uint8_t>(blob[1])} << 16) |
                        (uint32_t{static_cast<uint8_t>(blob[2])} << 8) |
                        uint32_t{static_cast<uint8_t>(blob[3])};
    if (name != verifier.name || id != verifier.key_id) continue;
    Pkey key(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                         Bytes(verifier.public_key),
                                         verifier.public_key.size()));
    MdCtx ctx(EVP_MD_CTX_new());
    if (key == nullptr || ctx == nullptr) {
      return absl::InternalError("Ed25519: cannot load the verifier key");
    }
    const absl::string_view signature = absl::string_view(blob).substr(4);
    if (EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) !=
            1 ||
        EVP_DigestVerify(ctx.get(), Bytes(signature), signature.size(),
                         Bytes(text), text.size()) != 1) {
      return absl::PermissionDeniedError(absl::StrCat(
          "note: the signature by ", verifier.name, " does not verify"));
    }
    return std::string(text);
  }
  return absl::NotFoundError(
      absl::StrCat("note: no signature by ", verifier.name, "+",
                   absl::StrFormat("%08x", verifier.key_id)));
}

std::string FormatCheckpoint(const Checkpoint& checkpoint) {
  std::string out =
      absl::StrCat(checkpoint.origin, "\n", checkpoint.size, "\n",
                   absl::Base64Escape(tlog::HashBytes(checkpoint.root)), "\n");
  for (const std::string& line : checkpoint.extensions) {
    absl::StrAppend(&out, line, "\n");
  }
  return out;
}

absl::StatusOr<Checkpoint> ParseCheckpoint(absl::string_view text) {
  RETURN_IF_ERROR(ValidText(text));
  text.remove_suffix(1);
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  Checkpoint checkpoint;
  if (lines.size() < 3 || lines[0].empty()) {
    return absl::InvalidArgumentError(
        "checkpoint: expected origin, size and root hash lines");
  }
  checkpoint.origin = lines[0];
  uint64_t size = 0;
  if (!absl::SimpleAtoi(lines[1], &size) || absl::StrCat(size) != lines[1] ||
      size > static_cast<uint64_t>(INT64_MAX)) {
    return absl::InvalidArgumentError("checkpoint: the size is not a number");
  }
  checkpoint.size = static_cast<int64_t>(size);
  std::string root;
  if (!absl::Base64Unescape(lines[2], &root) || root.size() != 32 ||
      absl::Base64Escape(root) != lines[2]) {
    return absl::InvalidArgumentError(
        "checkpoint: the root is not base64 of 32 bytes");
  }
  ASSIGN_OR_RETURN(checkpoint.root, tlog::HashFromBytes(root));
  checkpoint.extensions.assign(lines.begin() + 3, lines.end());
  return checkpoint;
}

}  // namespace ycr::note
