#include "common/log.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

namespace ycr {
namespace {

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "DEBUG";
    case LogLevel::kInfo:
      return "INFO";
    case LogLevel::kWarning:
      return "WARNING";
    case LogLevel::kError:
      return "ERROR";
  }
  return "INFO";
}

void AppendJsonString(std::string* out, absl::string_view s) {
  out->push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          absl::StrAppendFormat(out, "\\u%04x", c);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

bool NeedsQuotes(absl::string_view s) {
  if (s.empty()) return true;
  for (unsigned char c : s) {
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f) {
      return true;
    }
  }
  return false;
}

}  // namespace

absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view name) {
  const std::string lower = absl::AsciiStrToLower(name);
  if (lower == "debug") return LogLevel::kDebug;
  if (lower == "info") return LogLevel::kInfo;
  if (lower == "warning") return LogLevel::kWarning;
  if (lower == "error") return LogLevel::kError;
  return absl::InvalidArgumentError(absl::StrCat(
      "log level '", name, "': expected debug, info, warning or error"));
}

absl::StatusOr<LogFormat> ParseLogFormat(absl::string_view name) {
  if (name == "text") return LogFormat::kText;
  if (name == "json") return LogFormat::kJson;
  return absl::InvalidArgumentError(
      absl::StrCat("log format '", name, "': expected text or json"));
}

Logger::Logger(std::ostream* out, LogFormat format, LogLevel level)
    : out_(out), format_(format), level_(level) {}

void Logger::Log(LogLevel level, absl::string_view event,
                 absl::Span<const LogField> fields) {
  if (!Enabled(level)) return;
  LogAt(absl::Now(), level, event, fields);
}

void Logger::LogAt(absl::Time time, LogLevel level, absl::string_view event,
                   absl::Span<const LogField> fields) {
  if (!Enabled(level)) return;
  const std::string when =
      absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", time, absl::UTCTimeZone());
  std::string line;
  if (format_ == LogFormat::kJson) {
    line = absl::StrCat("{\"time\":\"", when, "\",\"level\":\"",
                        LevelName(level), "\",\"event\":");
    AppendJsonString(&line, event);
    for (const auto& [key, value] : fields) {
      line.push_back(',');
      AppendJsonString(&line, key);
      line.push_back(':');
      AppendJsonString(&line, value);
    }
    line.append("}\n");
  } else {
    line = absl::StrCat(when, " ", LevelName(level), " ", event);
    for (const auto& [key, value] : fields) {
      absl::StrAppend(&line, " ", key, "=");
      if (NeedsQuotes(value)) {
        absl::StrAppend(&line, "\"", absl::CEscape(value), "\"");
      } else {
        line.append(value);
      }
    }
    line.push_back('\n');
  }
  absl::MutexLock lock(&mu_);
  *out_ << line << std::flush;
}

}  // namespace ycr
