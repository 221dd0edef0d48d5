#include "replication/replicated_entry.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "storage/record_codec.h"
#include "ycr/v1/event.pb.h"

namespace ycr::replication {

std::string HeadKey(absl::string_view prefix) {
  return absl::StrCat(prefix, "/head");
}

std::string EntryKey(absl::string_view prefix, uint64_t first_position) {
  return absl::StrFormat("%s/entry/%020u", prefix, first_position);
}

std::string EntriesBegin(absl::string_view prefix) {
  return absl::StrCat(prefix, "/entry/");
}

std::string EntryHash(absl::string_view entry_value) {
  return storage::Sha256(entry_value);
}

const std::string& NoEntryHash() {
  static const std::string* zeros = new std::string(32, '\0');
  return *zeros;
}

absl::Status ContinueChain(const v1::ReplicatedAppend& append,
                           absl::string_view field, absl::StatusCode code,
                           ChainEnd* end) {
  if (append.records().empty()) {
    return absl::Status(code,
                        absl::StrCat(field, ".records: an append has records"));
  }
  for (int j = 0; j < append.records_size(); ++j) {
    const uint64_t position = end->last_position + 1;
    const std::string at = absl::StrCat(field, ".records[", j, "]");
    v1::RecordedEvent record;
    if (!storage::DecodeRecord(append.records(j), &record).ok() ||
        record.position() != position) {
      return absl::Status(
          code, absl::StrCat(at, ": not the record at position ", position,
                             ", the next of the replicated log"));
    }
    std::string hash;
    if (absl::Status s = storage::VerifyRecordValue(
            append.records(j), end->last_record_hash, position, &hash);
        !s.ok()) {
      return absl::Status(code, absl::StrCat(at,
                                             ": does not continue the "
                                             "chain: ",
                                             s.message()));
    }
    end->last_record_hash = std::move(hash);
    end->last_position = position;
  }
  return absl::OkStatus();
}

}  // namespace ycr::replication
