#include "server/metrics_http.h"

#include <CivetServer.h>
#include <civetweb.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "common/mutex.h"
#include "server/prometheus_text.h"

namespace pulse::server {

namespace {

void Reply(mg_connection* connection, int code, const char* reason, const char* content_type,
           const std::string& body) {
  mg_printf(connection,
            "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
            "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
            code, reason, content_type, body.size());
  mg_write(connection, body.data(), body.size());
}

// Opens and at once closes a TCP connection to host:port (errors ignored).
void Poke(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), absl::StrCat(port).c_str(), &hints, &found) != 0) return;
  const int fd = socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0) {
    (void)connect(fd, found->ai_addr, found->ai_addrlen);
    close(fd);
  }
  freeaddrinfo(found);
}

}  // namespace

class MetricsHttpServer::Handler : public CivetHandler {
 public:
  explicit Handler(Render render) : render_(std::move(render)) {}

  bool handleGet(CivetServer*, mg_connection* connection) override {
    absl::StatusOr<std::string> page = render_();
    if (!page.ok()) {
      Log(LogLevel::kWarning, "metrics_failed", {{"error", page.status().ToString()}});
      Reply(connection, 500, "Internal Server Error", "text/plain; charset=utf-8",
            absl::StrCat(page.status().ToString(), "\n"));
      return true;
    }
    Reply(connection, 200, "OK", kPrometheusContentType, *page);
    return true;
  }

 private:
  const Render render_;
};

absl::StatusOr<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(
    const std::string& listen_address, Render render) {
  std::unique_ptr<MetricsHttpServer> server(new MetricsHttpServer());
  server->handler_ = std::make_unique<Handler>(std::move(render));
  // Scrapes are rare and quick: two workers; no keep-alive, so a scraper holds no worker
  // between scrapes; a bound on how long a slow client may take.
  const std::vector<std::string> options = {
      "listening_ports",    listen_address, "num_threads",       "2",
      "request_timeout_ms", "10000",        "enable_keep_alive", "no"};
  try {
    server->server_ = std::make_unique<CivetServer>(options);
  } catch (const CivetException& e) {
    return absl::UnavailableError(absl::StrCat("cannot serve metrics on ", listen_address,
                                               " (address in use, or not an IPv4:port)"));
  }
  const std::vector<int> ports = server->server_->getListeningPorts();
  if (ports.empty() || ports[0] <= 0) {
    return absl::UnavailableError(absl::StrCat("cannot serve metrics on ", listen_address));
  }
  server->port_ = ports[0];
  std::string host = listen_address.substr(0, listen_address.rfind(':'));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  server->host_ = host;
  server->server_->addHandler("/metrics", server->handler_.get());
  return server;
}

MetricsHttpServer::~MetricsHttpServer() {
  if (server_ == nullptr) return;
  // CivetWeb's listening thread sees the stop request only when its poll() returns: on a
  // connection, or after up to 2 s. Connect (and hang up) until the stop is complete, so
  // a hub shuts down in milliseconds; the worker that takes such a connection reads EOF
  // at once.
  Mutex mu;
  CondVar cv;
  bool stopped = false;
  std::thread waker([&] {
    MutexLock lock(&mu);
    while (!stopped) {
      mu.Unlock();
      Poke(host_, port_);
      mu.Lock();
      if (!stopped) cv.WaitWithDeadline(&mu, absl::Now() + absl::Milliseconds(10));
    }
  });
  server_->close();  // stops CivetWeb, joining its threads, before the handler goes
  {
    MutexLock lock(&mu);
    stopped = true;
  }
  cv.SignalAll();
  waker.join();
  server_.reset();
}

}  // namespace pulse::server
