// pulse_hub: the PulseSync hub. Peers push their changes here and pull or subscribe to
// everyone else's. SIGINT/SIGTERM stop it cleanly (exit 0).
#include <signal.h>

#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/command_line.h"
#include "common/log.h"
#include "server/allocator_tuning.h"
#include "server/hub.h"
#include "server/library_logs.h"
#include "storage/ids.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:7070",
          "host:port to serve gRPC on (port 0 picks a free port)");
ABSL_FLAG(std::string, data_dir, "./pulse-data",
          "directory of the hub's RocksDB store; created if missing");
ABSL_FLAG(bool, sync, true,
          "fsync every commit before acknowledging a push; --sync=false survives a process "
          "crash but not a power loss, and is faster");
ABSL_FLAG(uint32_t, max_batch_size, 1000,
          "most changes one Push may carry; larger Pull requests are capped to it");
ABSL_FLAG(uint64_t, max_message_bytes, 64ull << 20,
          "largest request accepted and reply sent, in bytes (at least 1024)");
ABSL_FLAG(std::string, conflict_resolution, "server-wins",
          "how conflicting updates resolve: server-wins (the hub's order) or "
          "last-write-wins (timestamp, then origin id); peers must match");
ABSL_FLAG(absl::Duration, compaction_interval, absl::Minutes(5),
          "how often to compact the change log by the minimum peer cursor (0 = never)");
ABSL_FLAG(uint64_t, retain_min_entries, 10000,
          "compaction always keeps at least this many newest log entries");
ABSL_FLAG(absl::Duration, heartbeat_interval, absl::Seconds(5),
          "idle Subscribe streams get an empty event this often");
ABSL_FLAG(int, worker_threads, 8, "threads for storage work (pushes, pulls, stream reads)");
ABSL_FLAG(uint64_t, malloc_keep_free_mb, 256,
          "freed memory malloc keeps for reuse rather than handing back to the kernel "
          "(0 = glibc's defaults; see server/allocator_tuning.h)");
ABSL_FLAG(bool, direct_io_flush, false,
          "write memtable flushes and compactions with O_DIRECT, bypassing the page cache "
          "(less CPU under sustained ingest; each flushed log table is then read back into the "
          "page cache in the background, for peers catching up)");
ABSL_FLAG(int, push_concurrency, 0,
          "pushes parsed and staged at once, however many are in flight (0 = one per core the hub "
          "may run on)");
ABSL_FLAG(uint64_t, pull_read_ahead_mb, 64,
          "memory for Pull pages scanned ahead while peers page through the log (0 = off)");
ABSL_FLAG(uint64_t, shared_pages_mb, 64,
          "memory for log pages kept to serve every peer that reads the same entries (peers "
          "catching up together, subscribers at the head) from one scan (0 = off)");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(5),
          "on SIGINT/SIGTERM, how long in-flight calls may take before they are cancelled");
ABSL_FLAG(std::string, auth_tokens, "",
          "file of bearer tokens, one per line: '<token> read=<ids>|* write=<ids>|* [admin]'; "
          "empty = no authentication (for loopback-only use)");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate chain of the hub; enables TLS (with --tls_key)");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of the hub");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA that peers' client certificates must chain to (mutual TLS); empty = none");
ABSL_FLAG(double, peer_rps, 1000, "requests per second one peer may make (0 = unlimited)");
ABSL_FLAG(double, peer_burst, 2000, "requests one peer may make at once above its rate");
ABSL_FLAG(int, peer_max_streams, 16,
          "Subscribe/Snapshot streams one peer may hold open (0 = unlimited)");
ABSL_FLAG(std::string, log_level, "info", "debug, info, warning, error or off");
ABSL_FLAG(std::string, metrics_listen, "127.0.0.1:7071",
          "IPv4:port of the Prometheus /metrics page over HTTP (port 0 picks a free port); "
          "empty = off");
ABSL_FLAG(absl::Duration, peer_lease, absl::Hours(24 * 7),
          "a peer idle this long (and with no open Subscribe stream) is expired: its cursor "
          "no longer holds compaction back (0 = never)");

