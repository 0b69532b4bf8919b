// SyncConfig: how a peer syncs, with the original's fields and defaults (its latest
// release's where they changed), plus live mode. Validated in one Validate(). A plain
// value type; thread-compatible.
#ifndef PULSESYNC_CLIENT_SYNC_CONFIG_H_
#define PULSESYNC_CLIENT_SYNC_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "pulsedb/sync/v1/sync.pb.h"

namespace pulse::client {

enum class SyncDirection { kBidirectional, kPushOnly, kPullOnly };

enum class LiveMode {
  kAuto,  // Subscribe when the hub offers it (the default), else poll
  kOn,    // always Subscribe
  kOff,   // poll with Pull every pull_interval, like the original
};

struct RetryConfig {
  // Consecutive failures before the status turns Disconnected. The loop keeps trying at
  // max_backoff after that: a background sync never gives up on its own.
  int max_retries = 5;
  absl::Duration initial_backoff = absl::Milliseconds(500);
  absl::Duration max_backoff = absl::Seconds(30);
  double multiplier = 2.0;
};

struct SyncConfig {
  SyncDirection direction = SyncDirection::kBidirectional;
  pulsedb::sync::v1::ConflictResolution conflict_resolution =
      pulsedb::sync::v1::CONFLICT_RESOLUTION_SERVER_WINS;
  // Most changes per Push or Pull (the original's latest default; it started at 500).
  uint32_t batch_size = 250;
  // Pushes also happen at once after a local write; this is the fallback period.
  absl::Duration push_interval = absl::Milliseconds(1000);
  absl::Duration pull_interval = absl::Milliseconds(1000);
  RetryConfig retry;
  // Collective ids (16 bytes) to sync; empty = all.
  std::vector<std::string> collectives;
  bool sync_relations = true;
  bool sync_insights = true;
  LiveMode live_mode = LiveMode::kAuto;
  // Largest message this peer sends or reads (the original's default request cap).
  uint64_t max_message_bytes = 64ull << 20;

  // INVALID_ARGUMENT naming the first bad field: batch_size 0, zero intervals, bad retry
  // settings, malformed collective ids, a message cap under 1 KiB.
  absl::Status Validate() const;
};

}  // namespace pulse::client

#endif  // PULSESYNC_CLIENT_SYNC_CONFIG_H_
