#include "client/grpc_sync_transport.h"

#include <utility>

#include "absl/time/clock.h"
#include "client/status_mapping.h"
#include "client/sync_error.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace pulse::client {

namespace pb = pulsedb::sync::v1;

namespace {

template <typename Event>
class GrpcEventStream final : public EventStream<Event> {
 public:
  GrpcEventStream(std::unique_ptr<grpc::ClientContext> context,
                  std::unique_ptr<grpc::ClientReader<Event>> reader)
      : context_(std::move(context)), reader_(std::move(reader)) {}

  ~GrpcEventStream() override {
    if (!finished_) {
      context_->TryCancel();
      while (reader_->Read(&scratch_)) {
      }
      reader_->Finish();
    }
  }

  bool Next(Event* event) override { return reader_->Read(event); }
  void Cancel() override { context_->TryCancel(); }
  absl::Status Finish() override {
    finished_ = true;
    return FromGrpcStatus(reader_->Finish(), context_.get());
  }

 private:
  std::unique_ptr<grpc::ClientContext> context_;
  std::unique_ptr<grpc::ClientReader<Event>> reader_;
  Event scratch_;
  bool finished_ = false;
};

}  // namespace

GrpcSyncTransport::GrpcSyncTransport(GrpcTransportOptions options) : options_(std::move(options)) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(static_cast<int>(options_.max_message_bytes));
  args.SetMaxSendMessageSize(static_cast<int>(options_.max_message_bytes));
  if (options_.keepalive > absl::ZeroDuration()) {
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS,
                static_cast<int>(absl::ToInt64Milliseconds(options_.keepalive)));
    args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
    args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials =
      options_.credentials != nullptr ? options_.credentials : grpc::InsecureChannelCredentials();
  channel_ = grpc::CreateCustomChannel(options_.target, credentials, args);
  stub_ = pb::SyncService::NewStub(channel_);
}

std::unique_ptr<grpc::ClientContext> GrpcSyncTransport::NewContext(bool with_deadline) const {
  auto context = std::make_unique<grpc::ClientContext>();
  if (with_deadline) {
    context->set_deadline(absl::ToChronoTime(absl::Now() + options_.request_timeout));
  }
  if (!options_.bearer_token.empty()) {
    context->AddMetadata("authorization", "Bearer " + options_.bearer_token);
  }
  return context;
}

absl::StatusOr<pb::HandshakeResponse> GrpcSyncTransport::Handshake(
    const pb::HandshakeRequest& request) {
  auto context = NewContext(true);
  pb::HandshakeResponse response;
  grpc::Status status = stub_->Handshake(context.get(), request, &response);
  if (!status.ok()) return FromGrpcStatus(status, context.get());
  return response;
}

absl::StatusOr<pb::PushResponse> GrpcSyncTransport::Push(const pb::PushRequest& request) {
  auto context = NewContext(true);
  pb::PushResponse response;
  grpc::Status status = stub_->Push(context.get(), request, &response);
  if (!status.ok()) return FromGrpcStatus(status, context.get());
  return response;
}

absl::StatusOr<pb::PullResponse> GrpcSyncTransport::Pull(const pb::PullRequest& request) {
  auto context = NewContext(true);
  pb::PullResponse response;
  grpc::Status status = stub_->Pull(context.get(), request, &response);
  if (!status.ok()) return FromGrpcStatus(status, context.get());
  return response;
}

std::unique_ptr<EventStream<pb::SubscribeEvent>> GrpcSyncTransport::Subscribe(
    const pb::SubscribeRequest& request) {
  auto context = NewContext(false);  // long-lived: no deadline; heartbeats and keepalive
  auto reader = stub_->Subscribe(context.get(), request);
  return std::make_unique<GrpcEventStream<pb::SubscribeEvent>>(std::move(context),
                                                               std::move(reader));
}

std::unique_ptr<EventStream<pb::SnapshotChunk>> GrpcSyncTransport::Snapshot(
    const pb::SnapshotRequest& request) {
  auto context = NewContext(false);
  auto reader = stub_->Snapshot(context.get(), request);
  return std::make_unique<GrpcEventStream<pb::SnapshotChunk>>(std::move(context),
                                                              std::move(reader));
}

absl::Status GrpcSyncTransport::HealthCheck() {
  auto stub = grpc::health::v1::Health::NewStub(channel_);
  auto context = NewContext(true);
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status status = stub->Check(context.get(), request, &response);
  if (!status.ok()) return FromGrpcStatus(status, context.get());
  if (response.status() != grpc::health::v1::HealthCheckResponse::SERVING) {
    return MakeSyncError(SyncErrorKind::kConnectionLost, absl::StatusCode::kUnavailable,
                         "hub is not serving");
  }
  return absl::OkStatus();
}

}  // namespace pulse::client
