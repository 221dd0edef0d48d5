#include "common/log_flags.h"

#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"

ABSL_FLAG(std::string, log_format, "text",
          "Log lines as 'text' (time LEVEL event key=value ...) or 'json' "
          "(one object per line).");
ABSL_FLAG(std::string, log_level, "info",
          "Least severe level logged: debug, info, warning or error.");

namespace ycr {

absl::StatusOr<std::unique_ptr<Logger>> LoggerFromFlags(std::ostream* out) {
  absl::StatusOr<LogFormat> format =
      ParseLogFormat(absl::GetFlag(FLAGS_log_format));
  if (!format.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--log_format: ", format.status().message()));
  }
  absl::StatusOr<LogLevel> level =
      ParseLogLevel(absl::GetFlag(FLAGS_log_level));
  if (!level.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--log_level: ", level.status().message()));
  }
  return std::make_unique<Logger>(out, *format, *level);
}

}  // namespace ycr
