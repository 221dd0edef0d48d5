#include "replication/append_errors.h"

#include <string>

namespace ycr::replication {

absl::Status AppendNotCommitted(const absl::Status& cause, Logger* log) {
  if (log != nullptr) {
    log->Log(LogLevel::kWarning, "replication.append_refused",
             {{"code", absl::StatusCodeToString(cause.code())},
              {"error", std::string(cause.message())}});
  }
  return absl::UnavailableError(kAppendNotCommitted);
}

}  // namespace ycr::replication
