#include "server/compaction.h"

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"

namespace pulse::server {

absl::StatusOr<CompactionResult> CompactHubLog(HubContext& hub, absl::string_view trigger) {
  storage::Store& store = hub.store();
  const uint64_t head = store.log().Head();
  const uint64_t floor = hub.options().retain_min_entries;
  const absl::flat_hash_set<std::string> expired =
      hub.lease().ExpiredPeers(hub.peers(), absl::Now());
  absl::StatusOr<uint64_t> removed = store.CompactWal(head > floor ? head - floor + 1 : 1, expired);
  if (!removed.ok()) {
    Log(LogLevel::kError, "compaction_failed",
        {{"trigger", std::string(trigger)}, {"error", removed.status().ToString()}});
    return removed.status();
  }
  hub.metrics().RecordCompaction(*removed);
  CompactionResult result;
  result.removed = *removed;
  result.oldest_retained = store.log().OldestRetained();
  result.expired_peers = static_cast<int>(expired.size());
  Log(*removed > 0 || trigger != "timer" ? LogLevel::kInfo : LogLevel::kDebug, "compaction",
      {{"trigger", std::string(trigger)},
       {"removed", absl::StrCat(result.removed)},
       {"oldest", absl::StrCat(result.oldest_retained)},
       {"head", absl::StrCat(head)},
       {"expired_peers", absl::StrCat(result.expired_peers)}});
  return result;
}

}  // namespace pulse::server
