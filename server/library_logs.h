// Routes what gRPC and protobuf log on their own (gpr_log; protobuf's GOOGLE_LOG, such as
// "String field ... contains invalid UTF-8 data" for every such request a peer sends)
// into the hub's structured log (common/log.h): stderr then holds logfmt lines only, with
// events `grpc` and `protobuf` and fields file, line and message.
//
// Levels: a library's ERROR becomes WARN. Nearly all are about what a peer sent (a string
// that is not UTF-8, a reset connection); the hub's own event for the call reports what
// it did about it. INFO stays INFO, DEBUG stays DEBUG, protobuf's FATAL is ERROR (protobuf
// aborts after it). gRPC still filters its own lines first (GRPC_VERBOSITY, ERROR by
// default). A source line (file:line) logs at most once a second: a peer cannot flood the
// log through a library. Each line says how many from its source were held back since
// the one before (`suppressed=N`).
//
// RouteLibraryLogs: call once at process start, before the libraries log; it replaces
// their process-wide handlers. Thread-safe afterwards. LogRateLimit is thread-safe.
//
// Protobuf says why it refuses a message only in its log (a string field that is not
// UTF-8: which field). A ProtobufReason alive on a thread keeps the first line protobuf
// logs on that thread meanwhile (the line is logged as usual too), so that a refusal can
// say why. Needs RouteLibraryLogs; scopes nest (the innermost keeps the line).
#ifndef PULSESYNC_SERVER_LIBRARY_LOGS_H_
#define PULSESYNC_SERVER_LIBRARY_LOGS_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/mutex.h"

namespace pulse::server {

void RouteLibraryLogs();

class ProtobufReason {
 public:
  ProtobufReason();
  ~ProtobufReason();
  ProtobufReason(const ProtobufReason&) = delete;
  ProtobufReason& operator=(const ProtobufReason&) = delete;

  // The first line protobuf logged on this thread since construction; "" if none.
  const std::string& text() const { return text_; }

  // Gives a line protobuf logged to the innermost ProtobufReason alive on this thread,
  // if any (RouteLibraryLogs's handler calls it).
  static void Offer(absl::string_view line);

 private:
  ProtobufReason* const outer_;
  std::string text_;
};

// At most one line per source per `interval`.
class LogRateLimit {
 public:
  LogRateLimit(absl::Duration interval, std::function<absl::Time()> now);

  // Whether a line from `source` may go out now. When it may, `*held_back` is how many
  // lines from `source` were refused since the last one that went out.
  bool Allow(absl::string_view source, int64_t* held_back);

 private:
  struct Source {
    absl::Time last_out;
    int64_t held_back = 0;
  };
  // Library log lines come from a bounded set of places in their code; past this many
  // distinct sources the table is cleared rather than grown.
  static constexpr std::size_t kMaxSources = 1024;

  const absl::Duration interval_;
  const std::function<absl::Time()> now_;
  Mutex mu_;
  absl::flat_hash_map<std::string, Source> sources_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pulse::server

#endif  // PULSESYNC_SERVER_LIBRARY_LOGS_H_
