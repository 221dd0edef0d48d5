#include "storage/record_codec.h"

#include <openssl/evp.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "common/sha256.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "storage/key_format.h"

namespace ycr::storage {
namespace {

std::string Deterministic(const google::protobuf::MessageLite& m) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    m.SerializeWithCachedSizes(&coded);
  }
  return out;
}

void AppendLengthPrefixed(std::string* out, absl::string_view part) {
  PutBigEndian64(out, part.size());
  out->append(part.data(), part.size());
}

}  // namespace

std::string Sha256(absl::string_view a, absl::string_view b) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr ||
      EVP_DigestInit_ex(ctx, Sha256Algorithm(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx, a.data(), a.size()) != 1 ||
      EVP_DigestUpdate(ctx, b.data(), b.size()) != 1 ||
      EVP_DigestFinal_ex(ctx, digest, &len) != 1) {
    std::abort();  // OpenSSL without SHA-256 cannot keep a hash chain.
  }
  EVP_MD_CTX_free(ctx);
  return std::string(reinterpret_cast<const char*>(digest), len);
}

const std::string& GenesisHash() {
  static const std::string* kGenesis = new std::string(kHashBytes, '\0');
  return *kGenesis;
}

std::string EncodeRecord(v1::RecordedEvent* record) {
  record->clear_hash();
  record->ByteSizeLong();  // Caches sizes for SerializeWithCachedSizes.
  std::string canonical = Deterministic(*record);
  std::string hash = Sha256(record->prev_hash(), canonical);
  record->set_hash(hash);
  std::string value = std::move(hash);
  value.append(canonical);
  return value;
}

absl::Status DecodeRecord(absl::string_view value, v1::RecordedEvent* record) {
  if (value.size() < kHashBytes ||
      !record->ParseFromArray(value.data() + kHashBytes,
                              static_cast<int>(value.size() - kHashBytes))) {
    return absl::DataLossError("stored log record is malformed");
  }
  record->set_hash(value.data(), kHashBytes);
  return absl::OkStatus();
}

absl::Status VerifyRecordValue(absl::string_view value,
                               absl::string_view expected_prev_hash,
                               uint64_t position, std::string* hash_out) {
  v1::RecordedEvent record;
  if (absl::Status s = DecodeRecord(value, &record); !s.ok()) {
    return absl::DataLossError(
        absl::StrCat("log record at position ", position, " is malformed"));
  }
  if (record.position() != position) {
    return absl::DataLossError(absl::StrCat("log record at position ", position,
                                            " says position ",
                                            record.position()));
  }
  if (record.prev_hash() != expected_prev_hash) {
    return absl::DataLossError(absl::StrCat(
        "hash chain broken at position ", position,
        ": prev_hash does not match the hash of the record before"));
  }
  absl::string_view canonical = value.substr(kHashBytes);
  std::string hash = Sha256(record.prev_hash(), canonical);
  if (hash != value.substr(0, kHashBytes)) {
    return absl::DataLossError(
        absl::StrCat("hash chain broken at position ", position,
                     ": stored hash does not match the record's bytes"));
  }
  *hash_out = std::move(hash);
  return absl::OkStatus();
}

std::string ContentDigest(absl::string_view stream,
                          const v1::ProposedEvent& event,
                          const v1::Actor& actor) {
  event.ByteSizeLong();
  actor.ByteSizeLong();
  std::string buf;
  AppendLengthPrefixed(&buf, stream);
  AppendLengthPrefixed(&buf, Deterministic(event));
  AppendLengthPrefixed(&buf, Deterministic(actor));
  return Sha256(buf);
}

}  // namespace ycr::storage
