// BuildHubStatus (declared in sync_service.h): the hub's state as SyncAdmin.Status
// reports it and /metrics exports it (metrics_page.cc), so both show the same numbers.
#include <algorithm>

#include "absl/time/clock.h"
#include "server/sync_service.h"
#include "storage/keys.h"

namespace pulse::server {

namespace pb = pulsedb::sync::v1;

namespace {

// How long the first entry after `cursor` has been waiting; 0 when there is none.
absl::StatusOr<absl::Duration> OldestWaiting(HubContext& hub, uint64_t cursor, absl::Time now) {
  const storage::ChangeLog& log = hub.store().log();
  storage::ScanRequest scan;
  // Below the retained log (an expired peer's compacted cursor): the oldest entry left.
  scan.after = std::max(cursor, log.OldestRetained() - 1);
  scan.max_changes = 1;
  absl::StatusOr<storage::ScanResult> page = log.Scan(scan);
  if (!page.ok()) {
    // Compacted between the two reads: the peer is older than anything left, so ask again.
    if (page.status().code() != absl::StatusCode::kFailedPrecondition) return page.status();
    scan.after = log.OldestRetained() - 1;
    page = log.Scan(scan);
    if (!page.ok()) return page.status();
  }
  if (page->changes.empty()) return absl::ZeroDuration();
  return std::max(absl::ZeroDuration(), now - hub.commit_times().CommittedAt(page->changes[0]));
}

}  // namespace

absl::Status BuildHubStatus(HubContext& hub, pb::HubStatusResponse* response) {
  storage::Store& store = hub.store();
  const uint64_t head = store.log().Head();
  const absl::Time now = absl::Now();
  response->set_instance_id(hub.hub_id());
  response->set_head_sequence(head);
  response->set_oldest_sequence(store.log().OldestRetained());
  response->set_conflict_resolution(hub.options().conflict_resolution);
  response->mutable_limits()->set_max_batch_size(hub.options().max_batch_size);
  response->mutable_limits()->set_max_message_bytes(hub.options().max_message_bytes);
  response->set_subscribers(static_cast<uint32_t>(hub.lease().TotalOpenStreams()));
  for (pb::PeerInfo& peer : hub.peers().Snapshot()) {
    absl::StatusOr<std::optional<uint64_t>> served =
        store.GetCursor(peer.instance_id(), storage::CursorKind::kServed);
    if (!served.ok()) return served.status();
    const uint64_t cursor = served->value_or(0);
    peer.set_served_cursor(cursor);
    peer.set_lag(head > cursor ? head - cursor : 0);
    if (head > cursor) {
      absl::StatusOr<absl::Duration> waiting = OldestWaiting(hub, cursor, now);
      if (!waiting.ok()) return waiting.status();
      peer.set_lag_millis(static_cast<uint64_t>(absl::ToInt64Milliseconds(*waiting)));
    }
    absl::StatusOr<uint64_t> mark = store.OriginMark(peer.instance_id());
    if (!mark.ok()) return mark.status();
    peer.set_acknowledged_sequence(*mark);
    peer.set_expired(hub.lease().IsExpired(peer, now));
    // A peer on a live stream is in contact now, whenever it last sent a request.
    if (hub.lease().OpenStreams(peer.instance_id()) > 0) {
      peer.set_last_seen(absl::ToUnixMillis(now));
    }
    *response->add_peers() = std::move(peer);
  }
  std::sort(response->mutable_peers()->begin(), response->mutable_peers()->end(),
            [](const pb::PeerInfo& a, const pb::PeerInfo& b) {
              return a.instance_id() < b.instance_id();
            });
  return absl::OkStatus();
}

}  // namespace pulse::server
