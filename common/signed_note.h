#pragma once

// Signed checkpoints of the log, in the published formats so that tools
// ycr did not write can check them:
//
// - C2SP signed-note: a UTF-8 text ending in a newline, a blank line, and
//   one line per signature, "\u2014 <key name> <base64(key id || sig)>".
//   Ed25519 keys; the key id is the first four bytes (big-endian) of
//   SHA-256(key name || 0x0A || 0x01 || public key). A verifier key is
//   written "<name>+<8 hex digits of the id>+<base64(0x01 || public key)>",
//   a signer key "PRIVATE+KEY+<name>+<id>+<base64(0x01 || seed)>".
// - C2SP tlog-checkpoint: the text is the origin line, the tree size in
//   decimal, the root hash in standard base64, then optional extension
//   lines.
//
// Ed25519 by OpenSSL. Plain functions: no storage, no gRPC.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/tlog.h"

namespace ycr::note {

// A key that signs notes: its name (for a log, its origin, e.g.
// "council.example/ycr/v1"), its id, and the Ed25519 key.
struct Signer {
  std::string name;
  uint32_t key_id = 0;
  std::string seed;        // 32 bytes: the private key.
  std::string public_key;  // 32 bytes.
};

// A key that checks them.
struct Verifier {
  std::string name;
  uint32_t key_id = 0;
  std::string public_key;  // 32 bytes.
};

// INVALID_ARGUMENT unless `name` is a key name signed-note allows (1..255
// printable ASCII characters, no space, no '+').
absl::Status ValidKeyName(absl::string_view name);

// SHA-256(name || 0x0A || 0x01 || public key), its first four bytes.
uint32_t KeyId(absl::string_view name, absl::string_view public_key);

// A new key named `name`, from OpenSSL's random source.
absl::StatusOr<Signer> NewSigner(absl::string_view name);

std::string SignerKey(const Signer& signer);
absl::StatusOr<Signer> ParseSignerKey(absl::string_view key);
std::string VerifierKey(const Signer& signer);
absl::StatusOr<Verifier> ParseVerifierKey(absl::string_view key);

// `text` (non-empty, ending in a newline, no blank line, no control
// characters but newlines) with the signature of `signer` appended.
absl::StatusOr<std::string> Sign(absl::string_view text, const Signer& signer);

// The text of `note` when a signature by `verifier` (same name and key id)
// verifies. PERMISSION_DENIED when that key's signature does not verify
// (the note is forged or altered), NOT_FOUND when the note has no signature
// by that key, INVALID_ARGUMENT when it is not a signed note at all.
// Signatures by other keys are ignored.
absl::StatusOr<std::string> Open(absl::string_view note,
                                 const Verifier& verifier);

// A C2SP tlog-checkpoint.
struct Checkpoint {
  std::string origin;
  int64_t size = 0;
  tlog::Hash root{};
  std::vector<std::string> extensions;  // Lines, without their newlines.
};

std::string FormatCheckpoint(const Checkpoint& checkpoint);
absl::StatusOr<Checkpoint> ParseCheckpoint(absl::string_view text);

}  // namespace ycr::note
