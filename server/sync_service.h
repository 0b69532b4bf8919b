// SyncServiceImpl: the hub's pulsedb.sync.v1.SyncService over gRPC's callback API.
// Handshake, Push and Pull are unary; their storage work runs on the hub's pool so gRPC's
// threads never block on an fsync. PushStream applies a stream of pushes in order
// (push_stream.h). Subscribe and Snapshot are server streams
// (subscribe_stream.h, snapshot_stream.h). Pull and Subscribe are served as raw bytes:
// their replies are the log entries as stored, framed as a PullResponse or SubscribeEvent,
// never parsed or re-serialized by the hub (ChangeLog::ScanWire). Thread-safe; borrows the
// HubContext.
#ifndef PULSESYNC_SERVER_SYNC_SERVICE_H_
#define PULSESYNC_SERVER_SYNC_SERVICE_H_

#include <memory>
#include <string>

#include "pulsedb/sync/v1/sync.grpc.pb.h"
#include "server/hub_context.h"

namespace pulse::server {

// The callback service, with the methods served as bytes taken raw.
using SyncServiceBase = pulsedb::sync::v1::SyncService::WithCallbackMethod_Handshake<
    pulsedb::sync::v1::SyncService::WithRawCallbackMethod_Push<
        pulsedb::sync::v1::SyncService::WithRawCallbackMethod_PushStream<
            pulsedb::sync::v1::SyncService::WithRawCallbackMethod_Pull<
                pulsedb::sync::v1::SyncService::WithRawCallbackMethod_Subscribe<
                    pulsedb::sync::v1::SyncService::WithCallbackMethod_Snapshot<
                        pulsedb::sync::v1::SyncService::Service>>>>>>;

class SyncServiceImpl final : public SyncServiceBase {
 public:
  explicit SyncServiceImpl(HubContext* hub) : hub_(hub) {}

  grpc::ServerUnaryReactor* Handshake(grpc::CallbackServerContext* context,
                                      const pulsedb::sync::v1::HandshakeRequest* request,
                                      pulsedb::sync::v1::HandshakeResponse* response) override;
  // A PushRequest in, a PushResponse out, as bytes: the hub parses the request itself
  // (onto an arena) and logs each change's bytes as they came (received_push.h).
  grpc::ServerUnaryReactor* Push(grpc::CallbackServerContext* context,
                                 const grpc::ByteBuffer* request,
                                 grpc::ByteBuffer* response) override;
  // PushRequests in, a PushResponse for each out, as bytes (push_stream.h).
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* PushStream(
      grpc::CallbackServerContext* context) override;
  // A pulsedb.sync.v1.PullRequest in, a PullResponse out, as bytes.
  grpc::ServerUnaryReactor* Pull(grpc::CallbackServerContext* context,
                                 const grpc::ByteBuffer* request,
                                 grpc::ByteBuffer* response) override;
  // A pulsedb.sync.v1.SubscribeRequest in, SubscribeEvents out, as bytes.
  grpc::ServerWriteReactor<grpc::ByteBuffer>* Subscribe(grpc::CallbackServerContext* context,
                                                        const grpc::ByteBuffer* request) override;
  grpc::ServerWriteReactor<pulsedb::sync::v1::SnapshotChunk>* Snapshot(
      grpc::CallbackServerContext* context,
      const pulsedb::sync::v1::SnapshotRequest* request) override;

 private:
  absl::Status DoHandshake(const pulsedb::sync::v1::HandshakeRequest& request,
                           pulsedb::sync::v1::HandshakeResponse* response);
  // `wire`: the bytes of each change as received (ReceivedPush::change_bytes), or empty.
  absl::Status DoPush(const grpc::ServerContextBase& context,
                      const pulsedb::sync::v1::PushRequest& request,
                      absl::Span<const absl::string_view> wire,
                      pulsedb::sync::v1::PushResponse* response);
  // DoPush in two steps (PushStream stages the next request while one is written):
  // checks the request and stages its changes, on top of `after` when given (the
  // stream's request before); then waits for the write and fills in the response.
  // `write_here`: the caller waits for the write next (Store::StageRemoteChanges).
  absl::StatusOr<std::shared_ptr<storage::Store::PendingApply>> StagePush(
      const grpc::ServerContextBase& context, const pulsedb::sync::v1::PushRequest& request,
      absl::Span<const absl::string_view> wire, const storage::Store::PendingApply* after,
      bool write_here);
  absl::Status FinishPush(const std::string& peer, int changes, absl::Time start,
                          storage::Store::PendingApply& staged,
                          pulsedb::sync::v1::PushResponse* response);
  // Pull{acknowledge_only}: records `applied` (the request's cursor, or its
  // applied_through) as the peer's applied position, returns no changes.
  absl::Status Acknowledge(const std::string& peer, const pulsedb::sync::v1::PullRequest& request,
                           uint64_t applied, pulsedb::sync::v1::PullResponse* response);
  // A serialized PullResponse in two parts: `head`, its fields but the changes (cursor,
  // has_more, head sequence), and then `changes`, the page's entries as stored (left
  // null when there are none to scan; maybe a page other replies share). Sent in that order, so
  // that a peer can ask for the next page before it parses this one.
  absl::Status DoPull(const grpc::ServerContextBase& context,
                      const pulsedb::sync::v1::PullRequest& request, std::string* head,
                      std::shared_ptr<const std::string>* changes);

  HubContext* const hub_;
};

// SyncAdminImpl: pulsedb.sync.v1.SyncAdmin (status, compaction) for operators' tools.
class SyncAdminImpl final : public pulsedb::sync::v1::SyncAdmin::CallbackService {
 public:
  explicit SyncAdminImpl(HubContext* hub) : hub_(hub) {}

  grpc::ServerUnaryReactor* Status(grpc::CallbackServerContext* context,
                                   const pulsedb::sync::v1::HubStatusRequest* request,
                                   pulsedb::sync::v1::HubStatusResponse* response) override;
  grpc::ServerUnaryReactor* Compact(grpc::CallbackServerContext* context,
                                    const pulsedb::sync::v1::CompactRequest* request,
                                    pulsedb::sync::v1::CompactResponse* response) override;

 private:
  HubContext* const hub_;
};

// Fills `response` with the hub's state (shared by the admin RPC and metrics).
absl::Status BuildHubStatus(HubContext& hub, pulsedb::sync::v1::HubStatusResponse* response);

}  // namespace pulse::server

#endif  // PULSESYNC_SERVER_SYNC_SERVICE_H_
