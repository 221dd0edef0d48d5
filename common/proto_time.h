#pragma once

// absl::Time <-> google.protobuf.Timestamp, in one place.

#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"

namespace ycr {

// Nanosecond precision; nanos always in [0, 1e9).
google::protobuf::Timestamp ToProtoTime(absl::Time t);
absl::Time FromProtoTime(const google::protobuf::Timestamp& t);

}  // namespace ycr
