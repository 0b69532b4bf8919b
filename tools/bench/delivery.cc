#include "tools/bench/delivery.h"

#include <algorithm>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/pull_reply_head.h"
#include "grpcpp/support/proto_buffer_reader.h"
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
  const double seconds =
      absl::ToDoubleSeconds(RunTogether(peers, [&](int p) { read(p, runs[p]); }));
  uint64_t changes = 0;
  for (const PeerRun& run : runs) {
    if (!run.status.ok()) return run.status;
    changes += run.changes;
  }
  return changes / seconds;
}

// Pulls whose replies are kept as bytes (parsed by the peer when it chooses).
using PullStub = grpc::TemplatedGenericStub<pb::PullRequest, grpc::ByteBuffer>;
using PendingPull = PendingCall<pb::PullRequest, grpc::ByteBuffer>;
constexpr char kPullMethod[] = "/pulsedb.sync.v1.SyncService/Pull";

// Each peer reads the whole log `passes` times, from cursor 0, as a peer paging through
// it does (docs/protocol.md, "Pull"): it asks for page n+1 as soon as page n's head
// (cursor, has_more; framed before the changes) has arrived, telling the hub how far it
// has applied, and parses page n while page n+1 travels.
absl::StatusOr<double> MeasurePull(const BenchContext& context, const std::string& address,
                                   int peers, int passes, uint64_t head, int id_base) {
  std::vector<std::unique_ptr<PullStub>> stubs(peers);
  return RunPeers(
      peers,
      [&](int p, PeerRun& run) {
        std::shared_ptr<grpc::Channel> channel = NewChannel(address);
        run.status = Handshake(*pb::SyncService::NewStub(channel), Workload::ActorId(id_base + p));
        stubs[p] = std::make_unique<PullStub>(channel);
      },
      [&](int p, PeerRun& run) {
        auto page_request = [&](uint64_t cursor, std::optional<uint64_t> applied) {
          pb::PullRequest request;
          request.set_source_instance(Workload::ActorId(id_base + p));
          request.mutable_cursor()->set_last_sequence(cursor);
          if (applied.has_value()) request.set_applied_through(*applied);
          request.set_batch_size(context.batch);
          return std::make_unique<PendingPull>(*stubs[p], kPullMethod, std::move(request));
        };
        for (int pass = 0; pass < passes && run.status.ok(); ++pass) {
          uint64_t cursor = 0;  // parsed (applied) through
          std::unique_ptr<PendingPull> pending = page_request(0, std::nullopt);
          for (;;) {
            grpc::ByteBuffer reply;
            run.status = pending->Wait(&reply, "pull");
            if (!run.status.ok()) return;
            std::optional<client::PullReplyHead> next_at = client::PeekPullReplyHead(reply);
            std::unique_ptr<PendingPull> next;
            if (next_at.has_value() && next_at->has_more) {
              next = page_request(next_at->new_cursor, cursor);
            }
            pb::PullResponse response;
            grpc::ProtoBufferReader reader(&reply);
            if (!response.ParseFromZeroCopyStream(&reader)) {
              run.status = absl::DataLossError("malformed PullResponse");
              if (next != nullptr) next->Wait(&reply, "pull").IgnoreError();
              return;
            }
            run.changes += response.changes_size();
            cursor = response.new_cursor().last_sequence();
            if (!response.has_more()) {
              if (next != nullptr) run.status = next->Wait(&reply, "pull");  // never left in flight
              break;
            }
            // A reply framed changes first (another hub build): ask now.
            pending = next != nullptr ? std::move(next) : page_request(cursor, std::nullopt);
          }
          if (cursor != head) run.status = absl::InternalError("pull ended short of the head");
        }
      });
}

