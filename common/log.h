#pragma once

// Structured logs: one line per event, with a level, an event name and
// key=value fields, written whole (lines of concurrent writers never mix).
//
//   text: 2026-11-24T20:50:01.123Z INFO server.listening addr=127.0.0.1:7070
//         note="two words"
//   json: {"time":"2026-11-24T20:50:01.123Z","level":"INFO",
//          "event":"server.listening","addr":"127.0.0.1:7070",...}
//
// (each on one line). In text, a value with a space, a quote, '=' or a
// control character is quoted with C escapes; JSON strings are escaped per
// RFC 8259. Events below the logger's level are dropped.

#include <ostream>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace ycr {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };
enum class LogFormat { kText, kJson };

// "debug", "info", "warning", "error" (any case).
absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view name);
// "text" or "json".
absl::StatusOr<LogFormat> ParseLogFormat(absl::string_view name);

using LogField = std::pair<absl::string_view, std::string>;

class Logger {
 public:
  // `out` must outlive the logger. Thread-safe.
  Logger(std::ostream* out, LogFormat format, LogLevel level);

  bool Enabled(LogLevel level) const { return level >= level_; }

  // Writes and flushes one line, stamped with the current wall time.
  void Log(LogLevel level, absl::string_view event,
           absl::Span<const LogField> fields = {});
  // The same line at a given time (for tests).
  void LogAt(absl::Time time, LogLevel level, absl::string_view event,
             absl::Span<const LogField> fields);

 private:
  std::ostream* const out_;
  const LogFormat format_;
  const LogLevel level_;
  absl::Mutex mu_;
};

}  // namespace ycr
