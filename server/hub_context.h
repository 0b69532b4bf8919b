// HubContext: what all RPC handlers of one hub share: its options, store, peer registry,
// worker pool and the open streams. Owned by Hub; outlives every RPC. Thread-safe.
#ifndef PULSESYNC_SERVER_HUB_CONTEXT_H_
#define PULSESYNC_SERVER_HUB_CONTEXT_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "common/mutex.h"
#include "server/authorizer.h"
#include "server/commit_times.h"
#include "server/hub_options.h"
#include "server/metrics.h"
#include "server/peer_lease.h"
#include "server/peer_limiter.h"
#include "server/peer_registry.h"
#include "server/pull_read_ahead.h"
#include "server/received_push.h"
#include "server/shared_pages.h"
#include "server/work_gate.h"
#include "server/work_pool.h"
#include "storage/store.h"

namespace pulse::server {

// A long-lived server stream the hub drives: woken when the log grows, ticked for
// heartbeats, closed at shutdown.
class LiveStream {
 public:
  virtual ~LiveStream() = default;
  virtual void OnLogAdvanced() = 0;
  virtual void OnTick(absl::Time now) = 0;
  // Ends the stream with `status` (at shutdown: UNAVAILABLE, so peers reconnect).
  virtual void Close(const absl::Status& status) = 0;
};

class HubContext {
 public:
  HubContext(HubOptions options, std::unique_ptr<storage::Store> store,
             std::unique_ptr<PeerRegistry> peers, std::unique_ptr<Authorizer> authorizer);
  ~HubContext();

  const HubOptions& options() const { return options_; }
  storage::Store& store() { return *store_; }
  PeerRegistry& peers() { return *peers_; }
  const Authorizer& authorizer() const { return *authorizer_; }
  PeerLimiter& limiter() { return limiter_; }
  WorkPool& pool() { return *pool_; }
  // Every push's parse and staging passes through it (options().push_concurrency slots).
  WorkGate& push_gate() { return push_gate_; }
  // A parser per slot of push_gate(), for a holder of that slot: a PushStream parses and
  // stages each request within one pass, so a few parsers, their arena blocks warm,
  // serve every stream.
  ReceivedPush& push_parser(const WorkGate::Pass& pass) { return *push_parsers_[pass.slot()]; }
  const std::string& hub_id() const { return hub_id_; }
  // Observability: event counters, which peers are expired, when entries were committed.
  HubMetrics& metrics() { return *metrics_; }
  PeerLease& lease() { return *lease_; }
  const CommitTimes& commit_times() const { return *commit_times_; }
  PullReadAhead& read_ahead() { return *read_ahead_; }
  // Every Pull, read-ahead and Subscribe page is read through it.
  SharedPages& pages() { return *pages_; }

  // Records that `peer` has acknowledged the log up to `sequence` (forward only), which
  // holds compaction there; observers are not recorded. Errors are logged, not returned:
  // a missed update only makes compaction more conservative. For the same reason the
  // write is not fsynced on its own (it is durable with the next synced commit).
  void RecordServed(const std::string& peer, uint64_t sequence);

  // Streams register themselves on start and leave in OnDone; StreamDone is the last
  // thing an OnDone does with this context (it may run on a gRPC thread after the
  // server's Wait returned: shutdown waits for it with WaitForStreamsDone).
  void AddStream(const std::shared_ptr<LiveStream>& stream);
  void RemoveStream(const LiveStream* stream);
  void StreamDone();
  // Waits until every stream ever added has called StreamDone; false if the deadline
  // passed first.
  bool WaitForStreamsDone(absl::Time deadline);
  int stream_count() const;
  // Calls `fn` on every open stream (outside the registry lock).
  void ForEachStream(const std::function<void(LiveStream&)>& fn);
  // Unary calls whose work is queued or running (see sync_service.cc RunOnPool).
  void BeginCall();
  void EndCall();
  int in_flight() const;
  // Waits until no unary call is in flight; false if the deadline passed first.
  bool WaitForIdle(absl::Time deadline);

  // Refuses new streams from now on (shutdown).
  void StopAcceptingStreams();
  bool accepting_streams() const;

 private:
  const HubOptions options_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<PeerRegistry> peers_;
  std::unique_ptr<Authorizer> authorizer_;
  PeerLimiter limiter_;
  WorkGate push_gate_;
  std::vector<std::unique_ptr<ReceivedPush>> push_parsers_;  // one per push_gate_ slot
  const std::string hub_id_;
  uint64_t log_listener_ = 0;

  mutable Mutex mu_;
  absl::flat_hash_map<const LiveStream*, std::weak_ptr<LiveStream>> streams_ ABSL_GUARDED_BY(mu_);
  bool accepting_ ABSL_GUARDED_BY(mu_) = true;
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  int streams_alive_ ABSL_GUARDED_BY(mu_) = 0;  // added and not yet done
  CondVar idle_cv_;

  std::unique_ptr<HubMetrics> metrics_;
  std::unique_ptr<PeerLease> lease_;
  std::unique_ptr<CommitTimes> commit_times_;
  // Before the pool: its queued scans use them.
  std::unique_ptr<SharedPages> pages_;
  std::unique_ptr<PullReadAhead> read_ahead_;

  // Last: destroyed first, so queued work finishes while the rest still exists.
  std::unique_ptr<WorkPool> pool_;
};

}  // namespace pulse::server

#endif  // PULSESYNC_SERVER_HUB_CONTEXT_H_
