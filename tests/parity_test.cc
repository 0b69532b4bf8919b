// Parity with the original's latest release (SPEC Part A2), over the real hub: peer
// identity and rebinding, safe_through, size budgets, the reinforcement G-counter and
// remint, tags, future timestamps, and refusals that leave the hub untouched.
#include <filesystem>

#include "absl/strings/match.h"
#include "client/grpc_sync_transport.h"
#include "client/sync_error.h"
#include "client/sync_manager.h"
#include "common/status_payloads.h"
#include "gtest/gtest.h"
#include "storage/ids.h"
#include "storage/keys.h"
#include "tests/support/entities.h"
#include "tests/support/eventually.h"
#include "tests/support/hub_fixture.h"

namespace pulse {
namespace {

namespace pb = pulsedb::sync::v1;
using client::SyncConfig;
using client::SyncManager;
using ::pulse::testing::Deadline;
using ::pulse::testing::Eventually;
using ::pulse::testing::MakeCollective;
using ::pulse::testing::MakeExperience;

SyncConfig Fast() {
  SyncConfig config;
  config.push_interval = absl::Milliseconds(50);
  config.pull_interval = absl::Milliseconds(50);
  config.retry.initial_backoff = absl::Milliseconds(50);
  config.retry.max_backoff = absl::Milliseconds(300);
  return config;
}

class ParityTest : public testing::HubFixture {
 protected:
  void SetUp() override {
    HubFixture::SetUp();
    StartHub();
  }

  std::unique_ptr<SyncManager> Manager(storage::Store* store, SyncConfig config = Fast()) {
    client::GrpcTransportOptions options;
    options.target = hub().address();
    options.request_timeout = absl::Seconds(5);
    options.max_message_bytes = config.max_message_bytes;
    return std::make_unique<SyncManager>(
        store, std::make_shared<client::GrpcSyncTransport>(options), config);
  }

