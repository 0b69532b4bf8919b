#include "tools/bench/idle_subscribers.h"

#include <atomic>
#include <thread>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/mutex.h"
#include "tools/bench/bench_client.h"
#include "tools/bench/hub_process.h"

namespace pulse::bench {

namespace pb = pulsedb::sync::v1;

namespace {

constexpr int kConnections = 16;
constexpr absl::Duration kIdleWindow = absl::Seconds(10);

// Counts streams that got their first event, events that carried changes, and streams
// that ended.
class Tally {
 public:
  void Started() { Bump(&started_); }
  void Delivered() { Bump(&delivered_); }
  void Ended() { Bump(&ended_); }
  bool WaitStarted(int n, absl::Duration timeout) { return Wait(&started_, n, timeout); }
  bool WaitDelivered(int n, absl::Duration timeout) { return Wait(&delivered_, n, timeout); }
  bool WaitEnded(int n, absl::Duration timeout) { return Wait(&ended_, n, timeout); }
  int delivered() {
    MutexLock lock(&mu_);
    return delivered_;
  }

 private:
  void Bump(int* counter) {
    MutexLock lock(&mu_);
    ++*counter;
    cv_.SignalAll();
  }
  bool Wait(int* counter, int n, absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    MutexLock lock(&mu_);
    while (*counter < n) {
      if (cv_.WaitWithDeadline(&mu_, deadline)) return *counter >= n;
    }
    return true;
  }
  Mutex mu_;
  CondVar cv_;
  int started_ = 0;
  int delivered_ = 0;
  int ended_ = 0;
};

// One subscribed peer: reads events (the first, then heartbeats) until cancelled.
class IdleSubscriber final : public grpc::ClientReadReactor<pb::SubscribeEvent> {
 public:
  IdleSubscriber(pb::SyncService::Stub* stub, const std::string& peer_id, uint64_t cursor,
                 Tally* tally)
      : tally_(tally) {
    request_.set_source_instance(peer_id);
    request_.mutable_cursor()->set_last_sequence(cursor);
    stub->async()->Subscribe(&context_, &request_, this);
    StartRead(&event_);
    StartCall();
  }
  void OnReadDone(bool ok) override {
    if (!ok) return;  // OnDone follows
    if (!started_) {
      started_ = true;
      tally_->Started();
    }
    if (event_.changes_size() > 0) tally_->Delivered();
    StartRead(&event_);
  }
  void OnDone(const grpc::Status&) override { tally_->Ended(); }
  void Cancel() { context_.TryCancel(); }