// Each peer subscribes from cursor 0 `passes` times, each time until it reached the head.
absl::StatusOr<double> MeasureSubscribe(const std::string& address, int peers, int passes,
                                        uint64_t head, int id_base) {
  std::vector<std::unique_ptr<pb::SyncService::Stub>> stubs(peers);
  return RunPeers(
      peers,
      [&](int p, PeerRun& run) {
        stubs[p] = pb::SyncService::NewStub(NewChannel(address));
        run.status = Handshake(*stubs[p], Workload::ActorId(id_base + p));
      },
      [&](int p, PeerRun& run) {
        for (int pass = 0; pass < passes && run.status.ok(); ++pass) {
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
        }
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

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values.empty() ? 0 : values[values.size() / 2];
}

// A hub process loaded with the workload, for the delivery runs.
absl::StatusOr<std::unique_ptr<HubProcess>> LoadedHub(const BenchContext& context,
                                                      const std::string& binary) {
  absl::StatusOr<std::unique_ptr<HubProcess>> hub =
      HubProcess::Start(binary, {"--peer_rps=0", "--peer_max_streams=0"});
  if (!hub.ok()) return hub.status();
  if (absl::Status s = LoadHub((*hub)->address(), context.workload, Workload::ActorId(100),
                               context.delivery_changes, context.batch);
      !s.ok()) {
    return s;
  }
  return hub;
}

}  // namespace

absl::Status ReportDelivery(const BenchContext& context, Report& report) {
  absl::StatusOr<std::unique_ptr<HubProcess>> hub = LoadedHub(context, context.hub_binary);
  if (!hub.ok()) return hub.status();
  std::unique_ptr<HubProcess> baseline;
  if (!context.baseline_hub_binary.empty()) {
    absl::StatusOr<std::unique_ptr<HubProcess>> loaded =
        LoadedHub(context, context.baseline_hub_binary);
    if (!loaded.ok()) return loaded.status();
    baseline = std::move(*loaded);
  }
  absl::StatusOr<std::unique_ptr<HubProcess>> raw = HubProcess::StartServer(
      {context.self_binary, "--serve_raw_stream", absl::StrCat("--batch=", context.batch)});
  if (!raw.ok()) return raw.status();
  const uint64_t head = context.delivery_changes + context.workload.collectives().size();
  const uint32_t pages = static_cast<uint32_t>((head + context.batch - 1) / context.batch);
  int id_base = 3000;
  for (const int peers : {1, 16}) {
    // One peer reads the log several times, so that each measurement lasts long enough.
    const int passes = peers == 1 ? context.single_peer_passes : 1;
    // Rounds of (raw, pull, subscribe) back to back: each ratio compares runs made seconds
    // apart, and the median of the rounds resists a burst of load from elsewhere.
    std::vector<double> raw_rates, pulls, subscribes, pull_ratios, subscribe_ratios;
    std::vector<double> base_pulls, base_subscribes;
    for (int round = 0; round < context.rounds; ++round) {
      absl::StatusOr<double> raw_rate = MeasureRaw((*raw)->address(), peers, pages * passes);
      if (!raw_rate.ok()) return raw_rate.status();
      absl::StatusOr<double> pull =
          MeasurePull(context, (*hub)->address(), peers, passes, head, id_base);
      if (!pull.ok()) return pull.status();
      absl::StatusOr<double> subscribe =
          MeasureSubscribe((*hub)->address(), peers, passes, head, id_base + peers);
      if (!subscribe.ok()) return subscribe.status();
      if (baseline != nullptr) {
        absl::StatusOr<double> base_pull =
            MeasurePull(context, baseline->address(), peers, passes, head, id_base);
        if (!base_pull.ok()) return base_pull.status();
        absl::StatusOr<double> base_subscribe =
            MeasureSubscribe(baseline->address(), peers, passes, head, id_base + peers);
        if (!base_subscribe.ok()) return base_subscribe.status();
        base_pulls.push_back(*base_pull / *pull);
        base_subscribes.push_back(*base_subscribe / *subscribe);
      }
      raw_rates.push_back(*raw_rate);
      pulls.push_back(*pull);
      subscribes.push_back(*subscribe);
      pull_ratios.push_back(*pull / *raw_rate);
      subscribe_ratios.push_back(*subscribe / *raw_rate);
    }
    id_base += 2 * peers;
    const std::string who = absl::StrCat(peers, " peer", peers > 1 ? "s" : "");
    const std::string rounds = absl::StrCat("median of ", context.rounds, " rounds");
    report.Add(
        absl::StrCat("pull delivery, ", who), Median(pulls), "changes/s",
        absl::StrCat("each peer reads the whole log (", head, " changes) ", passes,
                     passes > 1 ? " times" : " time", ", pages of ", context.batch, "; ", rounds));
    report.Add(absl::StrCat("subscribe delivery, ", who), Median(subscribes), "changes/s",
               "catch-up pages of the hub's max_batch_size (1000)");
    report.Add(absl::StrCat("raw gRPC stream of the same pages, ", who), Median(raw_rates),
               "changes/s");
    report.Add(absl::StrCat("  subscribe delivery / raw gRPC stream, ", who),
               Median(subscribe_ratios), "ratio", "shown, not a target");
    if (baseline != nullptr) {
      report.Add(absl::StrCat("  pull delivery, baseline hub / this hub, ", who),
                 Median(base_pulls), "ratio", context.baseline_hub_binary);
      report.Add(absl::StrCat("  subscribe delivery, baseline hub / this hub, ", who),
                 Median(base_subscribes), "ratio");
    }
    report.AddRatio(absl::StrCat("pull delivery / raw gRPC stream, ", who), Median(pull_ratios),
                    0.7, true, rounds);
  }
  return absl::OkStatus();
}

}  // namespace pulse::bench
