// Micro benchmarks (Google Benchmark) of the hot paths the original publishes figures
// for: encoding and decoding one change, the echo-guard check, a scan of 10,000 log
// entries and the compaction of 10,000 entries. Run by tools/bench/run; a fraction of a
// second of it is a smoke test (//tools/bench:micro_bench_smoke_test).
#include <cstdlib>
#include <memory>
#include <string>

#include "benchmark/benchmark.h"
#include "google/protobuf/arena.h"
#include "grpcpp/support/byte_buffer.h"
#include "server/received_push.h"
#include "storage/apply_guard.h"
#include "storage/store.h"
#include "storage/validation.h"
#include "tools/bench/temp_store.h"
#include "tools/bench/workload.h"

namespace pulse::bench {
namespace {

namespace pb = pulsedb::sync::v1;

const Workload& TheWorkload() {
  static const Workload* workload = new Workload();
  return *workload;
}

const pb::SyncChange& OneChange() {
  static const pb::SyncChange* change =
      new pb::SyncChange(TheWorkload().ExperienceChange(Workload::ActorId(1), 1, 1));
  return *change;
}

void Check(const absl::Status& status) {
  if (!status.ok()) {
    std::fprintf(stderr, "benchmark setup failed: %s\n", status.ToString().c_str());
    std::abort();
  }
}

// A hub-like store holding `count` experience creates (plus the collectives) in its log.
std::unique_ptr<TempStore> StoreWithEntries(int count, bool sync_writes) {
  storage::StoreOptions options;
  options.sync_writes = sync_writes;
  options.authoritative = true;
  absl::StatusOr<std::unique_ptr<TempStore>> temp = TempStore::Open(options);
  Check(temp.status());
  const std::string origin = Workload::ActorId(7);
  storage::ApplyContext context;
  context.mode = storage::ApplyMode::kAuthority;
  std::vector<pb::SyncChange> collectives = TheWorkload().CollectiveChanges(origin);
  Check((*temp)->store().ApplyRemoteChanges(collectives, context).status());
  uint64_t sequence = collectives.size() + 1;
  for (int done = 0; done < count;) {
    const int n = std::min(500, count - done);
    pb::PushRequest batch = TheWorkload().PushBatch(origin, sequence, done, n);
    absl::StatusOr<storage::ApplyReport> report =
        (*temp)->store().ApplyRemoteChanges(batch.changes(), context);
    Check(report.status());
    if (report->applied != n) Check(absl::InternalError("load did not apply every change"));
    sequence += n;
    done += n;
  }
  return std::move(*temp);
}

void BM_EncodeChange(benchmark::State& state) {
  const pb::SyncChange& change = OneChange();
  std::string out;
  for (auto _ : state) {
    out.clear();
    change.SerializeToString(&out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(change.ByteSizeLong()));
  state.counters["change_bytes"] = static_cast<double>(change.ByteSizeLong());
}
BENCHMARK(BM_EncodeChange);

void BM_DecodeChange(benchmark::State& state) {
  const std::string wire = OneChange().SerializeAsString();
  for (auto _ : state) {
    pb::SyncChange change;
    const bool ok = change.ParseFromString(wire);
    benchmark::DoNotOptimize(ok);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(wire.size()));
}
BENCHMARK(BM_DecodeChange);

void BM_DecodeChangeOnArena(benchmark::State& state) {
  const std::string wire = OneChange().SerializeAsString();
  for (auto _ : state) {
    google::protobuf::Arena arena;
    auto* change = google::protobuf::Arena::CreateMessage<pb::SyncChange>(&arena);
    const bool ok = change->ParseFromString(wire);
    benchmark::DoNotOptimize(ok);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(wire.size()));
}
BENCHMARK(BM_DecodeChangeOnArena);

// What the hub does with a pushed batch of 500 changes before and after its handler:
// parse it into a PushRequest and free it; on the heap, or on one arena per call as the
// hub's Push does (server/received_push.h).
void BM_ParsePushRequest(benchmark::State& state) {
  const bool on_arena = state.range(0) != 0;
  const std::string wire =
      TheWorkload().PushBatch(Workload::ActorId(1), 1, 0, 500).SerializeAsString();
  for (auto _ : state) {
    if (on_arena) {
      google::protobuf::Arena arena;
      auto* request = google::protobuf::Arena::CreateMessage<pb::PushRequest>(&arena);
      benchmark::DoNotOptimize(request->ParseFromString(wire));
    } else {
      auto request = std::make_unique<pb::PushRequest>();
      benchmark::DoNotOptimize(request->ParseFromString(wire));
    }
  }
  state.SetItemsProcessed(state.iterations() * 500);
  state.SetLabel(on_arena ? "arena" : "heap");
}
BENCHMARK(BM_ParsePushRequest)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

// The same batch as the hub receives it: gRPC's slices (16 KiB HTTP/2 frames), parsed by
// one ReceivedPush reused from request to request, as a PushStream's slot is, each
// change's bytes found, and freed.
void BM_ReceivedPush(benchmark::State& state) {
  const std::string wire =
      TheWorkload().PushBatch(Workload::ActorId(1), 1, 0, 500).SerializeAsString();
  std::vector<grpc::Slice> slices;
  for (std::size_t at = 0; at < wire.size(); at += 16384) {
    slices.emplace_back(wire.substr(at, 16384));
  }
  const grpc::ByteBuffer buffer(slices.data(), slices.size());
  pulse::server::ReceivedPush received;
  for (auto _ : state) {
    const bool ok = received.Parse(buffer).ok();
    benchmark::DoNotOptimize(ok);
    received.Clear();
  }
  state.SetItemsProcessed(state.iterations() * 500);
}
BENCHMARK(BM_ReceivedPush)->Unit(benchmark::kMicrosecond);

void BM_EchoGuardCheck(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(storage::SyncApplyGuard::IsApplying());
}
BENCHMARK(BM_EchoGuardCheck);

void BM_EchoGuardCheckWhileApplying(benchmark::State& state) {
  storage::SyncApplyGuard guard;
  for (auto _ : state) benchmark::DoNotOptimize(storage::SyncApplyGuard::IsApplying());
}
BENCHMARK(BM_EchoGuardCheckWhileApplying);

// The hub's apply of one pushed batch of 500 experience creates (each change validated
// once, as the hub's CheckPushBatch does, Store::CheckEmbeddings, then
// ApplyRemoteChanges as the authority), fsync off: the CPU side of push ingest.
void BM_ApplyPushBatch(benchmark::State& state) {
  const int batch = static_cast<int>(state.range(0));
  std::unique_ptr<TempStore> temp = StoreWithEntries(0, /*sync_writes=*/false);
  const std::string origin = Workload::ActorId(9);
  storage::ApplyContext context;
  context.mode = storage::ApplyMode::kAuthority;
  context.changes_validated = true;
  uint64_t sequence = 1;
  for (auto _ : state) {
    state.PauseTiming();
    pb::PushRequest request = TheWorkload().PushBatch(origin, sequence, 1000000 + sequence, batch);
    sequence += batch;
    state.ResumeTiming();
    for (const pb::SyncChange& change : request.changes()) Check(storage::ValidateChange(change));
    Check(temp->store().CheckEmbeddings(request.changes()));
    absl::StatusOr<storage::ApplyReport> report =
        temp->store().ApplyRemoteChanges(request.changes(), context);
    if (!report.ok() || report->applied != batch) {
      state.SkipWithError("apply failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * batch);
}

// The last `entries` entries of `temp`'s log in one page, as a peer's pull reads them
// (never its own changes).
storage::ScanRequest WholeLogScan(TempStore& temp, int entries) {
  storage::ScanRequest scan;
  scan.after = temp.store().log().Head() - entries;
  scan.max_changes = entries;
  scan.filter.exclude_origin = Workload::ActorId(8);
  return scan;
}

// One Scan of the whole 10,000-entry log, each change parsed into a heap message.
void BM_WalScan(benchmark::State& state) {
  const int entries = static_cast<int>(state.range(0));
  std::unique_ptr<TempStore> temp = StoreWithEntries(entries, /*sync_writes=*/false);
  const storage::ScanRequest scan = WholeLogScan(*temp, entries);
  for (auto _ : state) {
    absl::StatusOr<storage::ScanResult> page = temp->store().log().Scan(scan);
    if (!page.ok() || page->changes.size() != static_cast<std::size_t>(entries)) {
      state.SkipWithError("scan failed");
      break;
    }
    benchmark::DoNotOptimize(page->changes.data());
  }
  state.SetItemsProcessed(state.iterations() * entries);
}

// The same scan parsed straight into a reply's repeated field on a per-reply arena
// (ChangeLog::ScanInto): what a client reading a page does.
void BM_WalScanIntoArena(benchmark::State& state) {
  const int entries = static_cast<int>(state.range(0));
  std::unique_ptr<TempStore> temp = StoreWithEntries(entries, /*sync_writes=*/false);
  const storage::ScanRequest scan = WholeLogScan(*temp, entries);
  for (auto _ : state) {
    google::protobuf::Arena arena;
    auto* reply = google::protobuf::Arena::CreateMessage<pb::PullResponse>(&arena);
    absl::StatusOr<storage::ScanResult> page =
        temp->store().log().ScanInto(scan, reply->mutable_changes());
    if (!page.ok() || reply->changes_size() != entries) {
      state.SkipWithError("scan failed");
      break;
    }
    benchmark::DoNotOptimize(reply);
  }
  state.SetItemsProcessed(state.iterations() * entries);
}

// The scan the hub's Pull and Subscribe do: each entry's stored bytes appended to the
// reply as they are, never parsed (ChangeLog::ScanWire). The figure comparable with the original's
// "WAL scan of 10,000 entries".
void BM_WalScanWire(benchmark::State& state) {
  const int entries = static_cast<int>(state.range(0));
  std::unique_ptr<TempStore> temp = StoreWithEntries(entries, /*sync_writes=*/false);
  const storage::ScanRequest scan = WholeLogScan(*temp, entries);
  std::string reply;
  for (auto _ : state) {
    reply.clear();
    absl::StatusOr<storage::ScanResult> page = temp->store().log().ScanWire(scan, &reply);
    if (!page.ok() || page->appended != static_cast<std::size_t>(entries)) {
      state.SkipWithError("scan failed");
      break;
    }
    benchmark::DoNotOptimize(reply.data());
  }
  state.SetItemsProcessed(state.iterations() * entries);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(reply.size()));
}

// The hub's compaction (Store::CompactWal: cursors, the log, dead tombstones) of a log of
// 10,000 entries that every peer has passed, fsync on as in a hub's default.
void BM_Compaction(benchmark::State& state) {
  const int entries = static_cast<int>(state.range(0));
  for (auto _ : state) {
    state.PauseTiming();
    std::unique_ptr<TempStore> temp = StoreWithEntries(entries, /*sync_writes=*/true);
    const uint64_t head = temp->store().log().Head();
    Check(temp->store()
              .AdvanceCursor(Workload::ActorId(8), storage::CursorKind::kServed, head)
              .status());
    state.ResumeTiming();
    absl::StatusOr<uint64_t> removed = temp->store().CompactWal();
    state.PauseTiming();
    if (!removed.ok() || *removed != head) {
      state.SkipWithError("compaction failed");
      break;
    }
    temp.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * entries);
}

// The benchmarks over a store: 10,000 log entries (or, with --smoke, 500: a quick check
// that they run, for the test).
void RegisterStoreBenchmarks(bool smoke) {
  const int entries = smoke ? 500 : 10000;
  benchmark::RegisterBenchmark("BM_ApplyPushBatch", BM_ApplyPushBatch)
      ->Arg(500)
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("BM_WalScan", BM_WalScan)
      ->Arg(entries)
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("BM_WalScanIntoArena", BM_WalScanIntoArena)
      ->Arg(entries)
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("BM_WalScanWire", BM_WalScanWire)
      ->Arg(entries)
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("BM_Compaction", BM_Compaction)
      ->Arg(entries)
      ->Iterations(smoke ? 1 : 3)
      ->Unit(benchmark::kMillisecond);
}

}  // namespace
}  // namespace pulse::bench

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  bool smoke = false;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--smoke") {
      smoke = true;
    } else {
      std::fprintf(stderr, "micro_bench: unknown argument %s\n", argv[i]);
      return 2;
    }
  }
  pulse::bench::RegisterStoreBenchmarks(smoke);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
