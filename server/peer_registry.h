// PeerRegistry: the peers that completed a handshake with this hub, kept in memory and
// persisted in the store's `peers` family so that a restarted hub still knows them.
// Requests from an instance that never shook hands are refused. Thread-safe.
#ifndef PULSESYNC_SERVER_PEER_REGISTRY_H_
#define PULSESYNC_SERVER_PEER_REGISTRY_H_

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "common/mutex.h"
#include "pulsedb/sync/v1/sync.pb.h"
#include "storage/store.h"

namespace pulse::server {

class PeerRegistry {
 public:
  // Loads the persisted peers. `store` must outlive the registry.
  static absl::StatusOr<std::unique_ptr<PeerRegistry>> Load(storage::Store* store);

  // Records a handshake: persists the peer (first_seen kept) with its capabilities.
  absl::Status Register(const std::string& peer_id, std::vector<std::string> capabilities,
                        int64_t now_millis);
  // FAILED_PRECONDITION unless `peer_id` shook hands; refreshes last_seen in memory.
  absl::Status CheckKnownAndTouch(const std::string& peer_id, int64_t now_millis);
  std::vector<pulsedb::sync::v1::PeerInfo> Snapshot() const;
  // An observer (capability "observe": pulsectl tail, dashboards) reads without holding
  // compaction back: no served cursor is recorded for it.
  bool IsObserver(const std::string& peer_id) const;

 private:
  explicit PeerRegistry(storage::Store* store) : store_(store) {}

  storage::Store* const store_;
  mutable Mutex mu_;
  absl::flat_hash_map<std::string, pulsedb::sync::v1::PeerInfo> peers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pulse::server

#endif  // PULSESYNC_SERVER_PEER_REGISTRY_H_
