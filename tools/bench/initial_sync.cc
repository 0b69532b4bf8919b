#include "tools/bench/initial_sync.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/grpc_sync_transport.h"
#include "client/sync_manager.h"
#include "tools/bench/bench_client.h"
#include "tools/bench/hub_process.h"
#include "tools/bench/temp_store.h"

namespace pulse::bench {

namespace pb = pulsedb::sync::v1;

namespace {

struct SyncRun {
  double seconds = 0;
  uint64_t pulled = 0;    // changes applied by pulls
  uint64_t entities = 0;  // entities applied from a snapshot
  std::string peer_id;
};

absl::StatusOr<SyncRun> InitialSyncOnce(const BenchContext& context, const std::string& address) {
  absl::StatusOr<std::unique_ptr<TempStore>> temp = TempStore::Open({});
  if (!temp.ok()) return temp.status();
  client::GrpcTransportOptions transport;
  transport.target = address;
  transport.request_timeout = absl::Minutes(5);
  client::SyncConfig config;
  config.batch_size = context.batch;
  config.live_mode = client::LiveMode::kOff;
  client::SyncManager manager(&(*temp)->store(),
                              std::make_shared<client::GrpcSyncTransport>(transport), config);
  SyncRun run;
  run.peer_id = (*temp)->store().instance_id();
  const absl::Time start = absl::Now();
  absl::Status synced = manager.InitialSync([&](const client::SyncProgress& step) {
    if (step.from_snapshot) run.entities = step.total_pulled;
  });
  run.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  if (!synced.ok()) return synced;
  run.pulled = manager.status().pulled;
  return run;
}

}  // namespace

absl::Status ReportInitialSync(const BenchContext& context, Report& report) {
  absl::StatusOr<std::unique_ptr<HubProcess>> hub =
      HubProcess::Start(context.hub_binary, {"--peer_rps=0", "--retain_min_entries=0"});
  if (!hub.ok()) return hub.status();
  const std::string address = (*hub)->address();
  const uint64_t n = context.initial_sync_changes;
  if (absl::Status s = LoadHub(address, context.workload, Workload::ActorId(100), n, context.batch);
      !s.ok()) {
    return s;
  }
  const uint64_t head = n + context.workload.collectives().size();

  absl::StatusOr<SyncRun> pulled = InitialSyncOnce(context, address);
  if (!pulled.ok()) return pulled.status();
  if (pulled->pulled != head) {
    return absl::InternalError(
        absl::StrCat("pull initial sync applied ", pulled->pulled, " changes, expected ", head));
  }
  report.Add(absl::StrCat("initial sync of ", n, " experiences, Pull loop"), pulled->seconds, "s",
             absl::StrCat(FormatValue(head / pulled->seconds), " changes/s; pages of ",
                          context.batch, "; peer store fsyncs each page"));

  // Every peer has passed the head: compaction empties the log, and the next new peer
  // must catch up through Snapshot.
  auto stub = pb::SyncService::NewStub(NewChannel(address));
  pb::PullRequest at_head;
  at_head.set_source_instance(pulled->peer_id);
  at_head.mutable_cursor()->set_last_sequence(head);
  pb::PullResponse ignored;
  if (absl::Status s = FromGrpc(stub->Pull(CallContext().get(), at_head, &ignored), "pull");
      !s.ok()) {
    return s;
  }
  auto admin = pb::SyncAdmin::NewStub(NewChannel(address));
  pb::CompactResponse compacted;
  if (absl::Status s = FromGrpc(
          admin->Compact(CallContext().get(), pb::CompactRequest(), &compacted), "compact");
      !s.ok()) {
    return s;
  }
  if (compacted.oldest_sequence() != head + 1) {
    return absl::InternalError(absl::StrCat("compaction kept the log from ",
                                            compacted.oldest_sequence(), ", not ", head + 1));
  }
  absl::StatusOr<SyncRun> snapshot = InitialSyncOnce(context, address);
  if (!snapshot.ok()) return snapshot.status();
  if (snapshot->entities != head) {
    return absl::InternalError(absl::StrCat("snapshot initial sync applied ", snapshot->entities,
                                            " entities, expected ", head));
  }
  report.Add(absl::StrCat("initial sync of ", n, " experiences, Snapshot"), snapshot->seconds, "s",
             absl::StrCat(FormatValue(head / snapshot->seconds), " entities/s"));
  return absl::OkStatus();
}

}  // namespace pulse::bench
