#pragma once

// The cluster key-encryption key (issue 17): every node of a cluster holds
// the same 32 bytes, in a file of its own (mode 0600, like the TLS key and
// the signer key), and etcd never sees it: subject keys travel in the
// replicated log wrapped under it (storage/rocksdb_event_log_apply.cc).
//
// The file holds the key as 64 hexadecimal digits (a final newline is
// allowed), e.g. made with: umask 077; openssl rand -hex 32 > cluster.kek

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ycr::replication {

// The key in `path`, given by `flag`. INVALID_ARGUMENT naming the flag when
// the file cannot be read, is open to its group or others, or does not hold
// exactly 64 hexadecimal digits.
absl::StatusOr<std::string> LoadClusterKek(absl::string_view flag,
                                           const std::string& path);

}  // namespace ycr::replication
