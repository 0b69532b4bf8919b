#include "tools/bench/push_ingest.h"

#include <sys/resource.h>

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tools/bench/bench_client.h"
#include "tools/bench/db_bench_baseline.h"
#include "tools/bench/hub_process.h"

namespace pulse::bench {

namespace pb = pulsedb::sync::v1;

namespace {

// Push with the request already encoded: each peer's requests are serialized before the
// clock starts, so the peers' encoding does not compete with the hub for this machine's
// two cores (a real peer encodes on its own machine). The hub receives the same bytes.
using PushStub = grpc::TemplatedGenericStub<grpc::ByteBuffer, pb::PushResponse>;
constexpr char kPushMethod[] = "/pulsedb.sync.v1.SyncService/Push";

absl::StatusOr<grpc::ByteBuffer> Encode(const pb::PushRequest& request) {
  grpc::ByteBuffer buffer;
  bool own_buffer = false;
  grpc::Status s =
      grpc::SerializationTraits<pb::PushRequest>::Serialize(request, &buffer, &own_buffer);
  if (!s.ok()) return FromGrpc(s, "encode push");
  return buffer;
}

// The run with the median `key` of `runs` (not empty).
template <typename Figures, typename Key>
Figures Median(std::vector<Figures> runs, Key key) {
  std::sort(runs.begin(), runs.end(),
            [&](const Figures& a, const Figures& b) { return key(a) < key(b); });
  return runs[runs.size() / 2];
}

// "hub CPU 0.9 s (0.4 page faults per change)".
std::string HubCost(const IngestFigures& figures) {
  return absl::StrCat("hub CPU ", FormatValue(figures.hub_cpu_seconds), " s (",
                      FormatValue(static_cast<double>(figures.hub_page_faults) /
                                  static_cast<double>(figures.changes)),
                      " page faults per change)");
}

// CPU time of this process (the driver: every peer's client) so far.
double DriverCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + usage.ru_stime.tv_sec +
         usage.ru_stime.tv_usec / 1e6;
}

}  // namespace

absl::StatusOr<IngestFigures> MeasurePushIngest(const BenchContext& context,
                                                const std::string& hub_binary, int peers, bool sync,
                                                PushMode mode) {
  absl::StatusOr<std::unique_ptr<HubProcess>> hub =
      HubProcess::Start(hub_binary, {absl::StrCat("--sync=", sync ? "true" : "false"),
                                     "--peer_rps=0", "--metrics_listen=127.0.0.1:0"});
  if (!hub.ok()) return hub.status();
  const std::string address = (*hub)->address();
  // The collectives first, from a setup peer; then every peer pushes experiences.
  if (absl::Status s = LoadHub(address, context.workload, Workload::ActorId(100), 0); !s.ok()) {
    return s;
  }
  // Whole batches per peer, at least one each.
  const uint64_t per_peer_batches =
      std::max<uint64_t>(1, context.ingest_changes / context.batch / peers);
  std::vector<std::vector<grpc::ByteBuffer>> requests(peers);
  uint64_t total_bytes = 0;
  uint64_t total_changes = 0;
  for (int p = 0; p < peers; ++p) {
    const std::string id = Workload::ActorId(1000 + p);
    for (uint64_t b = 0; b < per_peer_batches; ++b) {
      const uint64_t first_index = (p * per_peer_batches + b) * context.batch;
      const pb::PushRequest request =
          context.workload.PushBatch(id, 1 + b * context.batch, first_index, context.batch);
      for (const pb::SyncChange& c : request.changes()) total_bytes += c.ByteSizeLong();
      total_changes += request.changes_size();
      absl::StatusOr<grpc::ByteBuffer> encoded = Encode(request);
      if (!encoded.ok()) return encoded.status();
      requests[p].push_back(*std::move(encoded));
    }
  }
  // Every peer connects and shakes hands, then all start together.
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<PushStub>> stubs;
  for (int p = 0; p < peers; ++p) {
    std::shared_ptr<grpc::Channel> channel = NewChannel(address);
    if (absl::Status s = Handshake(*pb::SyncService::NewStub(channel), Workload::ActorId(1000 + p));
        !s.ok()) {
      return s;
    }
    channels.push_back(channel);
    stubs.push_back(std::make_unique<PushStub>(channel));
  }
  std::vector<absl::Status> results(peers);
  constexpr char kWriteSeconds[] = "pulse_commit_write_seconds_total";
  constexpr char kStageSeconds[] = "pulse_commit_stage_seconds_total";
  const absl::StatusOr<double> write_before = (*hub)->Metric(kWriteSeconds);
  const absl::StatusOr<double> stage_before = (*hub)->Metric(kStageSeconds);
  absl::StatusOr<ProcessStats> before = (*hub)->Stats();
  const double driver_before = DriverCpuSeconds();
  const double seconds = absl::ToDoubleSeconds(RunTogether(peers, [&](int p) {
    if (mode == PushMode::kStream) {
      results[p] = PushStreamed(channels[p], requests[p], context.batch, kStreamWindow);
      return;
    }
    for (const grpc::ByteBuffer& request : requests[p]) {
      pb::PushResponse response;
      absl::Status s =
          PendingCall<grpc::ByteBuffer, pb::PushResponse>(*stubs[p], kPushMethod, request)
              .Wait(&response, "push");
      if (s.ok() && (response.rejected() != 0 ||
                     response.accepted() != static_cast<uint32_t>(context.batch))) {
        s = absl::InternalError(
            absl::StrCat("push not fully accepted: ", response.first_failure().reason()));
      }
      if (!s.ok()) {
        results[p] = s;
        return;
      }
    }
  }));
  const double driver_cpu = DriverCpuSeconds() - driver_before;
  absl::StatusOr<ProcessStats> after = (*hub)->Stats();
  const absl::StatusOr<double> write_after = (*hub)->Metric(kWriteSeconds);
  const absl::StatusOr<double> stage_after = (*hub)->Metric(kStageSeconds);
  for (const absl::Status& s : results) {
    if (!s.ok()) return s;
  }
  IngestFigures figures;
  figures.changes = total_changes;
  figures.seconds = seconds;
  figures.changes_per_second = total_changes / seconds;
  figures.bytes_per_second = total_bytes / seconds;
  figures.mean_change_bytes = static_cast<double>(total_bytes) / total_changes;
  figures.driver_cpu_seconds = driver_cpu;
  if (write_before.ok() && write_after.ok()) {
    figures.write_busy = (*write_after - *write_before) / seconds;
  }
  if (stage_before.ok() && stage_after.ok()) {
    figures.stage_busy = (*stage_after - *stage_before) / seconds;
  }
  if (before.ok() && after.ok()) {
    figures.hub_cpu_seconds = after->cpu_seconds - before->cpu_seconds;
    figures.hub_written_bytes = after->written_bytes - before->written_bytes;
    figures.hub_page_faults = after->minor_faults - before->minor_faults;
  }
  return figures;
}

