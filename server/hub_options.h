// HubOptions: everything a hub can be told, with documented defaults, checked in one
// Validate(). A plain value type; thread-compatible.
#ifndef PULSESYNC_SERVER_HUB_OPTIONS_H_
#define PULSESYNC_SERVER_HUB_OPTIONS_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "pulsedb/sync/v1/sync.pb.h"
#include "rocksdb/file_system.h"

namespace pulse::server {

// The only protocol version this hub speaks (pulsedb.sync.v1).
inline constexpr uint32_t kProtocolVersion = 1;
// Bounds from the original's later releases.
inline constexpr uint64_t kMinMessageBytes = 1024;
inline constexpr int kMaxCapabilities = 8;
inline constexpr std::size_t kMaxCapabilityBytes = 64;
inline constexpr std::size_t kMaxReasonBytes = 256;

struct HubOptions {
  // host:port to listen on; port 0 picks a free one (see Hub::port()).
  std::string listen_address = "127.0.0.1:7070";
  // RocksDB directory of the hub's own store; created if missing.
  std::string data_dir = "./pulse-data";
  // fsync every commit before acknowledging a push. false is faster and survives a crash
  // of the process, not of the machine.
  bool sync_writes = true;
  // Most changes one Push may carry; a Pull asking for more gets this many.
  uint32_t max_batch_size = 1000;
  // Largest request accepted and largest reply sent (gRPC message limits).
  uint64_t max_message_bytes = 64ull << 20;
  // How conflicting updates resolve; peers must be configured the same way.
  pulsedb::sync::v1::ConflictResolution conflict_resolution =
      pulsedb::sync::v1::CONFLICT_RESOLUTION_SERVER_WINS;
  // Compaction by the minimum peer cursor runs this often (0 = never automatically).
  absl::Duration compaction_interval = absl::Minutes(5);
  // Compaction always keeps at least this many newest log entries.
  uint64_t retain_min_entries = 10000;
  // A Subscribe stream with nothing to send sends an empty event this often.
  absl::Duration heartbeat_interval = absl::Seconds(5);
  // Threads for storage work (pushes, pulls, stream fills); gRPC's own threads never block.
  int worker_threads = 8;
  // Pushes parsed and staged at once, however many are in flight (work_gate.h): the
  // CPU-heavy part of a push; 0 = one per core the process may run on.
  int push_concurrency = 0;
  // Memtable flushes and compactions bypass the page cache (storage::StoreOptions::
  // direct_io_for_flush): less CPU under sustained ingest; each flushed log table is read
  // back into the page cache in the background (storage/flushed_log_prefetch.h).
  bool direct_io_flush = false;
  // Memory for Pull pages scanned ahead while peers page through the log
  // (pull_read_ahead.h); 0 = no read-ahead.
  std::size_t pull_read_ahead_bytes = 64ull << 20;
  // Memory for log pages kept to serve every peer that reads the same entries with the
  // same limits (shared_pages.h); 0 = each read scans its own page.
  std::size_t shared_pages_bytes = 64ull << 20;
  // How close in time reads by two peers must come for pages to be kept (no flag).
  absl::Duration shared_pages_together = absl::Milliseconds(100);
  // Bearer tokens and their collectives (authorizer.h); empty = no authentication.
  std::string auth_token_file;
  // TLS: the hub's certificate chain and private key (PEM files); both or neither. With a
  // client CA, peers must also present a certificate it signed (mutual TLS).
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_client_ca_file;
  // Per-peer limits (peer_limiter.h); 0 = unlimited.
  double peer_requests_per_second = 1000;
  double peer_request_burst = 2000;
  int peer_max_streams = 16;
  // RocksDB's file system; nullptr = the default. Tests inject a full disk here.
  std::shared_ptr<rocksdb::FileSystem> file_system;
  // How long shutdown waits for in-flight calls before cancelling them.
  absl::Duration shutdown_grace = absl::Seconds(5);
  // IPv4:port of the Prometheus /metrics page (HTTP); port 0 picks a free one (see
  // Hub::metrics_port()); empty = no metrics endpoint.
  std::string metrics_listen_address = "127.0.0.1:7071";
  // A peer not seen for longer than this (and with no open Subscribe stream) is expired:
  // reported as such, and its cursor no longer holds compaction back. 0 = never.
  absl::Duration peer_lease = absl::Hours(24 * 7);

  // INVALID_ARGUMENT naming the first bad option.
  absl::Status Validate() const;
};

}  // namespace pulse::server

#endif  // PULSESYNC_SERVER_HUB_OPTIONS_H_