  // A different hub (new data directory, new identity) on the same address.
  void ReplaceHubWithAnEmptyOne() {
    const int port = hub().port();
    StopHub();
    hub_options().data_dir = dir_.Sub("hub-replacement");
    hub_options().listen_address = "127.0.0.1:" + std::to_string(port);
    StartHub();
  }
};

// ----- Peer identity

TEST_F(ParityTest, AHubReplacedByAnEmptyOneIsRefilledByItsPeersAndTheyConverge) {
  auto a = NewPeerStore("a"), b = NewPeerStore("b");
  auto ma = Manager(a.get()), mb = Manager(b.get());
  const std::string c = a->CreateCollective(MakeCollective())->id;
  ASSERT_TRUE(ma->SyncOnce().ok());
  ASSERT_TRUE(mb->SyncOnce().ok());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(a->CreateExperience(MakeExperience(c, "a")).ok());
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(b->CreateExperience(MakeExperience(c, "b")).ok());
  ASSERT_TRUE(ma->SyncOnce().ok());
  ASSERT_TRUE(mb->SyncOnce().ok());
  ASSERT_TRUE(ma->SyncOnce().ok());
  const std::string old_hub = hub().instance_id();

  ReplaceHubWithAnEmptyOne();
  ASSERT_NE(hub().instance_id(), old_hub);
  // Each peer is told "peer changed", re-handshakes once and pushes everything again.
  ASSERT_TRUE(ma->SyncOnce().ok());
  ASSERT_TRUE(mb->SyncOnce().ok());
  ASSERT_TRUE(ma->SyncOnce().ok());
  EXPECT_EQ(ma->status().hub_id, hub().instance_id());
  EXPECT_EQ(*hub().context().store().CanonicalDump(), *a->CanonicalDump());
  EXPECT_EQ(*a->CanonicalDump(), *b->CanonicalDump());
  EXPECT_EQ(hub().context().store().log().Head(), 6u);
  // The old identity's cursors are kept.
  EXPECT_TRUE(a->GetCursor(old_hub, storage::CursorKind::kPush)->has_value());
  EXPECT_EQ(**a->GetCursor(hub().instance_id(), storage::CursorKind::kPush), a->log().Head());
}

TEST_F(ParityTest, RequestsAddressedToAnotherIdentityChangeNothingAndNameTheResponder) {
  auto a = NewPeerStore("a");
  ASSERT_TRUE(Handshake(*a).ok());
  ASSERT_TRUE(a->CreateCollective(MakeCollective()).ok());
  const std::string before = *hub().context().store().RawDump();
  const std::string elsewhere = storage::NewUuidV7();

  pb::PushRequest push = OwnChangesRequest(*a, 0);
  push.set_target_instance(elsewhere);
  pb::PushResponse pushed;
  auto push_context = Deadline();
  EXPECT_EQ(stub().Push(push_context.get(), push, &pushed).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);

  pb::PullRequest pull;
  pull.set_source_instance(a->instance_id());
  pull.set_target_instance(elsewhere);
  pb::PullResponse pulled;
  auto pull_context = Deadline();
  EXPECT_EQ(stub().Pull(pull_context.get(), pull, &pulled).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  auto trailers = pull_context->GetServerTrailingMetadata();
  ASSERT_EQ(trailers.count("pulsedb-responder-bin"), 1u);
  EXPECT_EQ(std::string(trailers.find("pulsedb-responder-bin")->second.data(),
                        trailers.find("pulsedb-responder-bin")->second.size()),
            hub().instance_id());

  pb::SubscribeRequest subscribe;
  subscribe.set_source_instance(a->instance_id());
  subscribe.set_target_instance(elsewhere);
  auto sub_context = Deadline();
  auto reader = stub().Subscribe(sub_context.get(), subscribe);
  pb::SubscribeEvent event;
  EXPECT_FALSE(reader->Read(&event));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::FAILED_PRECONDITION);

  pb::SnapshotRequest snapshot;
  snapshot.set_source_instance(a->instance_id());
  snapshot.set_target_instance(elsewhere);
  auto snap_context = Deadline();
  auto chunks = stub().Snapshot(snap_context.get(), snapshot);
  pb::SnapshotChunk chunk;
  EXPECT_FALSE(chunks->Read(&chunk));
  EXPECT_EQ(chunks->Finish().error_code(), grpc::StatusCode::FAILED_PRECONDITION);

  EXPECT_EQ(*hub().context().store().RawDump(), before);  // no write, no cursor, no log
}

// ----- Acknowledgement: the safe_through table

class SafeThroughTest : public ParityTest {
 protected:
  void SetUp() override {
    ParityTest::SetUp();
    peer_ = NewPeerStore("p");
    ASSERT_TRUE(Handshake(*peer_).ok());
    // 1 collective, 2 create E1, 3 update E1, 4 create E2, 5 update E2, 6-8 other
    // creates, 9 create E9. Without 2 (or 4) reaching the hub, 3 (or 5) fails there.
    const std::string c = peer_->CreateCollective(MakeCollective())->id;
    const std::string e1 = peer_->CreateExperience(MakeExperience(c))->id;
    pb::ExperienceUpdate u;
    u.set_importance(0.3f);
    ASSERT_TRUE(peer_->UpdateExperience(e1, u).ok());
    const std::string e2 = peer_->CreateExperience(MakeExperience(c))->id;
    ASSERT_TRUE(peer_->UpdateExperience(e2, u).ok());
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(peer_->CreateExperience(MakeExperience(c)).ok());
    all_ = OwnChangesRequest(*peer_, 0);
    ASSERT_EQ(all_.changes_size(), 9);
    pb::PushResponse first;
    ASSERT_TRUE(stub().Push(Deadline().get(), Batch({1}), &first).ok());
  }

  pb::PushRequest Batch(std::initializer_list<int> sequences) {
    pb::PushRequest request = all_;
    request.clear_changes();
    for (int s : sequences) *request.add_changes() = all_.changes(s - 1);
    return request;
  }

