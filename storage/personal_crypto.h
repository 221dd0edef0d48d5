#pragma once

// Sealing of personal data under a subject's data key: AES-256-GCM (OpenSSL)
// with a fresh random 96-bit nonce per sealing and associated data that
// binds the ciphertext to where it belongs (the subject and the event id, or
// the subject and the record key). Destroying a subject's key (crypto
// erasure) leaves every ciphertext sealed under it unreadable, while the
// bytes, and so the log's hash chain, stay exactly as they were.
//
// Byte layout of a sealed value: ciphertext || tag[16]; the nonce is kept
// beside it (EncryptedPersonal.nonce).

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ycr/v1/event.pb.h"

namespace ycr::storage {

inline constexpr size_t kDataKeyBytes = 32;
inline constexpr size_t kNonceBytes = 12;
inline constexpr size_t kTagBytes = 16;
inline constexpr uint32_t kDataKeyVersion = 1;
// Random bytes in each stored record (RecordedEvent.salt, store format 7).
inline constexpr size_t kRecordSaltBytes = 16;

// `n` bytes from OpenSSL's RAND_bytes. UNAVAILABLE when the random generator
// fails.
absl::StatusOr<std::string> RandomBytes(size_t n);

// A new random data key (RandomBytes). UNAVAILABLE as RandomBytes.
absl::StatusOr<std::string> NewDataKey();

struct Sealed {
  std::string nonce;
  std::string ciphertext;  // with the tag
};

// Seals `plaintext` under `key` (kDataKeyBytes) with `aad`. INTERNAL when
// OpenSSL fails, INVALID_ARGUMENT for a key of the wrong size.
absl::StatusOr<Sealed> Seal(absl::string_view key, absl::string_view aad,
                            absl::string_view plaintext);

// Opens what Seal made. DATA_LOSS when the ciphertext, nonce or aad is not
// what was sealed (tampered, or moved to another event or subject).
absl::StatusOr<std::string> Unseal(absl::string_view key, absl::string_view aad,
                                   absl::string_view nonce,
                                   absl::string_view ciphertext);

// Associated data of an event's personal part and of a sealed record.
std::string PersonalAad(absl::string_view subject_id,
                        absl::string_view event_id);
std::string RecordAad(absl::string_view subject_id,
                      absl::string_view record_key);

// Seals `personal` (whose subject_id names the subject) for the event
// `event_id`: the stored form.
absl::StatusOr<v1::EncryptedPersonal> SealPersonal(
    absl::string_view key, absl::string_view event_id,
    const v1::PersonalData& personal);

// Opens an event's stored personal part. DATA_LOSS as Unseal, or when the
// plaintext names another subject.
absl::StatusOr<v1::PersonalData> UnsealPersonal(
    absl::string_view key, absl::string_view event_id,
    const v1::EncryptedPersonal& sealed);

// HMAC-SHA-256 of `data` under `key`: lets the idempotency digest cover an
// event's personal part without holding a plain hash of it (one that could
// confirm a guessed text after erasure).
std::string KeyedDigest(absl::string_view key, absl::string_view data);

}  // namespace ycr::storage
