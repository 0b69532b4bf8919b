// HttpGet: a minimal HTTP/1.1 GET over a plain TCP socket, for tests that read the hub's
// /metrics page or Prometheus's API on loopback: sends "Connection: close" and reads the
// reply until the server closes, within `timeout` overall. No TLS, no redirects, no
// chunked decoding (the servers under test send Content-Length). Thread-safe (no state).
#ifndef PULSESYNC_TESTS_SUPPORT_HTTP_GET_H_
#define PULSESYNC_TESTS_SUPPORT_HTTP_GET_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace pulse::testing {

struct HttpResponse {
  int status = 0;            // e.g. 200
  std::string content_type;  // the Content-Type header, as sent
  std::string body;
};

// `address` is "IPv4:port". UNAVAILABLE when it cannot connect, DEADLINE_EXCEEDED on
// timeout, INTERNAL for a reply that is not HTTP.
absl::StatusOr<HttpResponse> HttpGet(const std::string& address, const std::string& path,
                                     absl::Duration timeout = absl::Seconds(10));

// A port on 127.0.0.1 that was free a moment ago (bound to port 0, then released), for
// servers that cannot report the port they picked themselves.
absl::StatusOr<int> FreeLoopbackPort();

}  // namespace pulse::testing

#endif  // PULSESYNC_TESTS_SUPPORT_HTTP_GET_H_
