// Fuzzes the decoders of stored bytes: log records (value and hash check)
// and the keys and small values of the store's key format. Whatever the
// bytes, decoding returns an error or a value; whatever decodes re-encodes
// to a value that decodes and verifies; a log key that decodes is the key of
// its position.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "storage/key_format.h"
#include "storage/record_codec.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ycr::fuzz::Chunks chunks(data, size);
  const std::string value = chunks.Next();
  const std::string prev = chunks.Next();
  const std::string key = chunks.Next();

  ycr::v1::RecordedEvent record;
  if (ycr::storage::DecodeRecord(value, &record).ok()) {
    std::string hash;
    (void)ycr::storage::VerifyRecordValue(value, record.prev_hash(),
                                          record.position(), &hash);
    // Whatever was decoded encodes to a value that decodes and verifies.
    ycr::v1::RecordedEvent again = record;
    again.clear_hash();
    const std::string encoded = ycr::storage::EncodeRecord(&again);
    ycr::v1::RecordedEvent decoded;
    if (!ycr::storage::DecodeRecord(encoded, &decoded).ok()) std::abort();
    if (!ycr::storage::VerifyRecordValue(encoded, again.prev_hash(),
                                         again.position(), &hash)
             .ok() ||
        hash != again.hash()) {
      std::abort();
    }
  }
  std::string ignored;
  (void)ycr::storage::VerifyRecordValue(value, prev, 7, &ignored);

  (void)ycr::storage::DecodeLogKey(key);
  (void)ycr::storage::DecodeStreamKey(key);
  (void)ycr::storage::DecodePosition(key);
  (void)ycr::storage::DecodeFormatVersion(key);
  if (auto position = ycr::storage::DecodeLogKey(key); position.has_value()) {
    if (ycr::storage::LogKey(*position) != key) std::abort();
  }
  return 0;
}
