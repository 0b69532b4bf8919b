#include "server/hub_options.h"

#include "absl/strings/str_cat.h"

namespace pulse::server {

absl::Status HubOptions::Validate() const {
  if (listen_address.empty()) return absl::InvalidArgumentError("listen address is empty");
  if (data_dir.empty()) return absl::InvalidArgumentError("data dir is empty");
  if (max_batch_size == 0) return absl::InvalidArgumentError("max batch size must be at least 1");
  if (max_message_bytes < kMinMessageBytes || max_message_bytes > (1ull << 31) - 1) {
    return absl::InvalidArgumentError(absl::StrCat("max message bytes must be in [",
                                                   kMinMessageBytes, ", 2147483647], got ",
                                                   max_message_bytes));
  }
  if (!pulsedb::sync::v1::ConflictResolution_IsValid(conflict_resolution)) {
    return absl::InvalidArgumentError("unknown conflict resolution");
  }
  if (compaction_interval < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("compaction interval cannot be negative");
  }
  if (heartbeat_interval < absl::Milliseconds(10)) {
    return absl::InvalidArgumentError("heartbeat interval must be at least 10ms");
  }
  if (worker_threads < 1 || worker_threads > 256) {
    return absl::InvalidArgumentError("worker threads must be in [1, 256]");
  }
  if (push_concurrency < 0 || push_concurrency > 256) {
    return absl::InvalidArgumentError("push concurrency must be in [0, 256] (0 = one per core)");
  }
  if (tls_cert_file.empty() != tls_key_file.empty()) {
    return absl::InvalidArgumentError("TLS needs both a certificate and a key file");
  }
  if (!tls_client_ca_file.empty() && tls_cert_file.empty()) {
    return absl::InvalidArgumentError("a TLS client CA needs the hub's own certificate and key");
  }
  if (peer_requests_per_second < 0 || peer_request_burst < 0 || peer_max_streams < 0) {
    return absl::InvalidArgumentError("per-peer limits cannot be negative");
  }
  if (shutdown_grace < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("shutdown grace cannot be negative");
  }
  if (peer_lease < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("peer lease cannot be negative");
  }
  if (!metrics_listen_address.empty() && metrics_listen_address.rfind(':') == std::string::npos) {
    return absl::InvalidArgumentError("metrics listen address must be host:port");
  }
  return absl::OkStatus();
}

}  // namespace pulse::server
