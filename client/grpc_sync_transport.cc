#include "client/grpc_sync_transport.h"

#include <fstream>
#include <sstream>
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

namespace {

absl::StatusOr<std::string> ReadPem(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return MakeSyncError(SyncErrorKind::kHandshake, absl::StatusCode::kInvalidArgument,
                         "cannot read TLS file " + path);
  }
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

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
  std::shared_ptr<grpc::ChannelCredentials> credentials = options_.credentials;
  if (credentials == nullptr && !options_.tls_ca_file.empty()) {
    grpc::SslCredentialsOptions ssl;
    absl::StatusOr<std::string> ca = ReadPem(options_.tls_ca_file);
    if (ca.ok()) ssl.pem_root_certs = *ca;
    if (!options_.tls_cert_file.empty()) {
      absl::StatusOr<std::string> cert = ReadPem(options_.tls_cert_file);
      absl::StatusOr<std::string> key = ReadPem(options_.tls_key_file);
      if (cert.ok() && key.ok()) {
        ssl.pem_cert_chain = *cert;
        ssl.pem_private_key = *key;
      } else {
        setup_error_ = cert.ok() ? key.status() : cert.status();
      }
    }
    if (!ca.ok()) setup_error_ = ca.status();
    credentials = grpc::SslCredentials(ssl);
    if (!options_.tls_server_name.empty()) {
      args.SetSslTargetNameOverride(options_.tls_server_name);
    }
  }
  if (credentials == nullptr) credentials = grpc::InsecureChannelCredentials();
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
  if (!setup_error_.ok()) return setup_error_;
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

namespace {

class GrpcPushStream final : public PushStreamCall {
 public:
  GrpcPushStream(std::unique_ptr<grpc::ClientContext> context, pb::SyncService::Stub& stub)
      : context_(std::move(context)), stream_(stub.PushStream(context_.get())) {}

  bool Write(const pb::PushRequest& request) override { return stream_->Write(request); }
  bool Read(pb::PushResponse* response) override { return stream_->Read(response); }
  absl::Status Finish() override {
    stream_->WritesDone();
    pb::PushResponse dropped;
    while (stream_->Read(&dropped)) {
    }
    grpc::Status status = stream_->Finish();
    if (!status.ok()) return FromGrpcStatus(status, context_.get());
    return absl::OkStatus();
  }

 private:
  std::unique_ptr<grpc::ClientContext> context_;
  std::unique_ptr<grpc::ClientReaderWriter<pb::PushRequest, pb::PushResponse>> stream_;
};

}  // namespace

std::unique_ptr<PushStreamCall> GrpcSyncTransport::OpenPushStream() {
  return std::make_unique<GrpcPushStream>(NewContext(true), *stub_);
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
