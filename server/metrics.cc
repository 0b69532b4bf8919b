#include "server/metrics.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "common/status_payloads.h"

namespace pulse::server {

const char* RpcMethodName(RpcMethod method) {
  switch (method) {
    case RpcMethod::kHandshake:
      return "Handshake";
    case RpcMethod::kPush:
      return "Push";
    case RpcMethod::kPull:
      return "Pull";
    case RpcMethod::kSubscribe:
      return "Subscribe";
    case RpcMethod::kSnapshot:
      return "Snapshot";
    case RpcMethod::kStatus:
      return "Status";
    case RpcMethod::kCompact:
      return "Compact";
  }
  return "unknown";
}

absl::string_view RefusalReason(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return "none";
    case absl::StatusCode::kUnauthenticated:
      return "unauthenticated";
    case absl::StatusCode::kPermissionDenied:
      return "permission_denied";
    case absl::StatusCode::kFailedPrecondition:
      if (OldestRetainedOf(status).has_value()) return "cursor_compacted";
      if (PeerChangedResponderOf(status).has_value()) return "peer_changed";
      // peer_registry.cc: "unknown peer <id>: call Handshake before anything else".
      if (absl::StartsWith(status.message(), "unknown peer")) return "unknown_peer";
      return "other";
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return "invalid_request";
    case absl::StatusCode::kResourceExhausted:
      return ChangeTooLargeOf(status).has_value() ? "change_too_large" : "over_limit";
    case absl::StatusCode::kUnavailable:
      return "unavailable";
    case absl::StatusCode::kCancelled:
    case absl::StatusCode::kDeadlineExceeded:
      return "cancelled";
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kDataLoss:
    case absl::StatusCode::kUnknown:
      return "internal";
    default:
      return "other";
  }
}

HubMetrics::HubMetrics()
    : push_seconds_(LatencyBucketsSeconds()),
      pull_seconds_(LatencyBucketsSeconds()),
      delivery_seconds_(DeliveryBucketsSeconds()) {}

void HubMetrics::RecordCall(RpcMethod method, const absl::Status& status, absl::Duration elapsed) {
  const double seconds = absl::ToDoubleSeconds(elapsed);
  if (method == RpcMethod::kPush) push_seconds_.Observe(seconds);
  if (method == RpcMethod::kPull) pull_seconds_.Observe(seconds);
  if (!status.ok()) {
    RecordRefusal(method, status);
    return;
  }
  if (method == RpcMethod::kPush) pushes_.fetch_add(1, std::memory_order_relaxed);
  if (method == RpcMethod::kPull) pulls_.fetch_add(1, std::memory_order_relaxed);
}

void HubMetrics::RecordRefusal(RpcMethod method, const absl::Status& status) {
  if (status.ok()) return;
  MutexLock lock(&mu_);
  ++refusals_[{RpcMethodName(method), absl::StatusCodeToString(status.code()),
               std::string(RefusalReason(status))}];
}

void HubMetrics::RecordProtocolMismatch() {
  MutexLock lock(&mu_);
  ++refusals_[{RpcMethodName(RpcMethod::kHandshake), "OK", "protocol_version"}];
}

void HubMetrics::RecordPushedChanges(const storage::ApplyReport& report) {
  pushed_applied_.fetch_add(report.applied, std::memory_order_relaxed);
  pushed_duplicates_.fetch_add(report.duplicates, std::memory_order_relaxed);
  pushed_skipped_.fetch_add(report.skipped, std::memory_order_relaxed);
  pushed_conflicts_.fetch_add(report.conflicts, std::memory_order_relaxed);
  pushed_rejected_.fetch_add(report.rejected, std::memory_order_relaxed);
}

void HubMetrics::RecordPullPageReadAhead() {
  pull_pages_read_ahead_.fetch_add(1, std::memory_order_relaxed);
}

