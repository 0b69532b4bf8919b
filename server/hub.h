// Hub: a running PulseSync hub: its store, the SyncService and SyncAdmin gRPC services,
// the standard grpc.health.v1 service, server reflection, and a ticker for stream
// heartbeats and periodic compaction, and the Prometheus /metrics page on its own HTTP
// address (metrics_http.h). What `pulse_hub` runs and what integration tests start on
// 127.0.0.1:0. Thread-safe.
#ifndef PULSESYNC_SERVER_HUB_H_
#define PULSESYNC_SERVER_HUB_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "common/mutex.h"
#include "grpcpp/grpcpp.h"
#include "server/hub_context.h"
#include "server/hub_options.h"
#include "server/metrics_http.h"
#include "server/sync_service.h"

namespace pulse::server {

class Hub {
 public:
  // Opens the store in options.data_dir and starts serving. INVALID_ARGUMENT for bad
  // options; UNAVAILABLE when the address cannot be bound; storage errors as they come.
  static absl::StatusOr<std::unique_ptr<Hub>> Start(HubOptions options);
  ~Hub();  // Shutdown()
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  // The bound port (useful with port 0) and "host:port" to dial.
  int port() const { return port_; }
  std::string address() const;
  const std::string& instance_id() const { return instance_id_; }
  // The /metrics endpoint's bound port and "host:port"; 0 and "" when it is off.
  int metrics_port() const { return metrics_http_ ? metrics_http_->port() : 0; }
  std::string metrics_address() const;
  HubContext& context() { return *context_; }

  // One compaction by the minimum peer cursor, keeping retain_min_entries.
  absl::StatusOr<uint64_t> CompactNow();

  // Stops accepting calls, ends streams with UNAVAILABLE (peers reconnect elsewhere or
  // later), lets in-flight calls finish within shutdown_grace, then closes the store.
  // Idempotent.
  void Shutdown();

 private:
  Hub() = default;
  void Tick();

  std::unique_ptr<HubContext> context_;
  std::unique_ptr<SyncServiceImpl> service_;
  std::unique_ptr<SyncAdminImpl> admin_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<MetricsHttpServer> metrics_http_;
  int port_ = 0;
  std::string host_;
  std::string instance_id_;

  Mutex mu_;
  CondVar cv_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  std::thread ticker_;
};

}  // namespace pulse::server

#endif  // PULSESYNC_SERVER_HUB_H_
