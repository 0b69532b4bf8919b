// pulsectl: operate a PulseSync hub from the command line.
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "common/command_line.h"
#include "tools/pulsectl/cli.h"
#include "tools/pulsectl/commands.h"

namespace {

constexpr char kUsage[] =
    "operate a PulseSync hub.\n"
    "Usage: pulsectl <command> [flags]\n"
    "Commands:\n"
    "  status                      the hub's log and every peer's cursor, lag, last contact\n"
    "  tail [--from=SEQ]           follow changes live (--json for JSON lines, --count=N)\n"
    "  push FILE.json              send a PushRequest written as protobuf JSON\n"
    "  compact                     compact the hub's log by the slowest peer's cursor\n"
    "  snapshot --out=FILE         save the hub's state to a file (with a progress bar)\n"
    "  restore --in=FILE --data_dir=DIR   make a new store from a snapshot file\n"
    "  demo                        run a hub with two peers and show changes flowing\n"
    "Exit codes: 0 ok, 1 the operation failed, 2 bad usage.";

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args = pulse::ParseFlagsOrExit(argc, argv, kUsage, "tools/pulsectl/");
  if (args.size() < 2) {
    std::fprintf(stderr, "pulsectl: %s\n", kUsage);
    return pulse::pulsectl::kExitUsage;
  }
  const std::map<std::string, int (*)(const std::vector<std::string>&)> commands = {
      {"status", pulse::pulsectl::StatusCommand},     {"tail", pulse::pulsectl::TailCommand},
      {"push", pulse::pulsectl::PushCommand},         {"compact", pulse::pulsectl::CompactCommand},
      {"snapshot", pulse::pulsectl::SnapshotCommand}, {"restore", pulse::pulsectl::RestoreCommand},
      {"demo", pulse::pulsectl::DemoCommand},
  };
  auto it = commands.find(args[1]);
  if (it == commands.end()) {
    std::fprintf(stderr, "pulsectl: unknown command \"%s\"\n%s\n", args[1].c_str(), kUsage);
    return pulse::pulsectl::kExitUsage;
  }
  return it->second(std::vector<std::string>(args.begin() + 2, args.end()));
}
