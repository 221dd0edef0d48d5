// Fuzzes the checks of an append request as it arrives from outside (the
// gRPC request's bytes): parse, validate against the limits, and for a valid
// request encode each event as the log would store it.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "storage/append_validation.h"
#include "storage/record_codec.h"
#include "tests/fuzz/fuzz_input.h"
#include "ycr/v1/event_store.pb.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ycr::v1::AppendRequest wire;
  if (!wire.ParseFromArray(data, static_cast<int>(size))) return 0;
  ycr::storage::AppendRequest request;
  request.stream = wire.stream();
  for (const ycr::v1::ProposedEvent& e : wire.events()) {
    request.events.push_back(e);
  }
  request.actor.set_organisation("school-1");
  request.actor.set_user("u");
  request.actor.set_role("school");
  ycr::storage::LogLimits limits;
  limits.max_payload_bytes = 4096;
  limits.max_events_per_append = 8;
  if (!ycr::storage::ValidateAppend(&request, limits).ok()) return 0;
  std::string prev = ycr::storage::GenesisHash();
  uint64_t position = 1;
  for (const ycr::v1::ProposedEvent& e : request.events) {
    if (!ycr::storage::EventTypeOf(e.payload(), "payload").ok()) std::abort();
    ycr::v1::RecordedEvent record;
    record.set_position(position);
    record.set_stream(request.stream);
    record.set_event_id(e.event_id());
    *record.mutable_payload() = e.payload();
    *record.mutable_actor() = request.actor;
    record.set_prev_hash(prev);
    const std::string value = ycr::storage::EncodeRecord(&record);
    std::string hash;
    if (!ycr::storage::VerifyRecordValue(value, prev, position, &hash).ok()) {
      std::abort();
    }
    prev = hash;
    ++position;
  }
  return 0;
}
