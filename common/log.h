// Structured log lines (logfmt) on stderr:
//   2026-11-26T03:21:27.123Z INFO push peer=0190... changes=500 applied=500 ms=3.1
// Thread-safe: each line is written whole. The level is process-wide.
#ifndef PULSESYNC_COMMON_LOG_H_
#define PULSESYNC_COMMON_LOG_H_

#include <initializer_list>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"

namespace pulse {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3, kOff = 4 };

// "debug", "info", "warning", "error", "off"; false for anything else.
bool ParseLogLevel(absl::string_view text, LogLevel* level);
void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);

// One field of a line; values with spaces, quotes or '=' are quoted.
using LogField = std::pair<absl::string_view, std::string>;

void Log(LogLevel level, absl::string_view event, std::initializer_list<LogField> fields = {});

}  // namespace pulse

#endif  // PULSESYNC_COMMON_LOG_H_
