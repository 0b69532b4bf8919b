// Bearer tokens on the real hub: who may call at all, which collectives each token reads
// (Pull, Subscribe, Snapshot never leak another collective) and writes, and the admin
// service. Also the original's "auth token" case through the SyncManager.
#include <fstream>

#include "absl/strings/match.h"
#include "client/grpc_sync_transport.h"
#include "client/sync_error.h"
#include "client/sync_manager.h"
#include "gtest/gtest.h"
#include "storage/ids.h"
#include "tests/support/entities.h"
#include "tests/support/hub_fixture.h"

namespace pulse {
namespace {

namespace pb = pulsedb::sync::v1;
using ::pulse::testing::MakeCollective;
using ::pulse::testing::MakeExperience;

constexpr char kAllToken[] = "all-access-token-0123456789";
constexpr char kTeamToken[] = "team-one-token-0123456789";

class AuthTest : public testing::HubFixture {
 protected:
  void SetUp() override {
    HubFixture::SetUp();
    one_ = MakeCollective("one");
    two_ = MakeCollective("two");
    const std::string path = dir_.Sub("tokens");
    std::ofstream(path) << "# test tokens\n"
                        << kAllToken << " read=* write=* admin\n"
                        << kTeamToken << " read=" << storage::IdToText(one_.id())
                        << " write=" << storage::IdToText(one_.id()) << "\n";
    hub_options().auth_token_file = path;
    StartHub();
    writer_ = NewPeerStore("writer");
    ASSERT_TRUE(writer_->CreateCollective(one_).ok());
    ASSERT_TRUE(writer_->CreateCollective(two_).ok());
    ASSERT_TRUE(writer_->CreateExperience(MakeExperience(one_.id())).ok());
    ASSERT_TRUE(writer_->CreateExperience(MakeExperience(two_.id())).ok());
    ASSERT_TRUE(Call(kAllToken, [&](grpc::ClientContext* c) {
                  pb::HandshakeResponse r;
                  return stub().Handshake(c, Hello(*writer_), &r);
                }).ok());
    pb::PushResponse pushed;
    ASSERT_TRUE(Call(kAllToken, [&](grpc::ClientContext* c) {
                  return stub().Push(c, OwnChangesRequest(*writer_, 0), &pushed);
                }).ok());
    reader_ = NewPeerStore("reader");
    ASSERT_TRUE(Call(kTeamToken, [&](grpc::ClientContext* c) {
                  pb::HandshakeResponse r;
                  return stub().Handshake(c, Hello(*reader_), &r);
                }).ok());
  }

  static pb::HandshakeRequest Hello(const storage::Store& peer) {
    pb::HandshakeRequest hello;
    hello.set_instance_id(peer.instance_id());
    hello.set_protocol_version(1);
    return hello;
  }

  template <typename Fn>
  grpc::Status Call(const std::string& token, Fn fn) {
    auto context = testing::Deadline();
    if (!token.empty()) context->AddMetadata("authorization", "Bearer " + token);
    return fn(context.get());
  }

