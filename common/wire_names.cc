#include "common/wire_names.h"

#include "absl/status/status.h"

namespace ycr {

std::string StatusCodeName(int code) {
  std::string name =
      absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
  return name.empty() ? "UNKNOWN" : name;
}

}  // namespace ycr
