// MetricsHttpServer: serves the Prometheus page at GET /metrics over plain HTTP with
// CivetWeb (libcivetweb, its CivetServer class). Every request renders the page anew by
// calling `render` on one of CivetWeb's worker threads (so `render` must be thread-safe;
// it may block on storage reads). An error from `render` is answered 500 with its
// message, which makes Prometheus mark the scrape failed (`up` 0). Other paths get 404.
//
// Start binds `listen_address` ("IPv4:port", this CivetWeb build has no IPv6; port 0
// picks a free port, see port()).
// Destruction stops accepting, waits for requests in progress and joins the threads,
// promptly (CivetWeb alone would take up to its 2 s poll quantum). Thread-safe.
#ifndef PULSESYNC_SERVER_METRICS_HTTP_H_
#define PULSESYNC_SERVER_METRICS_HTTP_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

class CivetServer;

namespace pulse::server {

class MetricsHttpServer {
 public:
  using Render = std::function<absl::StatusOr<std::string>()>;

  // UNAVAILABLE when the address cannot be bound (in use, not an IPv4:port).
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(const std::string& listen_address,
                                                                  Render render);
  ~MetricsHttpServer();
  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

  int port() const { return port_; }

 private:
  class Handler;
  MetricsHttpServer() = default;

  std::unique_ptr<Handler> handler_;
  std::unique_ptr<CivetServer> server_;
  std::string host_;  // an address of ours to connect to (see the destructor)
  int port_ = 0;
};

}  // namespace pulse::server

#endif  // PULSESYNC_SERVER_METRICS_HTTP_H_
