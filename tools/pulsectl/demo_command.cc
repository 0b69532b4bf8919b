// pulsectl demo: starts a hub in this process on --listen with its store in --data_dir,
// connects two peers (alice and bob, stores beside it in <data_dir>-demo/), and shows a
// few experiences flowing from alice to bob and a reinforcement flowing back, with the
// time each took. Then the hub keeps serving until SIGINT/SIGTERM (or exits at once with
// --exit_after_demo), so `pulsectl status` and `pulsectl tail` can be tried against it.
#include <signal.h>

#include <cstdio>
#include <filesystem>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/grpc_sync_transport.h"
#include "client/sync_manager.h"
#include "common/log.h"
#include "server/hub.h"
#include "storage/ids.h"
#include "tools/pulsectl/cli.h"
#include "tools/pulsectl/commands.h"

ABSL_DECLARE_FLAG(std::string, data_dir);
ABSL_FLAG(std::string, listen, "127.0.0.1:7070", "demo: where the demo hub listens");
ABSL_FLAG(bool, exit_after_demo, false, "demo: stop once the demo has run");
ABSL_FLAG(std::string, metrics_listen, "127.0.0.1:7071",
          "demo: where the demo hub serves /metrics (empty = off)");

namespace pulse::pulsectl {

namespace pb = pulsedb::sync::v1;

namespace {

struct DemoPeer {
  std::string name;
  std::unique_ptr<storage::Store> store;
  std::unique_ptr<client::SyncManager> manager;
};

absl::StatusOr<DemoPeer> StartPeer(const std::string& name, const std::string& dir,
                                   const std::string& hub_address) {
  DemoPeer peer;
  peer.name = name;
  absl::StatusOr<std::unique_ptr<storage::Store>> store = storage::Store::Open(dir);
  if (!store.ok()) return store.status();
  peer.store = std::move(*store);
  client::GrpcTransportOptions options;
  options.target = hub_address;
  client::SyncConfig config;
  config.push_interval = absl::Milliseconds(200);
  peer.manager = std::make_unique<client::SyncManager>(
      peer.store.get(), std::make_shared<client::GrpcSyncTransport>(options), config);
  if (absl::Status s = peer.manager->Start(); !s.ok()) return s;
  return peer;
}

// Waits (bounded) until `ready` holds; returns the time it took.
absl::StatusOr<absl::Duration> TimeUntil(const std::function<bool()>& ready) {
  const absl::Time start = absl::Now();
  const absl::Time deadline = start + absl::Seconds(20);
  while (!ready()) {
    if (absl::Now() > deadline) return absl::DeadlineExceededError("not delivered within 20s");
    absl::SleepFor(absl::Microseconds(200));  // polling a remote effect, bounded
  }
  return absl::Now() - start;
}

}  // namespace

int DemoCommand(const std::vector<std::string>& args) {
  if (!args.empty()) {
    std::fprintf(stderr, "usage: pulsectl demo [--listen=HOST:PORT] [--data_dir=DIR]\n");
    return kExitUsage;
  }
  // Stop signals are waited for below; block them before any thread starts.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  std::string data_dir = absl::GetFlag(FLAGS_data_dir);
  if (data_dir.empty()) data_dir = "./pulse-data";
  SetLogLevel(LogLevel::kWarning);
  server::HubOptions options;
  options.listen_address = absl::GetFlag(FLAGS_listen);
  options.data_dir = data_dir;
  options.metrics_listen_address = absl::GetFlag(FLAGS_metrics_listen);
  absl::StatusOr<std::unique_ptr<server::Hub>> hub = server::Hub::Start(options);
  if (!hub.ok()) return Fail(hub.status());
  std::printf("hub %s listening on %s (data in %s)\n",
              storage::IdToText((*hub)->instance_id()).c_str(), (*hub)->address().c_str(),
              data_dir.c_str());
  if ((*hub)->metrics_port() != 0) {
    std::printf("metrics on http://%s/metrics\n", (*hub)->metrics_address().c_str());
  }

  const std::string peers_dir = data_dir + "-demo";
  std::filesystem::create_directories(peers_dir);
  absl::StatusOr<DemoPeer> alice = StartPeer("alice", peers_dir + "/alice", (*hub)->address());
  if (!alice.ok()) return Fail(alice.status());
  absl::StatusOr<DemoPeer> bob = StartPeer("bob", peers_dir + "/bob", (*hub)->address());
  if (!bob.ok()) return Fail(bob.status());
  std::printf("peers alice %s and bob %s connected (live)\n",
              storage::IdToText(alice->store->instance_id()).c_str(),
              storage::IdToText(bob->store->instance_id()).c_str());

  // One collective for the demo, made once and reused by later runs.
  std::string collective;
  // Held in a variable: ranging over `*ListCollectives()` would read a destroyed temporary.
  absl::StatusOr<std::vector<pb::Collective>> collectives = alice->store->ListCollectives();
  if (!collectives.ok()) return Fail(collectives.status());
  for (const pb::Collective& c : *collectives) {
    if (c.name() == "demo-team") collective = c.id();
  }
  if (collective.empty()) {
    pb::Collective c;
    c.set_name("demo-team");
    c.set_embedding_dimension(4);
    absl::StatusOr<storage::LocalWrite> made = alice->store->CreateCollective(c);
    if (!made.ok()) return Fail(made.status());
    collective = made->id;
  }
  const char* lessons[] = {"prefer RAII over manual cleanup",
                           "retry with exponential backoff, capped",
                           "fsync before acknowledging a write"};
  std::string last;
  for (const char* lesson : lessons) {
    pb::Experience e;
    e.set_collective_id(collective);
    e.set_content(lesson);
    for (float v : {0.1f, 0.2f, 0.3f, 0.4f}) e.add_embedding(v);
    e.mutable_experience_type()->mutable_fact()->set_statement(lesson);
    e.set_source_agent("alice");
    absl::StatusOr<storage::LocalWrite> written = alice->store->CreateExperience(e);
    if (!written.ok()) return Fail(written.status());
    last = written->id;
    absl::StatusOr<absl::Duration> took =
        TimeUntil([&] { return bob->store->GetExperience(written->id).ok(); });
    if (!took.ok()) return Fail(took.status());
    std::printf("alice -> bob  %-42s %6.1f ms\n", (std::string("\"") + lesson + "\"").c_str(),
                absl::ToDoubleMilliseconds(*took));
  }
  if (absl::StatusOr<storage::LocalWrite> r = bob->store->ReinforceExperience(last); !r.ok()) {
    return Fail(r.status());
  }
  const uint32_t before = alice->store->GetExperience(last)->applications();
  absl::StatusOr<absl::Duration> took =
      TimeUntil([&] { return alice->store->GetExperience(last)->applications() > before; });
  if (!took.ok()) return Fail(took.status());
  std::printf("bob -> alice  reinforcement (applications %u -> %u)    %6.1f ms\n", before,
              alice->store->GetExperience(last)->applications(), absl::ToDoubleMilliseconds(*took));

  pb::HubStatusResponse status;
  if (absl::Status s = server::BuildHubStatus((*hub)->context(), &status); !s.ok()) return Fail(s);
  std::printf("hub log head %llu, %d peers known\n",
              static_cast<unsigned long long>(status.head_sequence()), status.peers_size());

  if (!absl::GetFlag(FLAGS_exit_after_demo)) {
    std::printf(
        "the hub keeps serving on %s; try `pulsectl status --hub=%s` or "
        "`pulsectl tail --from=0 --hub=%s`; Ctrl-C stops it\n",
        (*hub)->address().c_str(), (*hub)->address().c_str(), (*hub)->address().c_str());
    std::fflush(stdout);
    int signal_number = 0;
    sigwait(&stop_signals, &signal_number);
  }
  alice->manager->Stop();
  bob->manager->Stop();
  (*hub)->Shutdown();
  std::printf("stopped\n");
  return kExitOk;
}

}  // namespace pulse::pulsectl
