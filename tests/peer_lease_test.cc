// Peer leases end to end over the real hub: a peer idle beyond --peer_lease is reported
// expired (SyncAdmin.Status and /metrics) and stops holding compaction back; when it
// returns, its compacted cursor is refused with the oldest retained sequence and its
// SyncManager catches up through Snapshot, converging with the others.
#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "client/grpc_sync_transport.h"
#include "client/sync_manager.h"
#include "gtest/gtest.h"
#include "storage/ids.h"
#include "tests/support/entities.h"
#include "tests/support/eventually.h"
#include "tests/support/http_get.h"
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

constexpr absl::Duration kLease = absl::Seconds(2);

struct Peer {
  std::unique_ptr<storage::Store> store;
  std::unique_ptr<SyncManager> manager;
};

class PeerLeaseTest : public testing::HubFixture {
 protected:
  void SetUp() override {
    HubFixture::SetUp();
    hub_options().peer_lease = kLease;
    StartHub();
  }

  Peer MakePeer(const std::string& name, client::LiveMode live = client::LiveMode::kOff) {
    Peer peer;
    peer.store = NewPeerStore(name);
    client::GrpcTransportOptions options;
    options.target = hub().address();
    options.request_timeout = absl::Seconds(10);
    SyncConfig config;
    config.push_interval = absl::Milliseconds(50);
    config.pull_interval = absl::Milliseconds(50);
    config.retry.initial_backoff = absl::Milliseconds(50);
    config.retry.max_backoff = absl::Milliseconds(400);
    config.batch_size = 7;
    config.live_mode = live;
    peer.manager = std::make_unique<SyncManager>(
        peer.store.get(), std::make_shared<client::GrpcSyncTransport>(options), config);
    return peer;
  }

  std::optional<pb::PeerInfo> PeerStatus(const storage::Store& peer) {
    pb::HubStatusResponse status;
    if (!admin().Status(Deadline().get(), {}, &status).ok()) return std::nullopt;
    for (const pb::PeerInfo& p : status.peers()) {
      if (p.instance_id() == peer.instance_id()) return p;
    }
    return std::nullopt;
  }

  std::string Metrics() {
    absl::StatusOr<testing::HttpResponse> page =
        testing::HttpGet(hub().metrics_address(), "/metrics");
    return page.ok() ? page->body : "";
  }
};

TEST_F(PeerLeaseTest, AnExpiredPeerStopsHoldingCompactionAndCatchesUpThroughSnapshot) {
  // a stays connected (a live Subscribe stream keeps it from ever expiring); b syncs once
  // and goes away.
  Peer a = MakePeer("a", client::LiveMode::kOn);
  Peer b = MakePeer("b");
  const std::string c = a.store->CreateCollective(MakeCollective())->id;
  ASSERT_TRUE(a.manager->SyncOnce().ok());
  ASSERT_TRUE(b.manager->SyncOnce().ok());
  ASSERT_TRUE(b.manager->SyncOnce().ok());  // acknowledges 1: b's served cursor
  ASSERT_TRUE(a.manager->Start().ok());
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(a.store->CreateExperience(MakeExperience(c)).ok());
  storage::Store& hub_store = hub().context().store();
  ASSERT_TRUE(Eventually([&] { return hub_store.log().Head() == 31; }));
  ASSERT_TRUE(Eventually([&] {
    return hub_store.GetCursor(a.store->instance_id(), storage::CursorKind::kServed)->value_or(0) ==
           31;
  }));

  // Within its lease b holds the log at its cursor (a handshake refreshes its last
  // contact without moving its cursor, so the lease cannot run out in between).
  ASSERT_TRUE(Handshake(*b.store).ok());
  ASSERT_FALSE(PeerStatus(*b.store)->expired());
  ASSERT_EQ(*hub().CompactNow(), 1u);
  EXPECT_EQ(hub_store.log().OldestRetained(), 2u);

  // Idle beyond the lease: reported expired, while a (streaming) is not.
  EXPECT_TRUE(Eventually(
      [&] {
        std::optional<pb::PeerInfo> peer = PeerStatus(*b.store);
        return peer.has_value() && peer->expired();
      },
      absl::Seconds(30)));
  EXPECT_FALSE(PeerStatus(*a.store)->expired());
  const std::string metrics = Metrics();
  EXPECT_TRUE(absl::StrContains(
      metrics, "pulse_peer_expired{peer=\"" + storage::IdToText(b.store->instance_id()) + "\"} 1"))
      << metrics;
  EXPECT_TRUE(absl::StrContains(
      metrics, "pulse_peer_expired{peer=\"" + storage::IdToText(a.store->instance_id()) + "\"} 0"))
      << metrics;

  // And it no longer holds compaction: everything a acknowledged goes.
  EXPECT_EQ(*hub().CompactNow(), 30u);
  EXPECT_EQ(hub_store.log().OldestRetained(), 32u);

  // b returns: its cursor (1) was compacted, so its pull is refused with the oldest
  // retained sequence and it catches up through Snapshot.
  ASSERT_TRUE(b.manager->SyncOnce().ok()) << b.manager->status().last_error;
  EXPECT_EQ(*b.store->CanonicalDump(), *a.store->CanonicalDump());
  EXPECT_EQ(b.manager->status().lag, 0u);
  EXPECT_FALSE(PeerStatus(*b.store)->expired());
  EXPECT_TRUE(absl::StrContains(Metrics(),
                                "pulse_refusals_total{method=\"Pull\",code=\"FAILED_PRECONDITION\","
                                "reason=\"cursor_compacted\"} 1"))
      << Metrics();
  // Both keep syncing normally afterwards.
  ASSERT_TRUE(a.store->CreateExperience(MakeExperience(c)).ok());
  ASSERT_TRUE(Eventually([&] { return hub_store.log().Head() == 32; }));
  ASSERT_TRUE(b.manager->SyncOnce().ok());
  EXPECT_EQ(*b.store->CanonicalDump(), *a.store->CanonicalDump());
  a.manager->Stop();
}

