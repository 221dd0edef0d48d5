#pragma once

// Deterministic protobuf bytes (map entries sorted): what read models store
// and what retries are compared by, so the same message always gives the
// same bytes (a rebuild equals the live state, byte for byte).

#include <string>

#include "google/protobuf/message_lite.h"

namespace ycr {

std::string DeterministicBytes(const google::protobuf::MessageLite& message);

}  // namespace ycr
