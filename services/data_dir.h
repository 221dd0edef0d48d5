#pragma once

// Offline checks and restores of a data directory, for `ycr-server verify`
// and `ycr-server restore`. Neither may run on a directory a server is
// serving (RocksDB's lock refuses it).

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace ycr::services {

struct VerifyReport {
  uint64_t head = 0;
  // One line per check, for a person to read.
  std::vector<std::string> lines;
};

// Opens the store at `path`, checks the whole hash chain from position 1 to
// the head, and checks that every projection's active checkpoint is at or
// below the head. A projection that never ran, or whose code version
// differs (it rebuilds at start), is reported, not an error. NOT_FOUND when
// `path` does not exist; DATA_LOSS when the chain or a checkpoint is wrong;
// the log's Open errors otherwise.
absl::StatusOr<VerifyReport> VerifyDataDir(const std::string& path);

// Copies the backup at `from` (a directory written by Admin.Backup) to
// `data_dir`, which must not exist or be empty, then verifies the copy.
// FAILED_PRECONDITION when `data_dir` has files; NOT_FOUND when `from` is
// not a backup.
absl::StatusOr<VerifyReport> RestoreDataDir(const std::string& from,
                                            const std::string& data_dir);

}  // namespace ycr::services