  pb::Collective one_, two_;
  std::unique_ptr<storage::Store> writer_, reader_;
};

TEST_F(AuthTest, MissingOrWrongTokenIsUnauthenticated) {
  pb::HandshakeResponse response;
  EXPECT_EQ(
      Call("",
           [&](grpc::ClientContext* c) { return stub().Handshake(c, Hello(*reader_), &response); })
          .error_code(),
      grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(
      Call("not-a-real-token-00000000",
           [&](grpc::ClientContext* c) { return stub().Handshake(c, Hello(*reader_), &response); })
          .error_code(),
      grpc::StatusCode::UNAUTHENTICATED);
  pb::PullRequest pull;
  pull.set_source_instance(reader_->instance_id());
  pb::PullResponse pulled;
  EXPECT_EQ(
      Call("", [&](grpc::ClientContext* c) { return stub().Pull(c, pull, &pulled); }).error_code(),
      grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(AuthTest, PullReturnsOnlyReadableCollectives) {
  pb::PullRequest pull;
  pull.set_source_instance(reader_->instance_id());
  pb::PullResponse pulled;
  ASSERT_TRUE(
      Call(kTeamToken, [&](grpc::ClientContext* c) { return stub().Pull(c, pull, &pulled); }).ok());
  ASSERT_EQ(pulled.changes_size(), 2);  // collective one and its experience
  for (const pb::SyncChange& change : pulled.changes()) {
    EXPECT_EQ(change.collective_id(), one_.id());
  }
  EXPECT_EQ(pulled.new_cursor().last_sequence(), 4u);
  pull.add_collectives(two_.id());
  EXPECT_EQ(Call(kTeamToken, [&](grpc::ClientContext* c) { return stub().Pull(c, pull, &pulled); })
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(AuthTest, SubscribeAndSnapshotNeverLeakOtherCollectives) {
  pb::SubscribeRequest subscribe;
  subscribe.set_source_instance(reader_->instance_id());
  auto context = testing::Deadline();
  context->AddMetadata("authorization", std::string("Bearer ") + kTeamToken);
  auto reader = stub().Subscribe(context.get(), subscribe);
  pb::SubscribeEvent event;
  ASSERT_TRUE(reader->Read(&event));
  for (const pb::SyncChange& change : event.changes()) {
    EXPECT_EQ(change.collective_id(), one_.id());
  }
  context->TryCancel();
  reader->Finish();

  pb::SnapshotRequest snapshot;
  snapshot.set_source_instance(reader_->instance_id());
  auto snap_context = testing::Deadline();
  snap_context->AddMetadata("authorization", std::string("Bearer ") + kTeamToken);
  auto chunks = stub().Snapshot(snap_context.get(), snapshot);
  pb::SnapshotChunk chunk;
  int entities = 0;
  while (chunks->Read(&chunk)) {
    for (const pb::VersionedEntity& e : chunk.entities()) {
      EXPECT_EQ(e.collective_id(), one_.id());
      ++entities;
    }
  }
  EXPECT_TRUE(chunks->Finish().ok());
  EXPECT_EQ(entities, 2);
}

TEST_F(AuthTest, PushIntoAnUnwritableCollectiveIsPermissionDeniedAndChangesNothing) {
  ASSERT_TRUE(
      reader_->CreateCollective(MakeCollective("mine")).ok());  // not writable by the team token
  const std::string before = *hub().context().store().RawDump();
  pb::PushResponse pushed;
  grpc::Status status = Call(kTeamToken, [&](grpc::ClientContext* c) {
    return stub().Push(c, OwnChangesRequest(*reader_, 0), &pushed);
  });
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(absl::StrContains(status.error_message(), "change 1")) << status.error_message();
  EXPECT_EQ(*hub().context().store().RawDump(), before);
}

TEST_F(AuthTest, AdminNeedsAnAdminToken) {
  pb::HubStatusResponse status;
  EXPECT_EQ(Call(kTeamToken, [&](grpc::ClientContext* c) { return admin().Status(c, {}, &status); })
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(
      Call(kAllToken, [&](grpc::ClientContext* c) { return admin().Status(c, {}, &status); }).ok());
}

TEST_F(AuthTest, SyncManagerSendsItsTokenAndSyncsWhatItMayRead) {
  auto store = NewPeerStore("managed");
  client::GrpcTransportOptions options;
  options.target = hub().address();
  options.bearer_token = kTeamToken;
  client::SyncManager manager(store.get(), std::make_shared<client::GrpcSyncTransport>(options),
                              {});
  ASSERT_TRUE(manager.SyncOnce().ok());
  EXPECT_TRUE(store->GetCollective(one_.id()).ok());
  EXPECT_EQ(store->GetCollective(two_.id()).status().code(), absl::StatusCode::kNotFound);

  options.bearer_token = "";
  client::SyncManager anonymous(store.get(), std::make_shared<client::GrpcSyncTransport>(options),
                                {});
  absl::Status refused = anonymous.Start();
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(client::IsTerminal(refused));
}

}  // namespace
}  // namespace pulse