absl::Status ReportPushIngest(const BenchContext& context, Report& report) {
  // One run first, not reported: whichever hub ran first in a run measured about a
  // quarter slower than the same build run second (hubs swapped between two
  // --baseline_hub runs), a cold start of the machine that is not the hub's.
  if (absl::StatusOr<IngestFigures> warm_up = MeasurePushIngest(
          context, context.hub_binary, /*peers=*/1, /*sync=*/true, PushMode::kStream);
      !warm_up.ok()) {
    return warm_up.status();
  }
  for (const bool sync : {true, false}) {
    const std::string mode = sync ? "--sync=true" : "--sync=false";
    for (const int peers : context.ingest_peers) {
      // Each run is short (a second or less) and this machine's rates swing between runs
      // minutes apart: every figure is the median of `rounds` runs, taken in turn (hub,
      // db_bench, unary, ...) so that a burst of load from elsewhere hits them alike, and
      // the ratio is the median of each round's hub / db_bench, measured one right after
      // the other (as delivery's ratios are).
      std::vector<IngestFigures> streamed_runs, unary_runs, baseline_runs;
      std::vector<FillseqFigures> fillseq_runs, same_crc_runs;
      std::vector<double> ratios;
      for (int round = 0; round < context.rounds; ++round) {
        absl::StatusOr<IngestFigures> streamed =
            MeasurePushIngest(context, context.hub_binary, peers, sync, PushMode::kStream);
        if (!streamed.ok()) return streamed.status();
        streamed_runs.push_back(*streamed);
        // db_bench right after, same disk, same number of values of the same size.
        const int value_size = static_cast<int>(streamed->mean_change_bytes + 0.5);
        absl::StatusOr<FillseqFigures> fillseq =
            RunFillseq(context.db_bench, streamed->changes, value_size, context.batch, sync,
                       /*compression_ratio=*/0.95);
        if (!fillseq.ok()) return fillseq.status();
        fillseq_runs.push_back(*fillseq);
        ratios.push_back(streamed->bytes_per_second / fillseq->value_bytes_per_second);
        absl::StatusOr<IngestFigures> unary =
            MeasurePushIngest(context, context.hub_binary, peers, sync, PushMode::kUnary);
        if (!unary.ok()) return unary.status();
        unary_runs.push_back(*unary);
        if (!context.crc32c_preload.empty()) {
          // Like for like: db_bench with the same hardware CRC32C as the hub's WAL.
          absl::StatusOr<FillseqFigures> same_crc =
              RunFillseq(context.db_bench, streamed->changes, value_size, context.batch, sync,
                         /*compression_ratio=*/0.95, context.crc32c_preload);
          if (!same_crc.ok()) return same_crc.status();
          same_crc_runs.push_back(*same_crc);
        }
        if (!context.baseline_hub_binary.empty()) {
          absl::StatusOr<IngestFigures> before = MeasurePushIngest(
              context, context.baseline_hub_binary, peers, sync, PushMode::kStream);
          if (!before.ok()) return before.status();
          baseline_runs.push_back(*before);
        }
      }
      auto by_rate = [](const IngestFigures& f) { return f.changes_per_second; };
      auto by_bytes = [](const FillseqFigures& f) { return f.value_bytes_per_second; };
      const IngestFigures ingest = Median(streamed_runs, by_rate);
      const IngestFigures unary = Median(unary_runs, by_rate);
      const FillseqFigures fillseq = Median(fillseq_runs, by_bytes);
      const std::string rounds = absl::StrCat("median of ", context.rounds, " runs");
      const std::string name = absl::StrCat("push ingest, ", peers, " peer", peers > 1 ? "s" : "",
                                            ", batch ", context.batch, ", ", mode, " (PushStream)");
      std::string busy;
      if (ingest.write_busy.has_value() && ingest.stage_busy.has_value()) {
        // How busy each step of the commit pipeline was (pulse_commit_*_seconds_total).
        busy =
            absl::StrCat("; commit writer busy ", static_cast<int>(*ingest.write_busy * 100 + 0.5),
                         " %, staging ", static_cast<int>(*ingest.stage_busy * 100 + 0.5), " %");
      }
      report.Add(name, ingest.changes_per_second, "changes/s",
                 absl::StrCat(rounds, "; ", ingest.changes, " changes of ",
                              static_cast<int>(ingest.mean_change_bytes), " B in ",
                              FormatValue(ingest.seconds), " s; ", HubCost(ingest), ", peers' CPU ",
                              FormatValue(ingest.driver_cpu_seconds), " s", busy));
      report.Add("  same, bytes", ingest.bytes_per_second / 1e6, "MB/s");
      report.Add("  unary Push instead", unary.changes_per_second, "changes/s",
                 absl::StrCat("one batch per call; ",
                              FormatValue(unary.bytes_per_second / fillseq.value_bytes_per_second),
                              " of db_bench; commit writer busy ",
                              static_cast<int>(unary.write_busy.value_or(0) * 100 + 0.5), " %"));
      // A count, not a timing: the bytes the hub's write(2) calls carried (RocksDB's WAL,
      // table files, push replies) per byte of change pushed.
      report.Add("  hub bytes written per byte pushed",
                 static_cast<double>(ingest.hub_written_bytes) /
                     (ingest.mean_change_bytes * static_cast<double>(ingest.changes)),
                 "ratio",
                 "once into the log's WAL and once when flushed; the entity row refers to it");
      report.Add(absl::StrCat("  db_bench fillseq, ", mode), fillseq.value_bytes_per_second / 1e6,
                 "MB/s", fillseq.command);
      if (!same_crc_runs.empty()) {
        const FillseqFigures same_crc = Median(same_crc_runs, by_bytes);
        report.Add(
            absl::StrCat("  db_bench fillseq, ", mode, ", the hub's CRC32C and malloc settings"),
            same_crc.value_bytes_per_second / 1e6, "MB/s",
            absl::StrCat("push ingest / this: ",
                         FormatValue(ingest.bytes_per_second / same_crc.value_bytes_per_second),
                         " (the hub's WAL checksum, storage/fast_crc32c.h, preloaded, and its "
                         "malloc settings)"));
      }
      if (fillseq.written_bytes != 0) {
        report.Add("  db_bench bytes written per value byte",
                   static_cast<double>(fillseq.written_bytes) /
                       (static_cast<double>(ingest.changes) * (ingest.mean_change_bytes + 0.5)),
                   "ratio", "each value once in its WAL, once more when flushed");
      }
      if (!baseline_runs.empty()) {
        const IngestFigures before = Median(baseline_runs, by_rate);
        report.Add(
            "  baseline hub / this hub", before.changes_per_second / ingest.changes_per_second,
            "ratio",
            absl::StrCat(context.baseline_hub_binary, ": ", FormatValue(before.changes_per_second),
                         " changes/s, ", HubCost(before)));
      }
      report.AddRatio(absl::StrCat("push ingest / db_bench fillseq, ", peers, " peer(s), ", mode),
                      Median(ratios, [](double r) { return r; }), 0.5, true,
                      absl::StrCat("median of ", context.rounds,
                                   " rounds, each hub run beside "
                                   "the db_bench run after it"));
    }
  }
  return absl::OkStatus();
}

}  // namespace pulse::bench
