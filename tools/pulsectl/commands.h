// pulsectl's commands. Each takes its positional arguments (after the command name) and
// returns an exit code (cli.h). Flags are read from absl flags.
#ifndef PULSESYNC_TOOLS_PULSECTL_COMMANDS_H_
#define PULSESYNC_TOOLS_PULSECTL_COMMANDS_H_

#include <string>
#include <vector>

namespace pulse::pulsectl {

int StatusCommand(const std::vector<std::string>& args);
int TailCommand(const std::vector<std::string>& args);
int PushCommand(const std::vector<std::string>& args);
int CompactCommand(const std::vector<std::string>& args);
int SnapshotCommand(const std::vector<std::string>& args);
int RestoreCommand(const std::vector<std::string>& args);
int DemoCommand(const std::vector<std::string>& args);

}  // namespace pulse::pulsectl

#endif  // PULSESYNC_TOOLS_PULSECTL_COMMANDS_H_
