#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace ycr {

// The whole of the file at `path`. NOT_FOUND when it cannot be opened,
// DATA_LOSS when reading it fails part way; both name the path.
absl::StatusOr<std::string> ReadFile(const std::string& path);

}  // namespace ycr
