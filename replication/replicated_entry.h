#pragma once

// The replicated log's layout in etcd and the checks of its entries, shared
// by the writer (what it is given must continue the log) and the follower
// (what it reads must continue what it applied).

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "ycr/v1/replication.pb.h"

namespace ycr::replication {

std::string HeadKey(absl::string_view prefix);
// Entries sort by first position: 20 digits.
std::string EntryKey(absl::string_view prefix, uint64_t first_position);
// The range of every entry key.
std::string EntriesBegin(absl::string_view prefix);
// SHA-256 of an entry's value as stored.
std::string EntryHash(absl::string_view entry_value);
// The entry hash before the first entry: 32 zero bytes.
const std::string& NoEntryHash();

// Where a log ends: the next record's position is last_position + 1, and it
// chains to last_record_hash.
struct ChainEnd {
  uint64_t last_position = 0;
  std::string last_record_hash;  // storage::GenesisHash() before any record.
};

// Checks that `append` is not empty and that its records continue `end`
// (positions gapless, each record's hash over its bytes and prev_hash the
// hash before); advances `end` past them. `field` names the append in the
// error (e.g. "appends[2]"), whose code is `code`.
absl::Status ContinueChain(const v1::ReplicatedAppend& append,
                           absl::string_view field, absl::StatusCode code,
                           ChainEnd* end);

}  // namespace ycr::replication
