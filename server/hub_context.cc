#include "server/hub_context.h"

#include <utility>

#include "absl/time/clock.h"
#include "common/log.h"
#include "storage/ids.h"
#include "storage/keys.h"

namespace pulse::server {

HubContext::HubContext(HubOptions options, std::unique_ptr<storage::Store> store,
                       std::unique_ptr<PeerRegistry> peers, std::unique_ptr<Authorizer> authorizer)
    : options_(std::move(options)),
      store_(std::move(store)),
      peers_(std::move(peers)),
      authorizer_(std::move(authorizer)),
      limiter_(options_.peer_requests_per_second, options_.peer_request_burst,
               options_.peer_max_streams),
      push_gate_(options_.push_concurrency > 0 ? options_.push_concurrency
                                               : WorkGate::UsableCores()),
      hub_id_(store_->instance_id()),
      metrics_(std::make_unique<HubMetrics>()),
      lease_(std::make_unique<PeerLease>(options_.peer_lease, absl::Now())),
      commit_times_(std::make_unique<CommitTimes>(&store_->log())),
      pool_(std::make_unique<WorkPool>(options_.worker_threads)) {
  for (int i = 0; i < push_gate_.slots(); ++i) {
    push_parsers_.push_back(std::make_unique<ReceivedPush>());
  }
  SharedPages::Options shared;
  shared.max_bytes = options_.shared_pages_bytes;
  shared.together = options_.shared_pages_together;
  pages_ = std::make_unique<SharedPages>(&store_->log(), std::move(shared));
  read_ahead_ = std::make_unique<PullReadAhead>(&store_->log(), pages_.get(), pool_.get(),
                                                options_.pull_read_ahead_bytes);
  // One listener for all streams: a commit wakes each (cheaply: they schedule work).
  log_listener_ = store_->log().AddListener(
      [this](uint64_t) { ForEachStream([](LiveStream& s) { s.OnLogAdvanced(); }); });
}

HubContext::~HubContext() {
  store_->log().RemoveListener(log_listener_);
  pool_.reset();  // drain queued work before the store goes
}

void HubContext::RecordServed(const std::string& peer, uint64_t sequence) {
  if (peers_->IsObserver(peer)) return;
  // Not fsynced on its own: a served cursor lost to a power failure is only older, and an
  // older one makes compaction keep more. (An fsync per Pull page halved Pull delivery:
  // docs/benchmarks.md.)
  absl::StatusOr<uint64_t> served =
      store_->AdvanceCursor(peer, storage::CursorKind::kServed, sequence, /*durable=*/false);
  if (!served.ok()) {
    Log(LogLevel::kWarning, "served_cursor_not_recorded",
        {{"peer", storage::IdToText(peer)}, {"error", served.status().ToString()}});
  }
}

void HubContext::AddStream(const std::shared_ptr<LiveStream>& stream) {
  MutexLock lock(&mu_);
  streams_[stream.get()] = stream;
  ++streams_alive_;
}

void HubContext::StreamDone() {
  MutexLock lock(&mu_);
  if (--streams_alive_ == 0) idle_cv_.SignalAll();
}

bool HubContext::WaitForStreamsDone(absl::Time deadline) {
  MutexLock lock(&mu_);
  while (streams_alive_ > 0) {
    if (idle_cv_.WaitWithDeadline(&mu_, deadline)) break;
  }
  return streams_alive_ == 0;
}

void HubContext::RemoveStream(const LiveStream* stream) {
  MutexLock lock(&mu_);
  streams_.erase(stream);
}

int HubContext::stream_count() const {
  MutexLock lock(&mu_);
  return static_cast<int>(streams_.size());
}

void HubContext::ForEachStream(const std::function<void(LiveStream&)>& fn) {
  std::vector<std::shared_ptr<LiveStream>> live;
  {
    MutexLock lock(&mu_);
    live.reserve(streams_.size());
    for (const auto& [key, weak] : streams_) {
      if (std::shared_ptr<LiveStream> s = weak.lock()) live.push_back(std::move(s));
    }
  }
  for (const std::shared_ptr<LiveStream>& s : live) fn(*s);
}

void HubContext::BeginCall() {
  MutexLock lock(&mu_);
  ++in_flight_;
}

void HubContext::EndCall() {
  MutexLock lock(&mu_);
  if (--in_flight_ == 0) idle_cv_.SignalAll();
}

int HubContext::in_flight() const {
  MutexLock lock(&mu_);
  return in_flight_;
}

bool HubContext::WaitForIdle(absl::Time deadline) {
  MutexLock lock(&mu_);
  while (in_flight_ > 0) {
    if (idle_cv_.WaitWithDeadline(&mu_, deadline)) break;
  }
  return in_flight_ == 0;
}

void HubContext::StopAcceptingStreams() {
  MutexLock lock(&mu_);
  accepting_ = false;
}

bool HubContext::accepting_streams() const {
  MutexLock lock(&mu_);
  return accepting_;
}

}  // namespace pulse::server
