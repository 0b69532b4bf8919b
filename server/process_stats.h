// ProcessStats: this process's resident memory and thread count, from /proc/self/status
// (Linux). Pure parsing plus one file read; thread-safe.
#ifndef PULSESYNC_SERVER_PROCESS_STATS_H_
#define PULSESYNC_SERVER_PROCESS_STATS_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace pulse::server {

struct ProcessStats {
  uint64_t resident_bytes = 0;  // VmRSS
  uint64_t threads = 0;         // Threads
};

// Parses the text of a /proc/<pid>/status file. INVALID_ARGUMENT when a field is missing
// or malformed.
absl::StatusOr<ProcessStats> ParseProcStatus(absl::string_view text);
// Reads and parses `path`; UNAVAILABLE when it cannot be read.
absl::StatusOr<ProcessStats> ReadProcessStats(const std::string& path = "/proc/self/status");

}  // namespace pulse::server

#endif  // PULSESYNC_SERVER_PROCESS_STATS_H_
