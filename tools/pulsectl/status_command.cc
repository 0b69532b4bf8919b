// pulsectl status: the hub's identity and log, and one row per peer: its served cursor,
// lag in changes and in time (how long the oldest change after its cursor has waited),
// what the hub acknowledged of its own changes, last contact and state (observer,
// expired, current or behind). The same numbers as /metrics (server/hub_status.cc).
#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/json_util.h"
#include "storage/ids.h"
#include "tools/pulsectl/cli.h"
#include "tools/pulsectl/commands.h"

ABSL_FLAG(bool, json, false, "print JSON instead of a table (status, tail)");

namespace pulse::pulsectl {

namespace pb = pulsedb::sync::v1;

namespace {

std::string PeerState(const pb::PeerInfo& peer) {
  for (const std::string& c : peer.capabilities()) {
    if (c == "observe") return "observer";
  }
  if (peer.expired()) return "expired";
  return peer.lag() == 0 ? "current" : "behind";
}

// "-" when nothing waits, else e.g. "850ms", "42s", "7m", "3h", "2d".
std::string FormatWait(uint64_t millis) {
  if (millis == 0) return "-";
  if (millis < 1000) return absl::StrCat(millis, "ms");
  if (millis < 120000) return absl::StrCat(millis / 1000, "s");
  if (millis < 7200000) return absl::StrCat(millis / 60000, "m");
  if (millis < 172800000) return absl::StrCat(millis / 3600000, "h");
  return absl::StrCat(millis / 86400000, "d");
}

}  // namespace

int StatusCommand(const std::vector<std::string>& args) {
  if (!args.empty()) {
    std::fprintf(stderr, "usage: pulsectl status [--hub=HOST:PORT] [--json]\n");
    return kExitUsage;
  }
  Hub hub = ConnectFromFlags();
  pb::HubStatusResponse status;
  auto context = hub.Context();
  grpc::Status rpc = hub.admin->Status(context.get(), {}, &status);
  if (!rpc.ok()) return Fail(rpc);
  if (absl::GetFlag(FLAGS_json)) {
    std::string json;
    google::protobuf::util::JsonPrintOptions options;
    options.always_print_primitive_fields = true;
    (void)google::protobuf::util::MessageToJsonString(status, &json, options);
    std::printf("%s\n", json.c_str());
    return kExitOk;
  }
  const int64_t now = absl::ToUnixMillis(absl::Now());
  std::printf("hub %s  head %llu  oldest %llu  subscribers %u  conflicts %s\n",
              storage::IdToText(status.instance_id()).c_str(),
              static_cast<unsigned long long>(status.head_sequence()),
              static_cast<unsigned long long>(status.oldest_sequence()), status.subscribers(),
              status.conflict_resolution() == pb::CONFLICT_RESOLUTION_LAST_WRITE_WINS
                  ? "last-write-wins"
                  : "server-wins");
  std::printf("%-36s  %10s  %8s  %7s  %10s  %-10s  %s\n", "PEER", "CURSOR", "LAG", "BEHIND",
              "PUSHED", "LAST SEEN", "STATE");
  for (const pb::PeerInfo& peer : status.peers()) {
    std::printf("%-36s  %10llu  %8llu  %7s  %10llu  %-10s  %s\n",
                storage::IdToText(peer.instance_id()).c_str(),
                static_cast<unsigned long long>(peer.served_cursor()),
                static_cast<unsigned long long>(peer.lag()), FormatWait(peer.lag_millis()).c_str(),
                static_cast<unsigned long long>(peer.acknowledged_sequence()),
                FormatAge(now - peer.last_seen()).c_str(), PeerState(peer).c_str());
  }
  return kExitOk;
}

}  // namespace pulse::pulsectl
