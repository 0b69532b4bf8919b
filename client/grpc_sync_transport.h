// GrpcSyncTransport: SyncTransport over the generated gRPC stubs. One channel, reused by
// every call; a deadline on every unary call; the bearer token, when set, on every call as
// `authorization: Bearer <token>`; keepalive pings so a dead connection under an idle
// Subscribe stream is noticed. Thread-safe.
#ifndef PULSESYNC_CLIENT_GRPC_SYNC_TRANSPORT_H_
#define PULSESYNC_CLIENT_GRPC_SYNC_TRANSPORT_H_

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "client/sync_transport.h"
#include "grpcpp/grpcpp.h"
#include "pulsedb/sync/v1/sync.grpc.pb.h"

namespace pulse::client {

struct GrpcTransportOptions {
  std::string target = "127.0.0.1:7070";  // host:port of the hub
  std::string bearer_token;               // empty = none
  // Deadline of each unary call (Handshake, Push, Pull, HealthCheck).
  absl::Duration request_timeout = absl::Seconds(30);
  // Largest message sent or received.
  uint64_t max_message_bytes = 64ull << 20;
  // TLS: a PEM file of the CA the hub's certificate chains to (empty = plaintext), and
  // for mutual TLS this peer's own certificate chain and key. `tls_server_name` overrides
  // the name checked against the hub's certificate (when dialing an IP address, say).
  std::string tls_ca_file;
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_server_name;
  // Explicit credentials win over the TLS files (nullptr = use them, or plaintext).
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  // Keepalive ping period on the connection (0 = gRPC's default: none).
  absl::Duration keepalive = absl::Seconds(20);
};

class GrpcSyncTransport final : public SyncTransport {
 public:
  // A TLS file that cannot be read is reported by Handshake (kHandshake, terminal).
  explicit GrpcSyncTransport(GrpcTransportOptions options);

  absl::StatusOr<pulsedb::sync::v1::HandshakeResponse> Handshake(
      const pulsedb::sync::v1::HandshakeRequest& request) override;
  absl::StatusOr<pulsedb::sync::v1::PushResponse> Push(
      const pulsedb::sync::v1::PushRequest& request) override;
  // The whole stream has one unary call's deadline (the SyncManager sends a bounded
  // number of batches per stream).
  std::unique_ptr<PushStreamCall> OpenPushStream() override;
  absl::StatusOr<pulsedb::sync::v1::PullResponse> Pull(
      const pulsedb::sync::v1::PullRequest& request) override;
  std::unique_ptr<EventStream<pulsedb::sync::v1::SubscribeEvent>> Subscribe(
      const pulsedb::sync::v1::SubscribeRequest& request) override;
  std::unique_ptr<EventStream<pulsedb::sync::v1::SnapshotChunk>> Snapshot(
      const pulsedb::sync::v1::SnapshotRequest& request) override;
  absl::Status HealthCheck() override;

  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }

 private:
  std::unique_ptr<grpc::ClientContext> NewContext(bool with_deadline) const;

  const GrpcTransportOptions options_;
  absl::Status setup_error_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pulsedb::sync::v1::SyncService::Stub> stub_;
};

}  // namespace pulse::client

#endif  // PULSESYNC_CLIENT_GRPC_SYNC_TRANSPORT_H_
