#include "tools/bench/propagation.h"

#include <algorithm>
#include <map>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/grpc_sync_transport.h"
#include "client/sync_manager.h"
#include "common/mutex.h"
#include "tools/bench/bench_client.h"
#include "tools/bench/hub_process.h"
#include "tools/bench/temp_store.h"

namespace pulse::bench {

namespace pb = pulsedb::sync::v1;

namespace {

constexpr absl::Duration kPushPeriod = absl::Milliseconds(20);

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const std::size_t rank =
      std::min(values.size() - 1, static_cast<std::size_t>(p / 100.0 * values.size()));
  return values[rank];
}

// Records when each of B's log heads was published: the apply time of every entry up to
// it. Its own lock; called on B's committing thread.
class ApplyClock {
 public:
  void Published(uint64_t head) {
    MutexLock lock(&mu_);
    heads_.emplace_back(head, absl::Now());
    cv_.SignalAll();
  }
  // Waits until B's published head reaches `head`; false after `timeout`.
  bool WaitFor(uint64_t head, absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    MutexLock lock(&mu_);
    while (heads_.empty() || heads_.back().first < head) {
      if (cv_.WaitWithDeadline(&mu_, deadline)) return false;
    }
    return true;
  }
  // When entry `sequence` became visible.
  absl::Time AppliedAt(uint64_t sequence) {
    MutexLock lock(&mu_);
    for (const auto& [head, at] : heads_) {
      if (head >= sequence) return at;
    }
    return absl::InfiniteFuture();
  }

 private:
  Mutex mu_;
  CondVar cv_;
  std::vector<std::pair<uint64_t, absl::Time>> heads_;
};

struct Latencies {
  std::vector<double> from_ack_ms;
  std::vector<double> from_send_ms;
};

absl::StatusOr<Latencies> Measure(const BenchContext& context, const std::string& address,
                                  bool live, int samples, uint64_t origin_first_sequence,
                                  uint64_t first_index) {
  storage::StoreOptions store_options;
  absl::StatusOr<std::unique_ptr<TempStore>> b = TempStore::Open(store_options);
  if (!b.ok()) return b.status();
  storage::Store& store = (*b)->store();
  ApplyClock clock;
  const uint64_t listener = store.log().AddListener([&](uint64_t head) { clock.Published(head); });
  client::GrpcTransportOptions transport_options;
  transport_options.target = address;
  client::SyncConfig config;
  config.live_mode = live ? client::LiveMode::kOn : client::LiveMode::kOff;
  config.pull_interval = absl::Milliseconds(1000);  // the original's polling period
  config.batch_size = context.batch;
  client::SyncManager manager(
      &store, std::make_shared<client::GrpcSyncTransport>(transport_options), config);

  // Peer A: pushes its own changes one at a time.
  const std::string a = Workload::ActorId(live ? 5001 : 5002);
  auto stub = pb::SyncService::NewStub(NewChannel(address));
  if (absl::Status s = Handshake(*stub, a); !s.ok()) return s;
  uint64_t sequence = origin_first_sequence;
  uint64_t index = first_index;
  auto push_one = [&](absl::Time* sent, absl::Time* acked) -> absl::Status {
    pb::PushRequest request = context.workload.PushBatch(a, sequence++, index++, 1);
    pb::PushResponse response;
    *sent = absl::Now();
    grpc::Status status = stub->Push(CallContext().get(), request, &response);
    *acked = absl::Now();
    if (!status.ok()) return FromGrpc(status, "push");
    if (response.accepted() != 1) return absl::InternalError("push not accepted");
    return absl::OkStatus();
  };

  // B reads the hub's whole log and nothing of it is B's own: B's log is the hub's, entry
  // for entry, so the hub's head is what B's head must reach.
  auto hub_head = [&]() -> absl::StatusOr<uint64_t> { return HubHead(*stub, a); };
  if (absl::Status s = manager.Start(); !s.ok()) return s;
  // Warm up: B catches up with the log, and in live mode its stream is up, before any
  // sample is taken.
  for (int attempt = 0;; ++attempt) {
    absl::Time sent, acked;
    if (absl::Status s = push_one(&sent, &acked); !s.ok()) return s;
    absl::StatusOr<uint64_t> head = hub_head();
    if (!head.ok()) return head.status();
    if (!clock.WaitFor(*head, absl::Seconds(10))) {
      return absl::DeadlineExceededError("peer B did not apply the warm-up change");
    }
    if (!live || manager.status().live) break;
    if (attempt == 100) return absl::DeadlineExceededError("peer B's stream never came up");
  }
  absl::StatusOr<uint64_t> start_head = hub_head();
  if (!start_head.ok()) return start_head.status();
  const uint64_t b_first = *start_head + 1;  // B's log entry of the first sample
  std::vector<absl::Time> sent(samples), acked(samples);
  absl::Time next = absl::Now();
  for (int i = 0; i < samples; ++i) {
    // A steady, light rate: pacing, not synchronization.
    next += kPushPeriod;
    if (absl::Status s = push_one(&sent[i], &acked[i]); !s.ok()) return s;
    const absl::Duration left = next - absl::Now();
    if (left > absl::ZeroDuration()) absl::SleepFor(left);
  }
  if (!clock.WaitFor(b_first + samples - 1, absl::Seconds(10))) {
    return absl::DeadlineExceededError("peer B did not apply every sample");
  }
  manager.Stop();
  store.log().RemoveListener(listener);
  // B applies A's changes in A's order: B's log entry b_first + i is sample i. Check it.
  storage::ScanRequest scan;
  scan.after = b_first - 1;
  scan.max_changes = samples;
  absl::StatusOr<storage::ScanResult> logged = store.log().Scan(scan);
  if (!logged.ok()) return logged.status();
  Latencies out;
  for (int i = 0; i < samples; ++i) {
    const pb::SyncChange& change = logged->changes[i];
    if (change.source_instance() != a ||
        change.sequence() != sequence - samples + static_cast<uint64_t>(i)) {
      return absl::InternalError("peer B's log is not A's samples in order");
    }
    const absl::Time applied = clock.AppliedAt(change.log_sequence());
    out.from_ack_ms.push_back(absl::ToDoubleMilliseconds(applied - acked[i]));
    out.from_send_ms.push_back(absl::ToDoubleMilliseconds(applied - sent[i]));
  }
  return out;
}

}  // namespace

