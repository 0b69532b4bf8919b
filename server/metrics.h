// HubMetrics: the hub's event counters and latency histograms, recorded by the handlers
// as things happen and written on every scrape of /metrics (metrics_page.h adds the
// gauges read from the hub's state at scrape time). Names follow Prometheus conventions:
// a `pulse_` prefix, units in names, counters ending in `_total`. Labels are bounded:
// `method` is a SyncService/SyncAdmin method, `code` a gRPC status code name, `reason` one
// of the short fixed categories of RefusalReason. Every metric is listed in
// docs/operations.md. Thread-safe; recording never blocks on I/O.
#ifndef PULSESYNC_SERVER_METRICS_H_
#define PULSESYNC_SERVER_METRICS_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/mutex.h"
#include "server/histogram.h"
#include "server/prometheus_text.h"
#include "storage/store.h"

namespace pulse::server {

enum class RpcMethod { kHandshake, kPush, kPull, kSubscribe, kSnapshot, kStatus, kCompact };
// The gRPC method name: "Handshake", "Push", ...
const char* RpcMethodName(RpcMethod method);

// A short fixed category for why a call was refused (never the message: it would make
// the label unbounded): unauthenticated, permission_denied, unknown_peer, peer_changed,
// cursor_compacted, protocol_version, invalid_request, change_too_large, over_limit,
// unavailable, cancelled, internal, other.
absl::string_view RefusalReason(const absl::Status& status);

class HubMetrics {
 public:
  HubMetrics();

  // A unary call's outcome and its time from arrival to reply: counts accepted Push and
  // Pull calls, refusals of every method, and Push/Pull latency (refused calls included).
  void RecordCall(RpcMethod method, const absl::Status& status, absl::Duration elapsed);
  // A refusal outside RecordCall (streams). OK statuses are ignored.
  void RecordRefusal(RpcMethod method, const absl::Status& status);
  // A handshake answered `accepted: false` (protocol version): an OK reply, still a refusal.
  void RecordProtocolMismatch();
  // What a Push did with its changes.
  void RecordPushedChanges(const storage::ApplyReport& report);
  // Changes a Pull returned.
  void RecordPulledChanges(uint64_t changes);
  // A Pull page was served from read-ahead (pull_read_ahead.h) rather than scanned.
  void RecordPullPageReadAhead();
  uint64_t pull_pages_read_ahead() const { return pull_pages_read_ahead_.load(); }
  // A Subscribe event was written at `written`; `commits` holds when each of its changes
  // was committed (CommitTimes::CommittedAt). Observes `written - commit` per change.
  void RecordDelivered(const std::vector<absl::Time>& commits, absl::Time written);
  // One compaction run.
  void RecordCompaction(uint64_t removed_entries);

  // Appends every family (counters at 0 included, so rates work from the first scrape).
  void Write(PrometheusText& out) const;

 private:
  std::atomic<uint64_t> pushes_{0};
  std::atomic<uint64_t> pulls_{0};
  std::atomic<uint64_t> pushed_applied_{0};
  std::atomic<uint64_t> pushed_duplicates_{0};
  std::atomic<uint64_t> pushed_skipped_{0};
  std::atomic<uint64_t> pushed_conflicts_{0};
  std::atomic<uint64_t> pushed_rejected_{0};
  std::atomic<uint64_t> pulled_changes_{0};
  std::atomic<uint64_t> pull_pages_read_ahead_{0};
  std::atomic<uint64_t> delivered_changes_{0};
  std::atomic<uint64_t> compaction_runs_{0};
  std::atomic<uint64_t> compaction_removed_{0};
  Histogram push_seconds_;
  Histogram pull_seconds_;
  Histogram delivery_seconds_;

  mutable Mutex mu_;
  // (method, code, reason) -> count; bounded by the fixed sets of each.
  std::map<std::tuple<std::string, std::string, std::string>, uint64_t> refusals_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace pulse::server

#endif  // PULSESYNC_SERVER_METRICS_H_
