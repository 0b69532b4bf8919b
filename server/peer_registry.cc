#include "server/peer_registry.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "storage/ids.h"

namespace pulse::server {

absl::StatusOr<std::unique_ptr<PeerRegistry>> PeerRegistry::Load(storage::Store* store) {
  std::unique_ptr<PeerRegistry> registry(new PeerRegistry(store));
  absl::StatusOr<std::vector<pulsedb::sync::v1::PeerInfo>> peers = store->ListPeers();
  if (!peers.ok()) return peers.status();
  MutexLock lock(&registry->mu_);
  for (pulsedb::sync::v1::PeerInfo& peer : *peers) {
    std::string id = peer.instance_id();
    registry->peers_.emplace(std::move(id), std::move(peer));
  }
  return registry;
}

absl::Status PeerRegistry::Register(const std::string& peer_id,
                                    std::vector<std::string> capabilities, int64_t now_millis) {
  pulsedb::sync::v1::PeerInfo record;
  {
    MutexLock lock(&mu_);
    auto it = peers_.find(peer_id);
    record = it != peers_.end() ? it->second : pulsedb::sync::v1::PeerInfo();
  }
  record.set_instance_id(peer_id);
  if (record.first_seen() == 0) record.set_first_seen(now_millis);
  record.set_last_seen(now_millis);
  record.clear_capabilities();
  for (std::string& c : capabilities) record.add_capabilities(std::move(c));
  // Persisting the record is best effort: a peer the hub forgets after a restart is told
  // "unknown peer" and shakes hands again. A full disk must not stop handshakes.
  if (absl::Status s = store_->PutPeer(record); !s.ok()) {
    Log(LogLevel::kWarning, "peer_not_persisted",
        {{"peer", storage::IdToText(peer_id)}, {"error", s.ToString()}});
  }
  MutexLock lock(&mu_);
  peers_[peer_id] = std::move(record);
  return absl::OkStatus();
}

absl::Status PeerRegistry::CheckKnownAndTouch(const std::string& peer_id, int64_t now_millis) {
  MutexLock lock(&mu_);
  auto it = peers_.find(peer_id);
  if (it == peers_.end()) {
    return absl::FailedPreconditionError(absl::StrCat("unknown peer ", storage::IdToText(peer_id),
                                                      ": call Handshake before anything else"));
  }
  if (now_millis > it->second.last_seen()) it->second.set_last_seen(now_millis);
  return absl::OkStatus();
}

bool PeerRegistry::IsObserver(const std::string& peer_id) const {
  MutexLock lock(&mu_);
  auto it = peers_.find(peer_id);
  if (it == peers_.end()) return false;
  for (const std::string& c : it->second.capabilities()) {
    if (c == "observe") return true;
  }
  return false;
}

std::vector<pulsedb::sync::v1::PeerInfo> PeerRegistry::Snapshot() const {
  std::vector<pulsedb::sync::v1::PeerInfo> out;
  MutexLock lock(&mu_);
  for (const auto& [id, peer] : peers_) out.push_back(peer);
  return out;
}

}  // namespace pulse::server
