#pragma once

// Canonical bytes, the hash chain and content digests of log records.
//
// A stored record value is hash[32] followed by the canonical bytes: the
// deterministic protobuf serialisation of the RecordedEvent with `hash`
// empty. hash = SHA-256(prev_hash || canonical bytes). Verification hashes the
// stored bytes as they are, so it never depends on re-serialising.

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "ycr/v1/event.pb.h"

namespace ycr::storage {

// SHA-256 of a || b.
std::string Sha256(absl::string_view a, absl::string_view b = {});

// The hash before the first record: 32 zero bytes.
const std::string& GenesisHash();

// Fills record->hash and returns the value to store. `record->prev_hash` must
// be set.
std::string EncodeRecord(v1::RecordedEvent* record);

// Parses a stored value into `record` (hash included). DATA_LOSS if malformed.
absl::Status DecodeRecord(absl::string_view value, v1::RecordedEvent* record);

// Checks that a stored value's hash matches its bytes and that its prev_hash
// is `expected_prev_hash`. DATA_LOSS otherwise, naming `position`.
absl::Status VerifyRecordValue(absl::string_view value,
                               absl::string_view expected_prev_hash,
                               uint64_t position, std::string* hash_out);

// The identity of an append's event for idempotency: two proposals with the
// same digest are the same event. Covers the stream, the proposed event and
// the actor.
std::string ContentDigest(absl::string_view stream,
                          const v1::ProposedEvent& event,
                          const v1::Actor& actor);

}  // namespace ycr::storage
