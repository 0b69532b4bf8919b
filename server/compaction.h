// CompactHubLog: one compaction of the hub's log, as the timer (Hub::CompactNow) and
// SyncAdmin.Compact run it: entries at or below the smallest served cursor of the live
// peers go, always keeping options.retain_min_entries newest entries. Expired peers
// (peer_lease.h) do not hold the log back. Logs the run and records it in the metrics.
// Thread-safe (the store serializes compactions). Storage errors as they come.
#ifndef PULSESYNC_SERVER_COMPACTION_H_
#define PULSESYNC_SERVER_COMPACTION_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/hub_context.h"

namespace pulse::server {

struct CompactionResult {
  uint64_t removed = 0;          // log entries removed by this run
  uint64_t oldest_retained = 0;  // after the run
  int expired_peers = 0;         // peers whose cursors were ignored
};

// `trigger` names who asked ("timer", "admin") in the log line.
absl::StatusOr<CompactionResult> CompactHubLog(HubContext& hub, absl::string_view trigger);

}  // namespace pulse::server

#endif  // PULSESYNC_SERVER_COMPACTION_H_