namespace {

absl::StatusOr<pulse::server::HubOptions> OptionsFromFlags() {
  pulse::server::HubOptions options;
  options.listen_address = absl::GetFlag(FLAGS_listen);
  options.data_dir = absl::GetFlag(FLAGS_data_dir);
  options.sync_writes = absl::GetFlag(FLAGS_sync);
  options.max_batch_size = absl::GetFlag(FLAGS_max_batch_size);
  options.max_message_bytes = absl::GetFlag(FLAGS_max_message_bytes);
  const std::string rule = absl::GetFlag(FLAGS_conflict_resolution);
  if (rule == "server-wins") {
    options.conflict_resolution = pulsedb::sync::v1::CONFLICT_RESOLUTION_SERVER_WINS;
  } else if (rule == "last-write-wins") {
    options.conflict_resolution = pulsedb::sync::v1::CONFLICT_RESOLUTION_LAST_WRITE_WINS;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("--conflict_resolution must be server-wins or last-write-wins, got ", rule));
  }
  options.compaction_interval = absl::GetFlag(FLAGS_compaction_interval);
  options.retain_min_entries = absl::GetFlag(FLAGS_retain_min_entries);
  options.heartbeat_interval = absl::GetFlag(FLAGS_heartbeat_interval);
  options.worker_threads = absl::GetFlag(FLAGS_worker_threads);
  options.push_concurrency = absl::GetFlag(FLAGS_push_concurrency);
  options.direct_io_flush = absl::GetFlag(FLAGS_direct_io_flush);
  options.pull_read_ahead_bytes = absl::GetFlag(FLAGS_pull_read_ahead_mb) << 20;
  options.shared_pages_bytes = absl::GetFlag(FLAGS_shared_pages_mb) << 20;
  options.shutdown_grace = absl::GetFlag(FLAGS_shutdown_grace);
  options.auth_token_file = absl::GetFlag(FLAGS_auth_tokens);
  options.tls_cert_file = absl::GetFlag(FLAGS_tls_cert);
  options.tls_key_file = absl::GetFlag(FLAGS_tls_key);
  options.tls_client_ca_file = absl::GetFlag(FLAGS_tls_client_ca);
  options.peer_requests_per_second = absl::GetFlag(FLAGS_peer_rps);
  options.peer_request_burst = absl::GetFlag(FLAGS_peer_burst);
  options.peer_max_streams = absl::GetFlag(FLAGS_peer_max_streams);
  options.metrics_listen_address = absl::GetFlag(FLAGS_metrics_listen);
  options.peer_lease = absl::GetFlag(FLAGS_peer_lease);
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  pulse::ParseFlagsOrExit(
      argc, argv,
      "the PulseSync hub (gRPC service pulsedb.sync.v1.SyncService).\n"
      "Peers push their changes here and pull or subscribe to everyone else's.\n"
      "Usage: pulse_hub [--listen=127.0.0.1:7070] [--data_dir=./pulse-data] [flags]\n"
      "Stops cleanly (exit 0) on SIGINT or SIGTERM.",
      "server/pulse_hub_main.cc");
  pulse::LogLevel level;
  if (!pulse::ParseLogLevel(absl::GetFlag(FLAGS_log_level), &level)) {
    std::fprintf(stderr, "pulse_hub: --log_level must be debug, info, warning, error or off\n");
    return 2;
  }
  pulse::SetLogLevel(level);
  pulse::server::RouteLibraryLogs();
  // Before any other thread allocates.
  if (absl::Status s =
          pulse::server::KeepFreedMemory(absl::GetFlag(FLAGS_malloc_keep_free_mb) << 20);
      !s.ok()) {
    pulse::Log(pulse::LogLevel::kWarning, "malloc_tuning_ignored",
               {{"reason", std::string(s.message())}});
  }
  absl::StatusOr<pulse::server::HubOptions> options = OptionsFromFlags();
  if (!options.ok()) {
    std::fprintf(stderr, "pulse_hub: %s\n", std::string(options.status().message()).c_str());
    return 2;
  }
  // Block the stop signals in every thread (gRPC's and RocksDB's inherit the mask), then
  // wait for them here.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  absl::StatusOr<std::unique_ptr<pulse::server::Hub>> hub =
      pulse::server::Hub::Start(*std::move(options));
  if (!hub.ok()) {
    std::fprintf(stderr, "pulse_hub: %s\n", hub.status().ToString().c_str());
    return 1;
  }
  std::printf("pulse_hub %s listening on %s\n",
              pulse::storage::IdToText((*hub)->instance_id()).c_str(), (*hub)->address().c_str());
  if ((*hub)->metrics_port() != 0) {
    std::printf("pulse_hub %s metrics on http://%s/metrics\n",
                pulse::storage::IdToText((*hub)->instance_id()).c_str(),
                (*hub)->metrics_address().c_str());
  }
  std::fflush(stdout);
  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  pulse::Log(pulse::LogLevel::kInfo, "signal",
             {{"signal", signal_number == SIGINT ? "SIGINT" : "SIGTERM"}});
  (*hub)->Shutdown();
  return 0;
}