  pb::PushResponse Push(std::initializer_list<int> sequences) {
    pb::PushResponse response;
    grpc::Status status = stub().Push(Deadline().get(), Batch(sequences), &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  std::unique_ptr<storage::Store> peer_;
  pb::PushRequest all_;
};

TEST_F(SafeThroughTest, NineOkThreeFailedIsNone) {
  pb::PushResponse r = Push({3, 9});
  EXPECT_FALSE(r.has_safe_through());
  EXPECT_EQ(r.first_failure().sequence(), 3u);
  EXPECT_EQ(r.new_cursor().last_sequence(), 1u);
}

TEST_F(SafeThroughTest, OneAndFiveOkThreeFailedIsOne) {
  EXPECT_EQ(Push({1, 3, 5}).safe_through(), 1u);
}

TEST_F(SafeThroughTest, FiveFailedOneOkIsOne) {
  pb::PushResponse r = Push({1, 5});
  EXPECT_EQ(r.safe_through(), 1u);
  EXPECT_EQ(r.first_failure().sequence(), 5u);
}

TEST_F(SafeThroughTest, NineAndThreeOkIsNine) {
  Push({2});
  pb::PushResponse r = Push({3, 9});
  EXPECT_EQ(r.safe_through(), 9u);
  EXPECT_EQ(r.rejected(), 0u);
}

TEST_F(ParityTest, ThePushCursorNeverPassesAChangeTheHubRejected) {
  auto a = NewPeerStore("a"), b = NewPeerStore("b");
  auto ma = Manager(a.get()), mb = Manager(b.get());
  const std::string c = b->CreateCollective(MakeCollective())->id;
  const std::string x = b->CreateExperience(MakeExperience(c))->id;
  ASSERT_TRUE(mb->SyncOnce().ok());
  ASSERT_TRUE(ma->SyncOnce().ok());
  ReplaceHubWithAnEmptyOne();
  // a updates b's experience before b has refilled the new hub: the hub cannot apply it.
  pb::ExperienceUpdate u;
  u.set_importance(0.77f);
  const uint64_t update = a->UpdateExperience(x, u)->sequence;
  absl::Status first = ma->SyncOnce();
  EXPECT_FALSE(first.ok());
  EXPECT_TRUE(absl::StrContains(first.message(), absl::StrCat("change ", update))) << first;
  const uint64_t cursor = **a->GetCursor(hub().instance_id(), storage::CursorKind::kPush);
  EXPECT_LT(cursor, update);
  // Once b has refilled the hub, a's retry lands.
  ASSERT_TRUE(mb->SyncOnce().ok());
  ASSERT_TRUE(ma->SyncOnce().ok());
  EXPECT_EQ(**a->GetCursor(hub().instance_id(), storage::CursorKind::kPush), update);
  EXPECT_FLOAT_EQ(hub().context().store().GetExperience(x)->importance(), 0.77f);
}

// ----- Size budgets

TEST_F(ParityTest, AnOversizedChangeStopsTheLoopWithItsSequenceAfterEverythingBeforeIt) {
  auto a = NewPeerStore("a");
  SyncConfig config = Fast();
  config.max_message_bytes = 4096;
  auto manager = Manager(a.get(), config);
  const std::string c = a->CreateCollective(MakeCollective())->id;
  ASSERT_TRUE(a->CreateExperience(MakeExperience(c, "fits")).ok());
  pb::Experience huge = MakeExperience(c);
  huge.set_content(std::string(8000, 'x'));
  ASSERT_TRUE(a->CreateExperience(huge).ok());  // sequence 3
  ASSERT_TRUE(a->CreateExperience(MakeExperience(c, "after")).ok());
  ASSERT_TRUE(manager->Start().ok());
  ASSERT_TRUE(Eventually([&] { return !manager->status().running; }));
  const client::SyncStatus status = manager->status();
  EXPECT_EQ(status.state, client::SyncState::kError);
  EXPECT_EQ(client::SyncErrorOf(status.last_error), client::SyncErrorKind::kChangeTooLarge);
  std::optional<ChangeTooLarge> too_large = ChangeTooLargeOf(status.last_error);
  ASSERT_TRUE(too_large.has_value()) << status.last_error;
  EXPECT_EQ(too_large->sequence, 3u);
  EXPECT_GT(too_large->needed, too_large->cap);
  EXPECT_EQ(hub().context().store().log().Head(), 2u);  // what came before it arrived
  manager->Stop();
  EXPECT_EQ(client::SyncErrorOf(manager->status().last_error),
            client::SyncErrorKind::kChangeTooLarge);  // still visible after Stop()
}

TEST_F(ParityTest, AChangeTooLargeForThePeersReplyBudgetIsTerminalOnPull) {
  auto a = NewPeerStore("a");
  const std::string c = a->CreateCollective(MakeCollective())->id;
  pb::Experience big = MakeExperience(c);
  big.set_content(std::string(6000, 'y'));
  ASSERT_TRUE(a->CreateExperience(big).ok());
  ASSERT_TRUE(Manager(a.get())->SyncOnce().ok());
  auto b = NewPeerStore("b");
  SyncConfig small = Fast();
  small.max_message_bytes = 4096;
  auto mb = Manager(b.get(), small);
  absl::Status status = mb->SyncOnce();
  EXPECT_EQ(client::SyncErrorOf(status), client::SyncErrorKind::kChangeTooLarge) << status;
  EXPECT_TRUE(b->GetCollective(c).ok());  // the collective before it was delivered
}

TEST_F(ParityTest, HandshakeAdvertisesTheHubsLargestMessage) {
  StopHub();
  hub_options().max_message_bytes = 123456;
  StartHub();
  auto a = NewPeerStore("a");
  pb::HandshakeResponse welcome;
  ASSERT_TRUE(Handshake(*a, &welcome).ok());
  EXPECT_EQ(welcome.limits().max_message_bytes(), 123456u);
}

// ----- Reinforcement G-counter, remint, tags

TEST_F(ParityTest, ReinforcementConvergesToTheExactTotalFromTwoAndThreePeers) {
  std::unique_ptr<storage::Store> stores[3] = {NewPeerStore("r0"), NewPeerStore("r1"),
                                               NewPeerStore("r2")};
  std::unique_ptr<SyncManager> managers[3];
  for (int i = 0; i < 3; ++i) managers[i] = Manager(stores[i].get());
  const std::string c = stores[0]->CreateCollective(MakeCollective())->id;
  const std::string e = stores[0]->CreateExperience(MakeExperience(c))->id;
  for (auto& m : managers) ASSERT_TRUE(m->SyncOnce().ok());
  // Two peers: 1 + 2.
  ASSERT_TRUE(stores[0]->ReinforceExperience(e).ok());
  ASSERT_TRUE(stores[1]->ReinforceExperience(e).ok());
  ASSERT_TRUE(stores[1]->ReinforceExperience(e).ok());
  for (int round = 0; round < 2; ++round) {
    ASSERT_TRUE(managers[0]->SyncOnce().ok());
    ASSERT_TRUE(managers[1]->SyncOnce().ok());
  }
  EXPECT_EQ(stores[0]->GetExperience(e)->applications(), 3u);
  EXPECT_EQ(stores[1]->GetExperience(e)->applications(), 3u);
  // Three peers, concurrently: + 1 + 2 + 3 more.
  for (int i = 0; i < 3; ++i) {
    for (int k = 0; k <= i; ++k) ASSERT_TRUE(stores[i]->ReinforceExperience(e).ok());
  }
  for (int round = 0; round < 2; ++round) {
    for (auto& m : managers) ASSERT_TRUE(m->SyncOnce().ok());
  }
  for (auto& s : stores) EXPECT_EQ(s->GetExperience(e)->applications(), 9u);
  EXPECT_EQ(hub().context().store().GetExperience(e)->applications(), 9u);
}

TEST_F(ParityTest, ACopiedStoreLosesIncrementsWithoutRemintAndKeepsThemWithIt) {
  for (const bool remint : {false, true}) {
    SCOPED_TRACE(remint ? "with remint" : "without remint");
    const std::string name = remint ? "with" : "without";
    const std::string original_path = dir_.Sub("original-" + name);
    const std::string copy_path = dir_.Sub("copy-" + name);
    std::string e;
    {
      auto original = *storage::Store::Open(original_path);
      const std::string c = original->CreateCollective(MakeCollective())->id;
      e = original->CreateExperience(MakeExperience(c))->id;
      ASSERT_TRUE(Manager(original.get())->SyncOnce().ok());
    }
    std::filesystem::copy(original_path, copy_path, std::filesystem::copy_options::recursive);
    auto original = *storage::Store::Open(original_path);
    auto copy = *storage::Store::Open(copy_path);
    if (remint) ASSERT_TRUE(copy->Remint().ok());
    ASSERT_TRUE(original->ReinforceExperience(e).ok());
    ASSERT_TRUE(copy->ReinforceExperience(e).ok());
    auto mo = Manager(original.get()), mc = Manager(copy.get());
    for (int round = 0; round < 2; ++round) {
      ASSERT_TRUE(mo->SyncOnce().ok());
      ASSERT_TRUE(mc->SyncOnce().ok());
    }
    // Without remint both copies increment the same bucket with the same sequence: the
    // hub sees one increment twice and keeps one. That is why remint exists.
    EXPECT_EQ(hub().context().store().GetExperience(e)->applications(), remint ? 2u : 1u);
    EXPECT_EQ(original->GetExperience(e)->applications(), remint ? 2u : 1u);
  }
}

TEST_F(ParityTest, TagsTravelWithCreatesAndUpdates) {
  auto a = NewPeerStore("a"), b = NewPeerStore("b");
  auto ma = Manager(a.get()), mb = Manager(b.get());
  const std::string c = a->CreateCollective(MakeCollective())->id;
  pb::Experience tagged = MakeExperience(c);
  (*tagged.mutable_tags())["lang"] = "c++";
  const std::string e = a->CreateExperience(tagged)->id;
  ASSERT_TRUE(ma->SyncOnce().ok());
  ASSERT_TRUE(mb->SyncOnce().ok());
  EXPECT_EQ(b->GetExperience(e)->tags().at("lang"), "c++");
  pb::ExperienceUpdate u;
  (*u.mutable_tags()->mutable_entries())["lang"] = "rust";
  (*u.mutable_tags()->mutable_entries())["team"] = "db";
  ASSERT_TRUE(a->UpdateExperience(e, u).ok());
  ASSERT_TRUE(ma->SyncOnce().ok());
  ASSERT_TRUE(mb->SyncOnce().ok());
  EXPECT_EQ(b->GetExperience(e)->tags().at("lang"), "rust");
  EXPECT_EQ(b->GetExperience(e)->tags().size(), 2u);
}

TEST_F(ParityTest, FutureReinforcementTimestampsAreCountedNotClamped) {
  auto a = NewPeerStore("a"), b = NewPeerStore("b");
  auto ma = Manager(a.get()), mb = Manager(b.get());
  const std::string c = a->CreateCollective(MakeCollective())->id;
  const std::string e = a->CreateExperience(MakeExperience(c))->id;
  const int64_t future = absl::ToUnixMillis(absl::Now() + absl::Minutes(30));
  pb::ExperienceUpdate u;
  u.set_last_reinforced(future);
  ASSERT_TRUE(a->UpdateExperience(e, u).ok());
  ASSERT_TRUE(ma->SyncOnce().ok());
  ASSERT_TRUE(mb->SyncOnce().ok());
  EXPECT_EQ(mb->status().future_timestamps, 1u);
  EXPECT_EQ(b->GetExperience(e)->last_reinforced(), future);  // not clamped
}

}  // namespace
}  // namespace pulse
