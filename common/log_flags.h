#pragma once

// --log_format and --log_level, for the binaries that log (ycr-server,
// ycr-scheduler). Only binaries that call LoggerFromFlags() have the flags.

#include <memory>
#include <ostream>

#include "absl/status/statusor.h"
#include "common/log.h"

namespace ycr {

// A logger writing to `out` (which must outlive it) as the flags say.
// INVALID_ARGUMENT naming the flag when a value is not understood.
absl::StatusOr<std::unique_ptr<Logger>> LoggerFromFlags(std::ostream* out);

}  // namespace ycr
