#pragma once

// Replicated appends made of real, chained records (storage's codec), for
// the replication tests.

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "storage/record_codec.h"
#include "ycr/v1/event.pb.h"
#include "ycr/v1/replication.pb.h"

namespace ycr::testing {

// Appends of records_per_append[i] records each, continuing a log whose
// last record is `last_position` with hash `last_hash`; each record's
// opaque payload has `payload_bytes` bytes.
inline std::vector<v1::ReplicatedAppend> MakeAppends(
    uint64_t last_position, std::string last_hash,
    const std::vector<int>& records_per_append, size_t payload_bytes = 16) {
  std::vector<v1::ReplicatedAppend> out;
  uint64_t position = last_position;
  for (int n : records_per_append) {
    v1::ReplicatedAppend& append = out.emplace_back();
    for (int i = 0; i < n; ++i) {
      v1::RecordedEvent record;
      record.set_position(++position);
      record.set_stream(absl::StrCat("ops-test-", position % 7));
      record.set_stream_version(position);
      record.set_event_id(absl::StrCat("event-", position));
      record.set_event_type("test.note");
      record.mutable_payload()->mutable_opaque()->set_type("test.note");
      record.mutable_payload()->mutable_opaque()->set_data(
          std::string(payload_bytes, 'x'));
      record.set_prev_hash(last_hash);
      *append.add_records() = storage::EncodeRecord(&record);
      last_hash = record.hash();
    }
  }
  return out;
}

inline std::vector<v1::ReplicatedAppend> MakeAppends(
    const v1::ReplicatedHead& head, const std::vector<int>& records_per_append,
    size_t payload_bytes = 16) {
  return MakeAppends(head.last_position(), head.last_record_hash(),
                     records_per_append, payload_bytes);
}

}  // namespace ycr::testing
