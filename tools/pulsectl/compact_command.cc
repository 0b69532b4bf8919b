// pulsectl compact: one compaction of the hub's log by the slowest peer's cursor.
#include <cstdio>

#include "tools/pulsectl/cli.h"
#include "tools/pulsectl/commands.h"

namespace pulse::pulsectl {

int CompactCommand(const std::vector<std::string>& args) {
  if (!args.empty()) {
    std::fprintf(stderr, "usage: pulsectl compact [--hub=HOST:PORT]\n");
    return kExitUsage;
  }
  Hub hub = ConnectFromFlags();
  pulsedb::sync::v1::CompactResponse response;
  auto context = hub.Context();
  grpc::Status rpc = hub.admin->Compact(context.get(), {}, &response);
  if (!rpc.ok()) return Fail(rpc);
  std::printf("removed %llu log entries; oldest retained sequence is now %llu\n",
              static_cast<unsigned long long>(response.removed()),
              static_cast<unsigned long long>(response.oldest_sequence()));
  return kExitOk;
}

}  // namespace pulse::pulsectl
