#include "tests/support/http_get.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

namespace pulse::testing {

namespace {

class Socket {
 public:
  Socket() : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) {}
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  int fd() const { return fd_; }

 private:
  const int fd_;
};

// Waits until `fd` is ready for `events` or the deadline passes.
absl::Status WaitFor(int fd, short events, absl::Time deadline) {
  for (;;) {
    const int64_t left = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (left <= 0) return absl::DeadlineExceededError("HTTP request timed out");
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(left));
    if (n > 0) return absl::OkStatus();
    if (n < 0 && errno != EINTR) return absl::UnavailableError(std::strerror(errno));
  }
}

absl::StatusOr<sockaddr_in> ParseAddress(const std::string& address) {
  const std::size_t colon = address.rfind(':');
  int port = 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  if (colon == std::string::npos || !absl::SimpleAtoi(address.substr(colon + 1), &port) ||
      ::inet_pton(AF_INET, address.substr(0, colon).c_str(), &addr.sin_addr) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("not an IPv4:port address: ", address));
  }
  addr.sin_port = htons(static_cast<uint16_t>(port));
  return addr;
}

}  // namespace

absl::StatusOr<HttpResponse> HttpGet(const std::string& address, const std::string& path,
                                     absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::StatusOr<sockaddr_in> addr = ParseAddress(address);
  if (!addr.ok()) return addr.status();
  Socket socket;
  if (socket.fd() < 0) return absl::UnavailableError(std::strerror(errno));
  if (::connect(socket.fd(), reinterpret_cast<const sockaddr*>(&*addr), sizeof(*addr)) != 0) {
    if (errno != EINPROGRESS) {
      return absl::UnavailableError(absl::StrCat("connect ", address, ": ", std::strerror(errno)));
    }
    if (absl::Status s = WaitFor(socket.fd(), POLLOUT, deadline); !s.ok()) return s;
    int error = 0;
    socklen_t length = sizeof(error);
    ::getsockopt(socket.fd(), SOL_SOCKET, SO_ERROR, &error, &length);
    if (error != 0) {
      return absl::UnavailableError(absl::StrCat("connect ", address, ": ", std::strerror(error)));
    }
  }
  const std::string request =
      absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: ", address, "\r\nConnection: close\r\n\r\n");
  std::size_t sent = 0;
  while (sent < request.size()) {
    if (absl::Status s = WaitFor(socket.fd(), POLLOUT, deadline); !s.ok()) return s;
    const ssize_t n =
        ::send(socket.fd(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      return absl::UnavailableError(absl::StrCat("send: ", std::strerror(errno)));
    }
    if (n > 0) sent += static_cast<std::size_t>(n);
  }
  std::string reply;
  char buffer[16384];
  for (;;) {
    if (absl::Status s = WaitFor(socket.fd(), POLLIN, deadline); !s.ok()) return s;
    const ssize_t n = ::recv(socket.fd(), buffer, sizeof(buffer), 0);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return absl::UnavailableError(absl::StrCat("recv: ", std::strerror(errno)));
    }
    reply.append(buffer, static_cast<std::size_t>(n));
  }
  const std::size_t end = reply.find("\r\n\r\n");
  if (end == std::string::npos || !absl::StartsWith(reply, "HTTP/1.")) {
    return absl::InternalError(absl::StrCat("not an HTTP reply: ", reply.substr(0, 200)));
  }
  HttpResponse response;
  std::vector<std::string> lines = absl::StrSplit(reply.substr(0, end), "\r\n");
  std::vector<std::string> status_line = absl::StrSplit(lines[0], ' ');
  if (status_line.size() < 2 || !absl::SimpleAtoi(status_line[1], &response.status)) {
    return absl::InternalError(absl::StrCat("bad status line: ", lines[0]));
  }
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const std::size_t colon = lines[i].find(':');
    if (colon == std::string::npos) continue;
    if (absl::EqualsIgnoreCase(lines[i].substr(0, colon), "content-type")) {
      response.content_type = std::string(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
    }
  }
  response.body = reply.substr(end + 4);
  return response;
}

absl::StatusOr<int> FreeLoopbackPort() {
  Socket socket;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t length = sizeof(addr);
  if (socket.fd() < 0 ||
      ::bind(socket.fd(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(socket.fd(), reinterpret_cast<sockaddr*>(&addr), &length) != 0) {
    return absl::UnavailableError(absl::StrCat("no free port: ", std::strerror(errno)));
  }
  return ntohs(addr.sin_port);
}

}  // namespace pulse::testing