void HubMetrics::RecordPulledChanges(uint64_t changes) {
  pulled_changes_.fetch_add(changes, std::memory_order_relaxed);
}

void HubMetrics::RecordDelivered(const std::vector<absl::Time>& commits, absl::Time written) {
  delivered_changes_.fetch_add(commits.size(), std::memory_order_relaxed);
  for (absl::Time commit : commits) {
    // A change stamped by an origin clock ahead of ours counts as delivered at once.
    delivery_seconds_.Observe(std::max(0.0, absl::ToDoubleSeconds(written - commit)));
  }
}

void HubMetrics::RecordCompaction(uint64_t removed_entries) {
  compaction_runs_.fetch_add(1, std::memory_order_relaxed);
  compaction_removed_.fetch_add(removed_entries, std::memory_order_relaxed);
}

void HubMetrics::Write(PrometheusText& out) const {
  using Type = PrometheusText::Type;
  auto load = [](const std::atomic<uint64_t>& v) { return v.load(std::memory_order_relaxed); };
  out.Counter("pulse_pushes_total",
              "Push calls accepted (refused ones are in pulse_refusals_total).", load(pushes_));
  out.Counter("pulse_pulls_total",
              "Pull calls answered (refused ones are in pulse_refusals_total).", load(pulls_));
  out.Family("pulse_pushed_changes_total", Type::kCounter,
             "Changes received in accepted pushes, by what the hub did with them: applied "
             "(new), duplicate (applied before), skipped (no effect), conflict (lost the "
             "conflict rule), rejected (the first failure and everything after it).");
  const std::pair<const char*, const std::atomic<uint64_t>*> results[] = {
      {"applied", &pushed_applied_},
      {"duplicate", &pushed_duplicates_},
      {"skipped", &pushed_skipped_},
      {"conflict", &pushed_conflicts_},
      {"rejected", &pushed_rejected_}};
  for (const auto& [result, counter] : results) {
    out.Sample("pulse_pushed_changes_total", {{"result", result}}, load(*counter));
  }
  out.Counter("pulse_pulled_changes_total", "Changes returned by Pull calls.",
              load(pulled_changes_));
  out.Counter("pulse_pull_pages_read_ahead_total",
              "Pull pages served from read-ahead (scanned while the peer handled the previous "
              "page) instead of scanned on request.",
              load(pull_pages_read_ahead_));
  out.Counter("pulse_delivered_changes_total", "Changes written on Subscribe streams.",
              load(delivered_changes_));
  out.Family("pulse_refusals_total", Type::kCounter,
             "Calls answered with an error (or a handshake not accepted), by method, gRPC "
             "code and a short fixed reason.");
  {
    MutexLock lock(&mu_);
    for (const auto& [key, count] : refusals_) {
      const auto& [method, code, reason] = key;
      out.Sample("pulse_refusals_total", {{"method", method}, {"code", code}, {"reason", reason}},
                 count);
    }
  }
  out.Family("pulse_push_duration_seconds", Type::kHistogram,
             "Time from a Push call's arrival to its reply (refused calls included).");
  push_seconds_.Write(out, "pulse_push_duration_seconds");
  out.Family("pulse_pull_duration_seconds", Type::kHistogram,
             "Time from a Pull call's arrival to its reply (refused calls included).");
  pull_seconds_.Write(out, "pulse_pull_duration_seconds");
  out.Family("pulse_subscribe_delivery_seconds", Type::kHistogram,
             "Per change written on a Subscribe stream: time from its commit in the hub's log "
             "to the completed write of the event carrying it (catch-up included).");
  delivery_seconds_.Write(out, "pulse_subscribe_delivery_seconds");
  out.Counter("pulse_compaction_runs_total", "Compactions of the log (timer and admin).",
              load(compaction_runs_));
  out.Counter("pulse_compaction_removed_entries_total", "Log entries removed by compaction.",
              load(compaction_removed_));
}

}  // namespace pulse::server
