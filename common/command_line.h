// ParseFlagsOrExit: abseil flag parsing with the conventions users expect of a command:
// --help / -h prints the usage and this program's flags to stdout and exits 0 (abseil
// alone exits 1); an unknown or malformed flag exits 1 with the error on stderr.
// Call once, first thing in main. Not thread-safe (flags are process state).
#ifndef PULSESYNC_COMMON_COMMAND_LINE_H_
#define PULSESYNC_COMMON_COMMAND_LINE_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace pulse {

// `usage` is the text printed above the flags; `flags_file` the source file whose flags
// --help lists (e.g. "server/pulse_hub_main.cc"). Returns the positional arguments
// (argv[0] first).
std::vector<std::string> ParseFlagsOrExit(int argc, char** argv, absl::string_view usage,
                                          absl::string_view flags_file);

}  // namespace pulse

#endif  // PULSESYNC_COMMON_COMMAND_LINE_H_
