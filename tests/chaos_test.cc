// Randomized convergence under chaos. Five peers and one hub (a real pulse_hub process)
// run random creates, updates, archives, reinforcements, deletes and relations in random
// collectives, while peers restart and pause, the hub is killed with SIGKILL and
// restarted, and the log is compacted. At the end every store holds the same state, the
// hub included, and no acknowledged write is lost: exactly the experiences created and
// not deleted exist everywhere.
//
// Seeded: the seed is printed with any failure and PULSE_SEED=<seed> replays the choices.
// Duration: PULSE_CHAOS_SECONDS (default 8); //tests:chaos_soak_test runs 10 minutes.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "client/grpc_sync_transport.h"
#include "client/sync_manager.h"
#include "gtest/gtest.h"
#include "pulsedb/sync/v1/sync.grpc.pb.h"
#include "storage/ids.h"
#include "tests/support/entities.h"
#include "tests/support/eventually.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace pulse {
namespace {

namespace pb = pulsedb::sync::v1;

uint32_t EnvNumber(const char* name, uint32_t fallback) {
  const char* text = std::getenv(name);
  return text != nullptr ? static_cast<uint32_t>(std::strtoul(text, nullptr, 10)) : fallback;
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

class Chaos {
 public:
  Chaos(uint32_t seed, testing::TempDir& dir) : rng_(seed), dir_(dir) {
    rule_ = seed % 2 == 0 ? pb::CONFLICT_RESOLUTION_SERVER_WINS
                          : pb::CONFLICT_RESOLUTION_LAST_WRITE_WINS;
    address_ = absl::StrCat("127.0.0.1:", FreePort());
  }

  void StartHub() {
    hub_ = std::make_unique<testing::ChildProcess>(std::vector<std::string>{
        testing::RunfilePath("server/pulse_hub"), "--listen=" + address_,
        "--data_dir=" + dir_.Sub("hub"), "--log_level=error", "--retain_min_entries=0",
        "--compaction_interval=0", "--metrics_listen=",
        std::string("--conflict_resolution=") +
            (rule_ == pb::CONFLICT_RESOLUTION_SERVER_WINS ? "server-wins" : "last-write-wins")});
    ASSERT_TRUE(hub_->WaitForLine("listening on", absl::Seconds(30)).has_value());
  }

  void KillHub() {
    hub_->Signal(SIGKILL);
    ASSERT_TRUE(hub_->Wait(absl::Seconds(30)).has_value());
    hub_.reset();
  }

  void StopHubCleanly() {
    hub_->Signal(SIGTERM);
    std::optional<int> status = hub_->Wait(absl::Seconds(30));
    ASSERT_TRUE(status.has_value() && WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
    hub_.reset();
  }

  struct Peer {
    std::string name;
    std::unique_ptr<storage::Store> store;
    std::unique_ptr<client::SyncManager> manager;
    bool paused = false;
  };

  client::SyncConfig Config() {
    client::SyncConfig config;
    config.conflict_resolution = rule_;
    config.batch_size = 1 + rng_() % 20;
    config.push_interval = absl::Milliseconds(30);
    config.pull_interval = absl::Milliseconds(30);
    config.retry.initial_backoff = absl::Milliseconds(20);
    config.retry.max_backoff = absl::Milliseconds(300);
    config.live_mode = rng_() % 2 == 0 ? client::LiveMode::kOn : client::LiveMode::kOff;
    return config;
  }

  void OpenPeer(Peer& peer) {
    peer.store = *storage::Store::Open(dir_.Sub(peer.name));
    client::GrpcTransportOptions options;
    options.target = address_;
    options.request_timeout = absl::Seconds(3);
    peer.manager = std::make_unique<client::SyncManager>(
        peer.store.get(), std::make_shared<client::GrpcSyncTransport>(options), Config());
  }

  // Start() needs a reachable hub; while it is down the peer keeps writing locally.
  void StartManager(Peer& peer) {
    if (!peer.manager->Start().ok()) peer.paused = true;
  }

  void Compact() {
    auto stub =
        pb::SyncAdmin::NewStub(grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(3)));
    pb::CompactResponse response;
    (void)stub->Compact(&context, {}, &response);  // the hub may be down: fine
  }

  std::mt19937& rng() { return rng_; }
  const std::string& address() const { return address_; }
  pb::ConflictResolution rule() const { return rule_; }

 private:
  std::mt19937 rng_;
  testing::TempDir& dir_;
  pb::ConflictResolution rule_;
  std::string address_;
  std::unique_ptr<testing::ChildProcess> hub_;
};

// The lines two dumps disagree on (at most a few), for a readable failure.
std::string DumpDiff(const std::string& a, const std::string& b) {
  std::vector<std::string> la = absl::StrSplit(a, '\n'), lb = absl::StrSplit(b, '\n');
  std::set<std::string> sa(la.begin(), la.end()), sb(lb.begin(), lb.end());
  std::string out;
  int shown = 0;
  for (const std::string& line : sa) {
    if (sb.count(line) == 0 && shown++ < 4) absl::StrAppend(&out, "\n  only here:  ", line);
  }
  shown = 0;
  for (const std::string& line : sb) {
    if (sa.count(line) == 0 && shown++ < 4) absl::StrAppend(&out, "\n  only there: ", line);
  }
  return out;
}

int ChaosSeconds() {
  for (const std::string& arg : ::testing::internal::GetArgvs()) {
    if (arg.rfind("--chaos_seconds=", 0) == 0) return std::atoi(arg.c_str() + 16);
  }
  return static_cast<int>(EnvNumber("PULSE_CHAOS_SECONDS", 8));
}

TEST(Chaos, FivePeersAndAHubConvergeThroughRestartsKillsPausesAndCompactions) {
  const uint32_t seed =
      EnvNumber("PULSE_SEED", static_cast<uint32_t>(absl::ToUnixMicros(absl::Now())));
  SCOPED_TRACE(absl::StrCat("PULSE_SEED=", seed, " replays this run"));
  testing::TempDir dir;
  Chaos chaos(seed, dir);
  std::mt19937& rng = chaos.rng();
  chaos.StartHub();

  constexpr int kPeers = 5;
  std::vector<Chaos::Peer> peers(kPeers);
  for (int i = 0; i < kPeers; ++i) {
    peers[i].name = "peer" + std::to_string(i);
    chaos.OpenPeer(peers[i]);
  }
  // Three collectives everyone knows before the chaos starts.
  std::vector<std::string> collectives;
  for (int i = 0; i < 3; ++i) {
    collectives.push_back(
        peers[0].store->CreateCollective(testing::MakeCollective("c" + std::to_string(i)))->id);
  }
  for (int round = 0; round < 2; ++round) {
    for (auto& p : peers) ASSERT_TRUE(p.manager->SyncOnce().ok());
  }
  for (auto& p : peers) chaos.StartManager(p);

  std::set<std::string> created, deleted;
  int kills = 0, restarts = 0, pauses = 0, compactions = 0, ops = 0;
  const absl::Time end = absl::Now() + absl::Seconds(ChaosSeconds());
  absl::Time next_kill = absl::Now() + absl::Milliseconds(700 + rng() % 1500);
  while (absl::Now() < end) {
    Chaos::Peer& p = peers[rng() % kPeers];
    const int dice = static_cast<int>(rng() % 100);
    std::vector<pb::Experience> mine = *p.store->ListExperiences();
    if (dice < 40 || mine.size() < 2) {
      pb::Experience e = testing::MakeExperience(collectives[rng() % collectives.size()]);
      absl::StatusOr<storage::LocalWrite> w = p.store->CreateExperience(e);
      ASSERT_TRUE(w.ok()) << w.status();
      created.insert(w->id);
    } else {
      const pb::Experience& target = mine[rng() % mine.size()];
      absl::Status s;
      if (dice < 55) {
        pb::ExperienceUpdate u;
        u.set_importance(static_cast<float>(rng() % 100) / 100.0f);
        (*u.mutable_tags()->mutable_entries())["by"] = p.name;
        s = p.store->UpdateExperience(target.id(), u).status();
      } else if (dice < 62) {
        s = p.store->ArchiveExperience(target.id()).status();
      } else if (dice < 74) {
        s = p.store->ReinforceExperience(target.id()).status();
      } else if (dice < 84) {
        const pb::Experience& other = mine[rng() % mine.size()];
        if (other.id() != target.id() && other.collective_id() == target.collective_id()) {
          s = p.store->CreateRelation(testing::MakeRelation(target.id(), other.id())).status();
        }
      } else if (dice < 92) {
        s = p.store->DeleteExperience(target.id()).status();
        if (s.ok()) deleted.insert(target.id());
      } else if (dice < 95) {
        // Restart this peer: close its store and reopen it.
        p.manager->Stop();
        p.manager.reset();
        p.store.reset();
        chaos.OpenPeer(p);
        chaos.StartManager(p);
        ++restarts;
      } else if (dice < 98) {
        if (p.paused) {
          chaos.StartManager(p);
          p.paused = !p.manager->status().running;
        } else {
          p.manager->Stop();
          p.paused = true;
          ++pauses;
        }
      } else {
        chaos.Compact();
        ++compactions;
      }
      // Races with remote deletes are expected; anything else is a bug.
      ASSERT_TRUE(s.ok() || s.code() == absl::StatusCode::kNotFound ||
                  s.code() == absl::StatusCode::kFailedPrecondition ||
                  s.code() == absl::StatusCode::kAlreadyExists)
          << s;
    }
    ++ops;
    if (absl::Now() >= next_kill) {
      chaos.KillHub();
      ++kills;
      chaos.StartHub();
      next_kill = absl::Now() + absl::Milliseconds(700 + rng() % 1500);
    }
  }
  std::printf(
      "chaos: seed %u, %s, %d ops, %d hub kills, %d peer restarts, %d pauses, "
      "%d compactions\n",
      seed, chaos.rule() == pb::CONFLICT_RESOLUTION_SERVER_WINS ? "server-wins" : "last-write-wins",
      ops, kills, restarts, pauses, compactions);

  // Settle: every peer runs explicit cycles until nothing moves.
  for (auto& p : peers) p.manager->Stop();
  for (int round = 0; round < 4; ++round) {
    for (auto& p : peers) {
      ASSERT_TRUE(
          testing::Eventually([&] { return p.manager->SyncOnce().ok(); }, absl::Seconds(30)))
          << p.name << ": " << p.manager->status().last_error;
    }
  }
  const std::string reference = *peers[0].store->CanonicalDump();
  for (auto& p : peers) {
    const std::string dump = *p.store->CanonicalDump();
    EXPECT_TRUE(dump == reference) << p.name << " differs from peer0:" << DumpDiff(dump, reference);
  }

  // No acknowledged write lost: exactly the experiences created and not deleted.
  std::set<std::string> expected;
  for (const std::string& id : created) {
    if (deleted.count(id) == 0) expected.insert(id);
  }
  std::set<std::string> present;
  absl::StatusOr<std::vector<pb::Experience>> final_state = peers[0].store->ListExperiences();
  ASSERT_TRUE(final_state.ok());
  for (const pb::Experience& e : *final_state) present.insert(e.id());
  EXPECT_EQ(present, expected);

  // The hub, stopped and opened as a store, holds the same state.
  chaos.StopHubCleanly();
  auto hub_store = *storage::Store::Open(dir.Sub("hub"));
  const std::string hub_dump = *hub_store->CanonicalDump();
  EXPECT_TRUE(hub_dump == reference) << "hub differs from peer0:" << DumpDiff(hub_dump, reference);
}

}  // namespace
}  // namespace pulse
