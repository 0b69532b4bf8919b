#include "tests/support/hub_fixture.h"

#include "absl/time/clock.h"
#include "storage/change_log.h"
#include "storage/keys.h"

namespace pulse::testing {

namespace pb = pulsedb::sync::v1;

std::unique_ptr<grpc::ClientContext> Deadline(absl::Duration timeout) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  return context;
}

void HubFixture::SetUp() {
  hub_options_.listen_address = "127.0.0.1:0";
  hub_options_.metrics_listen_address = "127.0.0.1:0";
  hub_options_.data_dir = dir_.Sub("hub");
  hub_options_.compaction_interval = absl::ZeroDuration();
  hub_options_.retain_min_entries = 0;
  hub_options_.heartbeat_interval = absl::Milliseconds(200);
  hub_options_.shutdown_grace = absl::Seconds(2);
}

void HubFixture::TearDown() { StopHub(); }

void HubFixture::StartHub() {
  absl::StatusOr<std::unique_ptr<server::Hub>> hub = server::Hub::Start(hub_options_);
  ASSERT_TRUE(hub.ok()) << hub.status();
  hub_ = std::move(*hub);
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  args.SetMaxSendMessageSize(-1);
  channel_ = grpc::CreateCustomChannel(hub_->address(), grpc::InsecureChannelCredentials(), args);
  stub_ = pb::SyncService::NewStub(channel_);
  admin_ = pb::SyncAdmin::NewStub(channel_);
}

void HubFixture::StopHub() {
  stub_.reset();
  admin_.reset();
  channel_.reset();
  if (hub_ != nullptr) hub_->Shutdown();
  hub_.reset();
}

std::unique_ptr<storage::Store> HubFixture::NewPeerStore(const std::string& name) {
  absl::StatusOr<std::unique_ptr<storage::Store>> store = storage::Store::Open(dir_.Sub(name));
  EXPECT_TRUE(store.ok()) << store.status();
  return std::move(*store);
}

grpc::Status HubFixture::Handshake(const storage::Store& peer, pb::HandshakeResponse* out) {
  pb::HandshakeRequest request;
  request.set_instance_id(peer.instance_id());
  request.set_protocol_version(1);
  request.add_capabilities("push");
  request.add_capabilities("pull");
  pb::HandshakeResponse response;
  grpc::Status status = stub_->Handshake(Deadline().get(), request, &response);
  if (out != nullptr) *out = response;
  return status;
}

pb::PushRequest HubFixture::OwnChangesRequest(const storage::Store& peer, uint64_t after) {
  storage::ScanRequest scan;
  scan.after = after;
  scan.max_changes = 100000;
  scan.filter.only_origin = peer.instance_id();
  absl::StatusOr<storage::ScanResult> result = peer.log().Scan(scan);
  EXPECT_TRUE(result.ok()) << result.status();
  pb::PushRequest request;
  request.set_source_instance(peer.instance_id());
  request.set_target_instance(hub_->instance_id());
  for (pb::SyncChange& change : result->changes) *request.add_changes() = std::move(change);
  return request;
}

grpc::Status HubFixture::PushOwn(const storage::Store& peer, uint64_t after,
                                 pb::PushResponse* response) {
  return stub_->Push(Deadline().get(), OwnChangesRequest(peer, after), response);
}

grpc::Status HubFixture::Pull(const storage::Store& peer, uint64_t cursor, uint32_t batch,
                              pb::PullResponse* response,
                              const std::vector<std::string>& collectives) {
  pb::PullRequest request;
  request.set_source_instance(peer.instance_id());
  request.set_target_instance(hub_->instance_id());
  request.mutable_cursor()->set_last_sequence(cursor);
  request.set_batch_size(batch);
  for (const std::string& c : collectives) request.add_collectives(c);
  return stub_->Pull(Deadline().get(), request, response);
}

int HubFixture::PullAndApply(storage::Store& peer) {
  int applied = 0;
  for (;;) {
    const uint64_t cursor =
        peer.GetCursor(hub_->instance_id(), storage::CursorKind::kPull)->value_or(0);
    pb::PullResponse response;
    grpc::Status status = Pull(peer, cursor, 100, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    if (!status.ok()) return applied;
    storage::ApplyContext context;
    context.mode = storage::ApplyMode::kFollower;
    absl::StatusOr<storage::ApplyReport> report = peer.ApplyRemoteChanges(
        response.changes(), context,
        storage::PullCursorUpdate{hub_->instance_id(), response.new_cursor().last_sequence()});
    EXPECT_TRUE(report.ok()) << report.status();
    EXPECT_FALSE(report->failed_index.has_value()) << report->failure;
    applied += report->applied;
    if (!response.has_more()) return applied;
  }
}

}  // namespace pulse::testing
