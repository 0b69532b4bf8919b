#include "tools/bench/delivery.h"

#include <functional>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/mutex.h"
#include "raw_stream.grpc.pb.h"
#include "tools/bench/bench_client.h"
#include "tools/bench/hub_process.h"

namespace pulse::bench {

namespace pb = pulsedb::sync::v1;

namespace {

struct PeerRun {
  absl::Status status;
  uint64_t changes = 0;
};

// Runs `read` once per peer, each on its own thread, all released together; returns the
// aggregate changes per second.
absl::StatusOr<double> RunPeers(int peers, const std::function<void(int, PeerRun&)>& prepare,
                                const std::function<void(int, PeerRun&)>& read) {
  std::vector<PeerRun> runs(peers);
  for (int p = 0; p < peers; ++p) {
    prepare(p, runs[p]);
    if (!runs[p].status.ok()) return runs[p].status;
  }
  Mutex mu;
  CondVar go_cv;
  bool go = false;
  std::vector<std::thread> threads;
  for (int p = 0; p < peers; ++p) {
    threads.emplace_back([&, p] {
      {
        MutexLock lock(&mu);
        while (!go) go_cv.Wait(&mu);
      }
      read(p, runs[p]);
    });
  }
  const absl::Time start = absl::Now();
  {
    MutexLock lock(&mu);
    go = true;
  }
  go_cv.SignalAll();
  for (std::thread& t : threads) t.join();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  uint64_t changes = 0;
  for (const PeerRun& run : runs) {
    if (!run.status.ok()) return run.status;
    changes += run.changes;
  }
  return changes / seconds;
}

absl::StatusOr<double> MeasurePull(const BenchContext& context, const std::string& address,
                                   int peers, uint64_t head, int id_base) {
  std::vector<std::unique_ptr<pb::SyncService::Stub>> stubs(peers);
  return RunPeers(
      peers,
      [&](int p, PeerRun& run) {
        stubs[p] = pb::SyncService::NewStub(NewChannel(address));
        run.status = Handshake(*stubs[p], Workload::ActorId(id_base + p));
      },
      [&](int p, PeerRun& run) {
        uint64_t cursor = 0;
        for (;;) {
          pb::PullRequest request;
          request.set_source_instance(Workload::ActorId(id_base + p));
          request.mutable_cursor()->set_last_sequence(cursor);
          request.set_batch_size(context.batch);
          pb::PullResponse response;
          run.status = FromGrpc(stubs[p]->Pull(CallContext().get(), request, &response), "pull");
          if (!run.status.ok()) return;
          run.changes += response.changes_size();
          cursor = response.new_cursor().last_sequence();
          if (!response.has_more()) break;
        }
        if (cursor != head) run.status = absl::InternalError("pull ended short of the head");
      });
}

absl::StatusOr<double> MeasureSubscribe(const std::string& address, int peers, uint64_t head,
                                        int id_base) {
  std::vector<std::unique_ptr<pb::SyncService::Stub>> stubs(peers);
  return RunPeers(
      peers,
      [&](int p, PeerRun& run) {
        stubs[p] = pb::SyncService::NewStub(NewChannel(address));
        run.status = Handshake(*stubs[p], Workload::ActorId(id_base + p));
      },
      [&](int p, PeerRun& run) {
        pb::SubscribeRequest request;
        request.set_source_instance(Workload::ActorId(id_base + p));
        auto call = CallContext();
        std::unique_ptr<grpc::ClientReader<pb::SubscribeEvent>> reader =
            stubs[p]->Subscribe(call.get(), request);
        pb::SubscribeEvent event;
        bool reached = false;
        while (reader->Read(&event)) {
          run.changes += event.changes_size();
          if (event.cursor().last_sequence() >= head) {
            reached = true;
            break;
          }
        }
        call->TryCancel();
        while (reader->Read(&event)) {
        }
        reader->Finish();
        if (!reached) run.status = absl::InternalError("subscription ended short of the head");
      });
}

absl::StatusOr<double> MeasureRaw(const std::string& address, int peers, uint32_t pages) {
  std::vector<std::unique_ptr<pulsebench::RawStream::Stub>> stubs(peers);
  return RunPeers(
      peers,
      [&](int p, PeerRun&) { stubs[p] = pulsebench::RawStream::NewStub(NewChannel(address)); },
      [&](int p, PeerRun& run) {
        pulsebench::RawStreamRequest request;
        request.set_pages(pages);
        auto call = CallContext();
        std::unique_ptr<grpc::ClientReader<pb::PullResponse>> reader =
            stubs[p]->Stream(call.get(), request);
        pb::PullResponse page;
        while (reader->Read(&page)) run.changes += page.changes_size();
        run.status = FromGrpc(reader->Finish(), "raw stream");
      });
}

}  // namespace

absl::Status ReportDelivery(const BenchContext& context, Report& report) {
  absl::StatusOr<std::unique_ptr<HubProcess>> hub =
      HubProcess::Start(context.hub_binary, {"--peer_rps=0", "--peer_max_streams=0"});
  if (!hub.ok()) return hub.status();
  absl::StatusOr<std::unique_ptr<HubProcess>> raw = HubProcess::StartServer(
      {context.self_binary, "--serve_raw_stream", absl::StrCat("--batch=", context.batch)});
  if (!raw.ok()) return raw.status();
  if (absl::Status s = LoadHub((*hub)->address(), context.workload, Workload::ActorId(100),
                               context.delivery_changes, context.batch);
      !s.ok()) {
    return s;
  }
  const uint64_t head = context.delivery_changes + context.workload.collectives().size();
  const uint32_t pages = static_cast<uint32_t>((head + context.batch - 1) / context.batch);
  int id_base = 3000;
  for (const int peers : {1, 16}) {
    absl::StatusOr<double> raw_rate = MeasureRaw((*raw)->address(), peers, pages);
    if (!raw_rate.ok()) return raw_rate.status();
    absl::StatusOr<double> pull = MeasurePull(context, (*hub)->address(), peers, head, id_base);
    id_base += peers;
    if (!pull.ok()) return pull.status();
    absl::StatusOr<double> subscribe = MeasureSubscribe((*hub)->address(), peers, head, id_base);
    id_base += peers;
    if (!subscribe.ok()) return subscribe.status();
    const std::string who = absl::StrCat(peers, " peer", peers > 1 ? "s" : "");
    const std::string note = absl::StrCat("each peer reads the whole log: ", head,
                                          " changes, pages of ", context.batch);
    report.Add(absl::StrCat("pull delivery, ", who), *pull, "changes/s", note);
    report.Add(absl::StrCat("subscribe delivery, ", who), *subscribe, "changes/s",
               "catch-up pages of the hub's max_batch_size (1000)");
    report.Add(absl::StrCat("raw gRPC stream of the same pages, ", who), *raw_rate, "changes/s");
    report.AddRatio(absl::StrCat("pull delivery / raw gRPC stream, ", who), *pull / *raw_rate,
                    0.7);
    report.Add(absl::StrCat("  subscribe delivery / raw gRPC stream, ", who),
               *subscribe / *raw_rate, "ratio", "shown, not a target");
  }
  return absl::OkStatus();
}

}  // namespace pulse::bench
