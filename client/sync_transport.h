// SyncTransport: how a peer talks to its hub. One call per RPC of pulsedb.sync.v1;
// streams are read with a blocking Next. Implementations: GrpcSyncTransport (the real
// one) and InMemorySyncTransport (engine unit tests). Thread-safe: calls may overlap,
// each stream is read by one thread at a time. Failures are absl::Status with a
// SyncErrorKind (sync_error.h) and, where the hub attached them, typed payloads
// (common/status_payloads.h).
#ifndef PULSESYNC_CLIENT_SYNC_TRANSPORT_H_
#define PULSESYNC_CLIENT_SYNC_TRANSPORT_H_

#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "pulsedb/sync/v1/sync.pb.h"

namespace pulse::client {

// A server stream being read.
template <typename Event>
class EventStream {
 public:
  virtual ~EventStream() = default;
  // Blocks for the next event; false when the stream ended (see Finish) or was cancelled.
  virtual bool Next(Event* event) = 0;
  // Ends the stream from any thread; a blocked Next returns false.
  virtual void Cancel() = 0;
  // After Next returned false: how the stream ended.
  virtual absl::Status Finish() = 0;
};

// A PushStream call (docs/protocol.md): requests written in order, a response read for
// each, in the same order. Used by one thread at a time.
class PushStreamCall {
 public:
  virtual ~PushStreamCall() = default;
  // Sends the next request; false once the stream has ended (Finish says how).
  virtual bool Write(const pulsedb::sync::v1::PushRequest& request) = 0;
  // Blocks for the next response; false once the stream has ended.
  virtual bool Read(pulsedb::sync::v1::PushResponse* response) = 0;
  // Half-closes, drops responses not read, and returns how the stream ended.
  virtual absl::Status Finish() = 0;
};

class SyncTransport {
 public:
  virtual ~SyncTransport() = default;

  virtual absl::StatusOr<pulsedb::sync::v1::HandshakeResponse> Handshake(
      const pulsedb::sync::v1::HandshakeRequest& request) = 0;
  virtual absl::StatusOr<pulsedb::sync::v1::PushResponse> Push(
      const pulsedb::sync::v1::PushRequest& request) = 0;
  // Opens a PushStream call; null when this transport has none (the peer then pushes
  // with Push, one batch at a time).
  virtual std::unique_ptr<PushStreamCall> OpenPushStream() { return nullptr; }
  virtual absl::StatusOr<pulsedb::sync::v1::PullResponse> Pull(
      const pulsedb::sync::v1::PullRequest& request) = 0;
  virtual std::unique_ptr<EventStream<pulsedb::sync::v1::SubscribeEvent>> Subscribe(
      const pulsedb::sync::v1::SubscribeRequest& request) = 0;
  virtual std::unique_ptr<EventStream<pulsedb::sync::v1::SnapshotChunk>> Snapshot(
      const pulsedb::sync::v1::SnapshotRequest& request) = 0;
  // OK when the hub reports SERVING.
  virtual absl::Status HealthCheck() = 0;
};

}  // namespace pulse::client

#endif  // PULSESYNC_CLIENT_SYNC_TRANSPORT_H_
