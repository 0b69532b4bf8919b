// PeerLease: which peers are expired. A peer is expired when the hub has not heard from
// it (no handshake or request) for longer than the lease and it holds no open Subscribe
// stream. An expired peer's cursor stops holding compaction back (compaction.h) and
// SyncAdmin.Status and /metrics report it; as soon as it calls again it is live again,
// and if its cursor was compacted meanwhile it is told so (FAILED_PRECONDITION with the
// oldest retained sequence) and catches up through Snapshot.
//
// Idle time counts from the later of the peer's last_seen and this hub's start: the
// registry persists last_seen only at handshakes, so a restarted hub cannot tell how long
// a peer has really been away and gives it a full lease. Also keeps the count of open
// Subscribe streams per peer. A lease of zero never expires anyone. Thread-safe.
#ifndef PULSESYNC_SERVER_PEER_LEASE_H_
#define PULSESYNC_SERVER_PEER_LEASE_H_

#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/time/time.h"
#include "common/mutex.h"
#include "pulsedb/sync/v1/sync.pb.h"
#include "server/peer_registry.h"

namespace pulse::server {

class PeerLease {
 public:
  PeerLease(absl::Duration lease, absl::Time hub_started);

  absl::Duration lease() const { return lease_; }

  // A Subscribe stream of `peer` opened or ended (calls pair up).
  void StreamOpened(const std::string& peer);
  void StreamClosed(const std::string& peer);
  int OpenStreams(const std::string& peer) const;
  int TotalOpenStreams() const;

  bool IsExpired(const pulsedb::sync::v1::PeerInfo& peer, absl::Time now) const;
  // The ids of the registry's peers that are expired at `now`.
  absl::flat_hash_set<std::string> ExpiredPeers(const PeerRegistry& peers, absl::Time now) const;

 private:
  const absl::Duration lease_;
  const absl::Time hub_started_;

  mutable Mutex mu_;
  absl::flat_hash_map<std::string, int> streams_ ABSL_GUARDED_BY(mu_);
  int total_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace pulse::server

#endif  // PULSESYNC_SERVER_PEER_LEASE_H_
