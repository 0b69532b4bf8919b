// Exactly-once under a hostile network: replies lost after the hub acted, pushes
// delivered twice, older pushes replayed after newer ones, Subscribe streams cut
// mid-way by deadlines. Three peers write and reinforce concurrently through a real hub;
// at the end every change is in the hub's log once, every reinforcement counted once,
// and all replicas hold the same state.
#include <cstdio>
#include <cstdlib>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/grpc_sync_transport.h"
#include "client/sync_manager.h"
#include "gtest/gtest.h"
#include "storage/keys.h"
#include "tests/support/entities.h"
#include "tests/support/eventually.h"
#include "tests/support/faulty_transport.h"
#include "tests/support/hub_fixture.h"

namespace pulse {
namespace {

namespace pb = pulsedb::sync::v1;

uint32_t SeedFromEnvironment() {
  const char* text = std::getenv("PULSE_SEED");
  return text != nullptr ? static_cast<uint32_t>(std::strtoul(text, nullptr, 10))
                         : static_cast<uint32_t>(absl::ToUnixMicros(absl::Now()));
}

class FaultInjectionTest : public testing::HubFixture {};

TEST_F(FaultInjectionTest, ExactlyOnceHoldsUnderLostDuplicatedReorderedAndCutTraffic) {
  const uint32_t seed = SeedFromEnvironment();
  SCOPED_TRACE(absl::StrCat("PULSE_SEED=", seed, " reproduces this run"));
  std::mt19937 rng(seed);
  StartHub();

  struct Peer {
    std::unique_ptr<storage::Store> store;
    std::shared_ptr<testing::FaultyTransport> transport;
    std::unique_ptr<client::SyncManager> manager;
  };
  constexpr int kPeers = 3;
  Peer peers[kPeers];
  testing::Faults faults;
  faults.drop_push_reply = 0.3;
  faults.duplicate_push = 0.3;
  faults.replay_old_push = 0.3;
  faults.drop_pull_reply = 0.3;
  faults.cut_stream_every = 3;
  for (int i = 0; i < kPeers; ++i) {
    peers[i].store = NewPeerStore("p" + std::to_string(i));
    client::GrpcTransportOptions options;
    options.target = hub().address();
    options.request_timeout = absl::Seconds(5);
    peers[i].transport = std::make_shared<testing::FaultyTransport>(
        std::make_shared<client::GrpcSyncTransport>(options), faults, seed + i);
    client::SyncConfig config;
    config.batch_size = 4;  // many small batches: more chances to misbehave
    config.push_interval = absl::Milliseconds(20);
    config.pull_interval = absl::Milliseconds(20);
    config.retry.initial_backoff = absl::Milliseconds(10);
    config.retry.max_backoff = absl::Milliseconds(100);
    config.live_mode = i == 0 ? client::LiveMode::kOff : client::LiveMode::kOn;
    peers[i].manager =
        std::make_unique<client::SyncManager>(peers[i].store.get(), peers[i].transport, config);
  }
  const std::string c = peers[0].store->CreateCollective(testing::MakeCollective())->id;
  (void)peers[0].manager->SyncOnce();  // faults may interrupt it; the loop retries
  for (Peer& p : peers) ASSERT_TRUE(testing::Eventually([&] { return p.manager->Start().ok(); }));
  ASSERT_TRUE(testing::Eventually([&] {
    for (Peer& p : peers) {
      if (!p.store->GetCollective(c).ok()) return false;
    }
    return true;
  }));

  std::vector<std::string> experiences;
  int reinforcements = 0;
  for (int round = 0; round < 60; ++round) {
    Peer& p = peers[rng() % kPeers];
    if (experiences.empty() || rng() % 3 != 0) {
      absl::StatusOr<storage::LocalWrite> w = p.store->CreateExperience(testing::MakeExperience(c));
      ASSERT_TRUE(w.ok()) << w.status();
      experiences.push_back(w->id);
    } else {
      const std::string& e = experiences[rng() % experiences.size()];
      if (p.store->GetExperience(e).ok()) {  // it may not have arrived here yet
        ASSERT_TRUE(p.store->ReinforceExperience(e).ok());
        ++reinforcements;
      }
    }
  }
  // Let the faulty traffic run, then heal and settle with explicit cycles.
  ASSERT_TRUE(testing::Eventually(
      [&] {
        int delivered = 0;
        for (Peer& p : peers) delivered += p.store->ListExperiences()->size();
        return delivered == kPeers * static_cast<int>(experiences.size());
      },
      absl::Seconds(60)));
  for (Peer& p : peers) {
    p.transport->Heal();
    p.manager->Stop();
  }
  for (int round = 0; round < 3; ++round) {
    for (Peer& p : peers) ASSERT_TRUE(p.manager->SyncOnce().ok());
  }

  // Faults really happened.
  int dropped = 0, duplicated = 0, replayed = 0, cut = 0;
  for (Peer& p : peers) {
    dropped +=
        p.transport->counts().dropped_push_replies + p.transport->counts().dropped_pull_replies;
    duplicated += p.transport->counts().duplicated_pushes;
    replayed += p.transport->counts().replayed_pushes;
    cut += p.transport->counts().cut_streams;
  }
  std::printf(
      "faults injected: %d lost replies, %d duplicated pushes, %d replayed pushes, "
      "%d cut streams; %zu experiences, %d reinforcements\n",
      dropped, duplicated, replayed, cut, experiences.size(), reinforcements);
  EXPECT_GT(dropped, 0);
  EXPECT_GT(duplicated, 0);
  EXPECT_GT(replayed, 0);
  EXPECT_GT(cut, 0);

  // Every change is in the hub's log exactly once.
  storage::ScanRequest all;
  all.max_changes = 1 << 20;
  absl::StatusOr<storage::ScanResult> hub_log = hub().context().store().log().Scan(all);
  ASSERT_TRUE(hub_log.ok());
  std::set<std::pair<std::string, uint64_t>> identities;
  for (const pb::SyncChange& change : hub_log->changes) {
    EXPECT_TRUE(identities.insert({change.source_instance(), change.sequence()}).second)
        << "change " << change.sequence() << " is in the hub's log twice";
  }
  size_t own_changes = 0;
  for (Peer& p : peers) {
    storage::ScanRequest own = all;
    own.filter.only_origin = p.store->instance_id();
    own_changes += p.store->log().Scan(own)->changes.size();
  }
  EXPECT_EQ(hub_log->changes.size(), own_changes);

  // Every reinforcement counted once, everywhere; all replicas equal.
  uint64_t total = 0;
  absl::StatusOr<std::vector<pb::Experience>> at_hub = hub().context().store().ListExperiences();
  ASSERT_TRUE(at_hub.ok());
  for (const pb::Experience& e : *at_hub) {
    total += e.applications();
  }
  EXPECT_EQ(total, static_cast<uint64_t>(reinforcements));
  const std::string hub_state = *hub().context().store().CanonicalDump();
  for (Peer& p : peers) EXPECT_EQ(*p.store->CanonicalDump(), hub_state);
}

}  // namespace
}  // namespace pulse
