// InMemoryHub and InMemorySyncTransport: an in-process stand-in for the hub, for unit
// tests of the SyncManager engine only (integration tests use the real hub over gRPC).
// The hub keeps relayed changes in a vector with per-origin marks (exactly once), never
// returns a change to its origin, and serves Pull and Subscribe; Snapshot is UNIMPLEMENTED.
// Thread-safe.
#ifndef PULSESYNC_CLIENT_IN_MEMORY_SYNC_TRANSPORT_H_
#define PULSESYNC_CLIENT_IN_MEMORY_SYNC_TRANSPORT_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "client/sync_transport.h"
#include "common/mutex.h"

namespace pulse::client {

class InMemoryHub {
 public:
  InMemoryHub();
  const std::string& instance_id() const { return id_; }
  uint64_t head() const;

 private:
  friend class InMemorySyncTransport;
  friend class InMemorySubscription;

  const std::string id_;
  mutable Mutex mu_;
  CondVar grew_;
  std::vector<pulsedb::sync::v1::SyncChange> log_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, uint64_t> marks_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

class InMemorySyncTransport : public SyncTransport {
 public:
  explicit InMemorySyncTransport(std::shared_ptr<InMemoryHub> hub) : hub_(std::move(hub)) {}

  absl::StatusOr<pulsedb::sync::v1::HandshakeResponse> Handshake(
      const pulsedb::sync::v1::HandshakeRequest& request) override;
  absl::StatusOr<pulsedb::sync::v1::PushResponse> Push(
      const pulsedb::sync::v1::PushRequest& request) override;
  absl::StatusOr<pulsedb::sync::v1::PullResponse> Pull(
      const pulsedb::sync::v1::PullRequest& request) override;
  std::unique_ptr<EventStream<pulsedb::sync::v1::SubscribeEvent>> Subscribe(
      const pulsedb::sync::v1::SubscribeRequest& request) override;
  std::unique_ptr<EventStream<pulsedb::sync::v1::SnapshotChunk>> Snapshot(
      const pulsedb::sync::v1::SnapshotRequest& request) override;
  absl::Status HealthCheck() override { return absl::OkStatus(); }

 private:
  std::shared_ptr<InMemoryHub> hub_;
};

}  // namespace pulse::client

#endif  // PULSESYNC_CLIENT_IN_MEMORY_SYNC_TRANSPORT_H_