 private:
  Tally* const tally_;
  grpc::ClientContext context_;
  pb::SubscribeRequest request_;
  pb::SubscribeEvent event_;
  bool started_ = false;
};

struct HubSample {
  ProcessStats stats;
  double cpu_percent = 0;  // over the idle window
};

absl::StatusOr<HubSample> SampleIdle(HubProcess& hub) {
  absl::StatusOr<ProcessStats> before = hub.Stats();
  if (!before.ok()) return before.status();
  // A measurement window, not synchronization: the hub's idle CPU over it.
  absl::SleepFor(kIdleWindow);
  absl::StatusOr<ProcessStats> after = hub.Stats();
  if (!after.ok()) return after.status();
  HubSample sample;
  sample.stats = *after;
  sample.cpu_percent =
      100.0 * (after->cpu_seconds - before->cpu_seconds) / absl::ToDoubleSeconds(kIdleWindow);
  return sample;
}

// Pushes experience number `n` (from 1 on) as the loader, after the collectives it created.
absl::Status PushOne(pb::SyncService::Stub& stub, const Workload& workload, uint64_t n) {
  const std::string loader = Workload::ActorId(100);
  const pb::PushRequest request =
      workload.PushBatch(loader, workload.collectives().size() + n, n, 1);
  pb::PushResponse response;
  if (absl::Status s = FromGrpc(stub.Push(CallContext().get(), request, &response), "push");
      !s.ok()) {
    return s;
  }
  if (response.accepted() != 1) return absl::InternalError("the fan-out push was not accepted");
  return absl::OkStatus();
}

}  // namespace

absl::Status ReportIdleSubscribers(const BenchContext& context, Report& report) {
  // The idle figures do not depend on fsync; --sync=false only makes 10,000 handshakes
  // (each persists the peer) quicker to set up.
  absl::StatusOr<std::unique_ptr<HubProcess>> hub = HubProcess::Start(
      context.hub_binary, {"--peer_rps=0", "--sync=false", "--heartbeat_interval=5s"});
  if (!hub.ok()) return hub.status();
  const std::string address = (*hub)->address();
  if (absl::Status s = LoadHub(address, context.workload, Workload::ActorId(100), 0); !s.ok()) {
    return s;
  }
  const uint64_t head = context.workload.collectives().size();
  std::vector<std::unique_ptr<pb::SyncService::Stub>> stubs;
  for (int c = 0; c < kConnections; ++c) {
    stubs.push_back(pb::SyncService::NewStub(NewChannel(address)));
  }
  absl::StatusOr<HubSample> empty = SampleIdle(**hub);
  if (!empty.ok()) return empty.status();
  report.Add(
      "idle hub, 0 subscribers: RSS", empty->stats.rss_bytes / 1048576.0, "MiB",
      absl::StrCat(empty->stats.threads, " threads, CPU ", FormatValue(empty->cpu_percent), "%"));

  Tally tally;
  uint64_t fanned_out = 0;  // changes pushed to every subscriber so far
  std::vector<std::unique_ptr<IdleSubscriber>> subscribers;
  // Every stream ends before its reactor goes, whatever path leaves this function.
  absl::Cleanup end_streams = [&] {
    for (auto& s : subscribers) s->Cancel();
    tally.WaitEnded(static_cast<int>(subscribers.size()), absl::Minutes(2));
  };
  for (const int target : context.idle_subscribers) {
    // Handshakes from a few threads, then one stream per peer.
    const int first = static_cast<int>(subscribers.size());
    std::vector<absl::Status> results(kConnections);
    std::vector<std::thread> threads;
    for (int c = 0; c < kConnections; ++c) {
      threads.emplace_back([&, c] {
        for (int i = first + c; i < target; i += kConnections) {
          absl::Status s = Handshake(*stubs[c], Workload::ActorId(100000 + i));
          if (!s.ok()) {
            results[c] = s;
            return;
          }
        }
      });
    }
    for (std::thread& t : threads) t.join();
    for (const absl::Status& s : results) {
      if (!s.ok()) return s;
    }
    for (int i = first; i < target; ++i) {
      subscribers.push_back(std::make_unique<IdleSubscriber>(
          stubs[i % kConnections].get(), Workload::ActorId(100000 + i), head + fanned_out, &tally));
    }
    if (!tally.WaitStarted(target, absl::Minutes(5))) {
      return absl::DeadlineExceededError("not every subscriber got its first event");
    }
    absl::StatusOr<HubSample> sample = SampleIdle(**hub);
    if (!sample.ok()) return sample.status();
    const double rss_mib = sample->stats.rss_bytes / 1048576.0;
    report.Add(absl::StrCat("idle hub, ", target, " subscribers: RSS"), rss_mib, "MiB",
               absl::StrCat(FormatValue((sample->stats.rss_bytes - empty->stats.rss_bytes) /
                                        1024.0 / target),
                            " KiB per subscriber over the empty hub"));
    report.Add(absl::StrCat("idle hub, ", target, " subscribers: threads"), sample->stats.threads,
               "threads");
    report.Add(absl::StrCat("idle hub, ", target, " subscribers: CPU"), sample->cpu_percent,
               "% of one core", "heartbeats every 5 s");

    // Fan-out: one change pushed while every subscriber waits at the head.
    absl::StatusOr<ProcessStats> before = (*hub)->Stats();
    if (!before.ok()) return before.status();
    const int delivered_before = tally.delivered();
    const absl::Time pushed_at = absl::Now();
    if (absl::Status s = PushOne(*stubs[0], context.workload, ++fanned_out); !s.ok()) return s;
    if (!tally.WaitDelivered(delivered_before + target, absl::Minutes(2))) {
      return absl::DeadlineExceededError("a pushed change did not reach every subscriber");
    }
    const absl::Duration fan_out = absl::Now() - pushed_at;
    absl::StatusOr<ProcessStats> after = (*hub)->Stats();
    if (!after.ok()) return after.status();
    report.Add(absl::StrCat("one change pushed to ", target, " subscribers: all have it"),
               absl::ToDoubleMilliseconds(fan_out), "ms",
               absl::StrCat("hub CPU ",
                            FormatValue((after->cpu_seconds - before->cpu_seconds) * 1e6 / target),
                            " us per subscriber (push included)"));
  }
  return absl::OkStatus();
}

}  // namespace pulse::bench