TEST_F(PeerLeaseTest, AReturningPeerDropsWhatWasDeletedWhileItWasAwayAndKeepsItsOwnNewWork) {
  Peer a = MakePeer("a", client::LiveMode::kOn);
  Peer b = MakePeer("b");
  const std::string c = a.store->CreateCollective(MakeCollective())->id;
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(a.store->CreateExperience(MakeExperience(c))->id);
  ASSERT_TRUE(a.manager->SyncOnce().ok());
  ASSERT_TRUE(b.manager->SyncOnce().ok());
  ASSERT_TRUE(b.manager->SyncOnce().ok());  // acknowledges what it applied
  ASSERT_TRUE(b.store->GetExperience(ids[0]).ok());
  ASSERT_TRUE(a.manager->Start().ok());

  // While b is away: a deletes one, the hub forgets b (lease) and compacts the delete and
  // its tombstone away; b writes something of its own, offline.
  ASSERT_TRUE(a.store->DeleteExperience(ids[0]).ok());
  storage::Store& hub_store = hub().context().store();
  const uint64_t head = a.store->log().Head();
  ASSERT_TRUE(Eventually([&] { return hub_store.log().Head() == head; }));
  ASSERT_TRUE(Eventually([&] {
    return hub_store.GetCursor(a.store->instance_id(), storage::CursorKind::kServed)->value_or(0) ==
           head;
  }));
  // Offline, b updates the experience that is gone on the hub (moot once b learns of
  // the delete: it must not stall b's push), then creates one of its own.
  pb::ExperienceUpdate update;
  update.set_importance(0.9f);
  ASSERT_TRUE(b.store->UpdateExperience(ids[0], update).ok());
  const std::string offline = b.store->CreateExperience(MakeExperience(c, "written offline"))->id;
  ASSERT_TRUE(Eventually(
      [&] {
        std::optional<pb::PeerInfo> peer = PeerStatus(*b.store);
        return peer.has_value() && peer->expired();
      },
      absl::Seconds(30)));
  ASSERT_GT(*hub().CompactNow(), 0u);
  ASSERT_FALSE(*hub_store.IsTombstoned(pb::SYNC_ENTITY_TYPE_EXPERIENCE, ids[0]))
      << "the delete's tombstone is gone from the hub: only the snapshot can tell b";

  // b returns: snapshot recovery drops ids[0], keeps its own offline create and pushes it
  // past the moot update.
  ASSERT_TRUE(b.manager->SyncOnce().ok()) << b.manager->status().last_error;
  EXPECT_EQ(b.store->GetExperience(ids[0]).status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(b.store->GetExperience(offline).ok());
  ASSERT_TRUE(Eventually([&] { return a.store->GetExperience(offline).ok(); }));
  EXPECT_EQ(*b.store->CanonicalDump(), *a.store->CanonicalDump());
  a.manager->Stop();
}

TEST_F(PeerLeaseTest, WhenEveryPeerIsExpiredOnlyTheRetentionFloorLimitsCompaction) {
  Peer a = MakePeer("a");
  const std::string c = a.store->CreateCollective(MakeCollective())->id;
  for (int i = 0; i < 9; ++i) ASSERT_TRUE(a.store->CreateExperience(MakeExperience(c)).ok());
  ASSERT_TRUE(a.manager->SyncOnce().ok());  // pushes 1..10
  ASSERT_TRUE(a.manager->SyncOnce().ok());  // acknowledges 10
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(a.store->CreateExperience(MakeExperience(c)).ok());
  ASSERT_TRUE(a.manager->SyncOnce().ok());  // pushes 11..15, still acknowledges 10
  EXPECT_TRUE(Eventually(
      [&] {
        std::optional<pb::PeerInfo> peer = PeerStatus(*a.store);
        return peer.has_value() && peer->expired();
      },
      absl::Seconds(30)));
  // Nobody live holds the log: it goes up to the head (retain_min_entries is 0 here).
  EXPECT_EQ(*hub().CompactNow(), 15u);
  EXPECT_EQ(hub().context().store().log().OldestRetained(), 16u);
}

}  // namespace
}  // namespace pulse
