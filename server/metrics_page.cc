#include "server/metrics_page.h"

#include <vector>

#include "server/process_stats.h"
#include "server/prometheus_text.h"
#include "server/sync_service.h"
#include "storage/ids.h"

namespace pulse::server {

namespace pb = pulsedb::sync::v1;

namespace {

bool IsObserver(const pb::PeerInfo& peer) {
  for (const std::string& c : peer.capabilities()) {
    if (c == "observe") return true;
  }
  return false;
}

}  // namespace

absl::StatusOr<std::string> RenderMetricsPage(HubContext& hub) {
  using Type = PrometheusText::Type;
  pb::HubStatusResponse status;
  if (absl::Status s = BuildHubStatus(hub, &status); !s.ok()) return s;
  absl::StatusOr<storage::Store::DiskUsage> disk = hub.store().GetDiskUsage();
  if (!disk.ok()) return disk.status();
  absl::StatusOr<ProcessStats> process = ReadProcessStats();
  if (!process.ok()) return process.status();

  PrometheusText out;
  out.Gauge("pulse_wal_head_sequence", "Sequence of the newest entry in the hub's change log.",
            static_cast<double>(status.head_sequence()));
  out.Gauge("pulse_wal_oldest_retained_sequence",
            "Oldest sequence still in the log (everything below was compacted away).",
            static_cast<double>(status.oldest_sequence()));
  out.Gauge("pulse_subscribers", "Open Subscribe streams.",
            static_cast<double>(status.subscribers()));

  std::vector<const pb::PeerInfo*> peers;
  for (const pb::PeerInfo& peer : status.peers()) {
    if (!IsObserver(peer)) peers.push_back(&peer);
  }
  auto per_peer = [&](const char* name, const char* help, auto value_of) {
    out.Family(name, Type::kGauge, help);
    for (const pb::PeerInfo* peer : peers) {
      out.Sample(name, {{"peer", storage::IdToText(peer->instance_id())}},
                 static_cast<double>(value_of(*peer)));
    }
  };
  per_peer("pulse_peer_served_cursor_sequence",
           "Hub log position the peer has acknowledged (its last Pull or Subscribe cursor).",
           [](const pb::PeerInfo& p) { return p.served_cursor(); });
  per_peer("pulse_peer_lag_changes", "Log entries after the peer's cursor (head - cursor).",
           [](const pb::PeerInfo& p) { return p.lag(); });
  per_peer("pulse_peer_lag_seconds",
           "Age of the oldest entry after the peer's cursor (0 when caught up).",
           [](const pb::PeerInfo& p) { return p.lag_millis() / 1000.0; });
  per_peer("pulse_peer_last_seen_timestamp_seconds",
           "Last contact with the peer, Unix time (now while it holds a Subscribe stream).",
           [&](const pb::PeerInfo& p) { return p.last_seen() / 1000.0; });
  per_peer("pulse_peer_subscribers", "Open Subscribe streams of the peer.",
           [&](const pb::PeerInfo& p) { return hub.lease().OpenStreams(p.instance_id()); });
  per_peer("pulse_peer_expired",
           "1 when the peer is idle beyond the peer lease: its cursor no longer holds "
           "compaction back.",
           [](const pb::PeerInfo& p) { return p.expired() ? 1 : 0; });
  out.Gauge("pulse_peer_lease_seconds", "Idle time after which a peer is expired (0 = never).",
            absl::ToDoubleSeconds(hub.lease().lease()));

  hub.metrics().Write(out);
  out.Family("pulse_log_pages_total", Type::kCounter,
             "Pages of the log served to Pull, read-ahead and Subscribe, by how: scanned, or "
             "shared (a page kept from another reader's scan of the same entries).");
  out.Sample("pulse_log_pages_total", {{"how", "scanned"}}, hub.pages().scans());
  out.Sample("pulse_log_pages_total", {{"how", "shared"}}, hub.pages().hits());
  out.Gauge("pulse_shared_pages_bytes", "Bytes of log pages kept to be shared.",
            static_cast<double>(hub.pages().held_bytes()));

  out.Counter("pulse_commit_groups_total",
              "Commit groups the hub's store staged to write (one RocksDB write each).",
              hub.store().CommitGroups());
  out.Counter("pulse_commit_groups_pipelined_total",
              "Commit groups staged while the group before them was still being written.",
              hub.store().PipelinedGroups());
  out.Counter("pulse_commit_stage_seconds_total",
              "Time spent staging commit groups (the per-change checks; one group at a time).",
              absl::ToDoubleSeconds(hub.store().CommitStageTime()));
  out.Counter("pulse_commit_write_seconds_total",
              "Time spent writing commit groups (RocksDB write and fsync; one group at a time).",
              absl::ToDoubleSeconds(hub.store().CommitWriteTime()));
  out.Gauge("pulse_push_gate_slots",
            "Pushes the hub parses and stages at once (--push_concurrency; one per core).",
            static_cast<double>(hub.push_gate().slots()));
  out.Counter("pulse_push_gate_wait_seconds_total",
              "Time pushes waited for a slot to parse and stage in: growing about as fast as "
              "the clock means pushes queue for the hub's CPU.",
              absl::ToDoubleSeconds(hub.push_gate().waited()));
  out.Gauge("pulse_rocksdb_live_data_size_bytes",
            "RocksDB's estimate of the live data in the hub's store "
            "(rocksdb.estimate-live-data-size).",
            static_cast<double>(disk->live_data_bytes));
  out.Gauge("pulse_rocksdb_pending_compaction_bytes",
            "Bytes RocksDB estimates its own compaction must rewrite "
            "(rocksdb.estimate-pending-compaction-bytes).",
            static_cast<double>(disk->pending_compaction_bytes));
  out.Gauge("pulse_process_resident_memory_bytes", "Resident memory of the hub process (VmRSS).",
            static_cast<double>(process->resident_bytes));
  out.Gauge("pulse_process_threads", "Threads of the hub process.",
            static_cast<double>(process->threads));
  return out.text();
}

}  // namespace pulse::server
