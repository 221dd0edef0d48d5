#include "storage/personal_crypto.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "common/proto_bytes.h"
#include "common/status_macros.h"

namespace ycr::storage {
namespace {

using CipherCtx =
    std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

const unsigned char* Bytes(absl::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// AES-256-GCM fetched once per process (see common/sha256.h: the
// EVP_aes_256_gcm() of an EVP_*Init_ex call is looked up again every time).
const EVP_CIPHER* Aes256Gcm() {
  static const EVP_CIPHER* const cipher = [] {
    const EVP_CIPHER* fetched =
        EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
    return fetched != nullptr ? fetched : EVP_aes_256_gcm();
  }();
  return cipher;
}

absl::Status CheckKey(absl::string_view key) {
  if (key.size() != kDataKeyBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "data key: ", key.size(), " bytes, expected ", kDataKeyBytes));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> RandomBytes(size_t n) {
  std::string out(n, '\0');
  if (n > 0 && RAND_bytes(reinterpret_cast<unsigned char*>(out.data()),
                          static_cast<int>(n)) != 1) {
    return absl::UnavailableError("the random generator failed");
  }
  return out;
}

absl::StatusOr<std::string> NewDataKey() { return RandomBytes(kDataKeyBytes); }

absl::StatusOr<Sealed> Seal(absl::string_view key, absl::string_view aad,
                            absl::string_view plaintext) {
  RETURN_IF_ERROR(CheckKey(key));
  Sealed out;
  ASSIGN_OR_RETURN(out.nonce, RandomBytes(kNonceBytes));
  CipherCtx ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  out.ciphertext.assign(plaintext.size() + kTagBytes, '\0');
  auto* ct = reinterpret_cast<unsigned char*>(out.ciphertext.data());
  int len = 0;
  int total = 0;
  if (ctx == nullptr ||
      EVP_EncryptInit_ex(ctx.get(), Aes256Gcm(), nullptr, Bytes(key),
                         Bytes(out.nonce)) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, Bytes(aad),
                        static_cast<int>(aad.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), ct, &len, Bytes(plaintext),
                        static_cast<int>(plaintext.size())) != 1) {
    return absl::InternalError("AES-256-GCM encryption failed");
  }
  total = len;
  if (EVP_EncryptFinal_ex(ctx.get(), ct + total, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes,
                          ct + total + len) != 1) {
    return absl::InternalError("AES-256-GCM encryption failed");
  }
  out.ciphertext.resize(total + len + kTagBytes);
  return out;
}

absl::StatusOr<std::string> Unseal(absl::string_view key, absl::string_view aad,
                                   absl::string_view nonce,
                                   absl::string_view ciphertext) {
  RETURN_IF_ERROR(CheckKey(key));
  if (nonce.size() != kNonceBytes || ciphertext.size() < kTagBytes) {
    return absl::DataLossError("sealed personal data is malformed");
  }
  const size_t n = ciphertext.size() - kTagBytes;
  std::string plain(n, '\0');
  std::string tag(ciphertext.substr(n));
  CipherCtx ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  auto* out = reinterpret_cast<unsigned char*>(plain.data());
  int len = 0;
  int total = 0;
  if (ctx == nullptr ||
      EVP_DecryptInit_ex(ctx.get(), Aes256Gcm(), nullptr, Bytes(key),
                         Bytes(nonce)) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, Bytes(aad),
                        static_cast<int>(aad.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), out, &len, Bytes(ciphertext),
                        static_cast<int>(n)) != 1) {
    return absl::InternalError("AES-256-GCM decryption failed");
  }
  total = len;
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes,
                          tag.data()) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), out + total, &len) != 1) {
    return absl::DataLossError(
        "sealed personal data does not authenticate (tampered, or moved from "
        "another event or subject)");
  }
  plain.resize(total + len);
  return plain;
}

std::string PersonalAad(absl::string_view subject_id,
                        absl::string_view event_id) {
  return absl::StrCat("ycr.personal.v1", std::string(1, '\0'), subject_id,
                      std::string(1, '\0'), event_id);
}

std::string RecordAad(absl::string_view subject_id,
                      absl::string_view record_key) {
  return absl::StrCat("ycr.record.v1", std::string(1, '\0'), subject_id,
                      std::string(1, '\0'), record_key);
}

absl::StatusOr<v1::EncryptedPersonal> SealPersonal(
    absl::string_view key, absl::string_view event_id,
    const v1::PersonalData& personal) {
  ASSIGN_OR_RETURN(Sealed sealed,
                   Seal(key, PersonalAad(personal.subject_id(), event_id),
                        DeterministicBytes(personal)));
  v1::EncryptedPersonal out;
  out.set_subject_id(personal.subject_id());
  out.set_key_version(kDataKeyVersion);
  out.set_nonce(std::move(sealed.nonce));
  out.set_ciphertext(std::move(sealed.ciphertext));
  return out;
}

absl::StatusOr<v1::PersonalData> UnsealPersonal(
    absl::string_view key, absl::string_view event_id,
    const v1::EncryptedPersonal& sealed) {
  ASSIGN_OR_RETURN(std::string plain,
                   Unseal(key, PersonalAad(sealed.subject_id(), event_id),
                          sealed.nonce(), sealed.ciphertext()));
  v1::PersonalData personal;
  if (!personal.ParseFromString(plain) ||
      personal.subject_id() != sealed.subject_id()) {
    return absl::DataLossError("sealed personal data is malformed");
  }
  return personal;
}

std::string KeyedDigest(absl::string_view key, absl::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), Bytes(data),
       data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

}  // namespace ycr::storage
