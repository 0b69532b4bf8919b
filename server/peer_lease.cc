#include "server/peer_lease.h"

#include <algorithm>

namespace pulse::server {

PeerLease::PeerLease(absl::Duration lease, absl::Time hub_started)
    : lease_(lease), hub_started_(hub_started) {}

void PeerLease::StreamOpened(const std::string& peer) {
  MutexLock lock(&mu_);
  ++streams_[peer];
  ++total_;
}

void PeerLease::StreamClosed(const std::string& peer) {
  MutexLock lock(&mu_);
  auto it = streams_.find(peer);
  if (it == streams_.end()) return;
  --total_;
  if (--it->second <= 0) streams_.erase(it);
}

int PeerLease::OpenStreams(const std::string& peer) const {
  MutexLock lock(&mu_);
  auto it = streams_.find(peer);
  return it == streams_.end() ? 0 : it->second;
}

int PeerLease::TotalOpenStreams() const {
  MutexLock lock(&mu_);
  return total_;
}

bool PeerLease::IsExpired(const pulsedb::sync::v1::PeerInfo& peer, absl::Time now) const {
  if (lease_ <= absl::ZeroDuration()) return false;
  if (OpenStreams(peer.instance_id()) > 0) return false;
  const absl::Time since = std::max(absl::FromUnixMillis(peer.last_seen()), hub_started_);
  return now - since > lease_;
}

absl::flat_hash_set<std::string> PeerLease::ExpiredPeers(const PeerRegistry& peers,
                                                         absl::Time now) const {
  absl::flat_hash_set<std::string> out;
  if (lease_ <= absl::ZeroDuration()) return out;
  for (const pulsedb::sync::v1::PeerInfo& peer : peers.Snapshot()) {
    if (IsExpired(peer, now)) out.insert(peer.instance_id());
  }
  return out;
}

}  // namespace pulse::server