absl::Status ReportPropagation(const BenchContext& context, Report& report) {
  absl::StatusOr<std::unique_ptr<HubProcess>> hub =
      HubProcess::Start(context.hub_binary, {"--peer_rps=0"});
  if (!hub.ok()) return hub.status();
  if (absl::Status s = LoadHub((*hub)->address(), context.workload, Workload::ActorId(100), 0);
      !s.ok()) {
    return s;
  }
  double live_p99 = 0, polling_p99 = 0;
  uint64_t index = 0;
  for (const bool live : {true, false}) {
    absl::StatusOr<Latencies> latencies =
        Measure(context, (*hub)->address(), live, context.propagation_samples, 1, index);
    index += context.propagation_samples + 200;
    if (!latencies.ok()) return latencies.status();
    const std::string mode = live ? "live (Subscribe)" : "polling (Pull every 1000 ms)";
    const std::string note = absl::StrCat(context.propagation_samples, " changes, one every ",
                                          absl::FormatDuration(kPushPeriod));
    for (const auto& [name, p] :
         std::vector<std::pair<std::string, double>>{{"p50", 50}, {"p99", 99}, {"p99.9", 99.9}}) {
      const double value = Percentile(latencies->from_ack_ms, p);
      report.Add(absl::StrCat("propagation A ack -> B applied, ", mode, ", ", name), value, "ms",
                 name == "p50" ? note : "");
      if (name == "p99") (live ? live_p99 : polling_p99) = value;
    }
    report.Add(absl::StrCat("  same from A's send, ", mode, ", p50"),
               Percentile(latencies->from_send_ms, 50), "ms");
  }
  report.AddRatio("live propagation p99 (ms)", live_p99, 10, /*at_least=*/false,
                  absl::StrCat("polling p99: ", FormatValue(polling_p99), " ms"));
  return absl::OkStatus();
}

}  // namespace pulse::bench
