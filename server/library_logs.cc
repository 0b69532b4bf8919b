#include "server/library_logs.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "google/protobuf/stubs/logging.h"
#include "grpc/support/log.h"

namespace pulse::server {

namespace {

thread_local ProtobufReason* active_reason = nullptr;

LogRateLimit& Limit() {
  static LogRateLimit* limit = new LogRateLimit(absl::Seconds(1), [] { return absl::Now(); });
  return *limit;
}

void Emit(LogLevel level, absl::string_view event, absl::string_view file, int line,
          absl::string_view message) {
  if (!LogEnabled(level)) return;
  int64_t held_back = 0;
  if (!Limit().Allow(absl::StrCat(event, ":", file, ":", line), &held_back)) return;
  // The libraries end some messages with a newline; a log line holds one line.
  message = absl::StripTrailingAsciiWhitespace(message);
  Log(level, event,
      {{"file", std::string(file)},
       {"line", absl::StrCat(line)},
       {"message", std::string(message)},
       {"suppressed", absl::StrCat(held_back)}});
}

void FromGrpc(gpr_log_func_args* args) {
  LogLevel level = LogLevel::kWarning;
  if (args->severity == GPR_LOG_SEVERITY_DEBUG) level = LogLevel::kDebug;
  if (args->severity == GPR_LOG_SEVERITY_INFO) level = LogLevel::kInfo;
  Emit(level, "grpc", args->file == nullptr ? "" : args->file, args->line,
       args->message == nullptr ? "" : args->message);
}

void FromProtobuf(google::protobuf::LogLevel severity, const char* file, int line,
                  const std::string& message) {
  ProtobufReason::Offer(message);
  LogLevel level = LogLevel::kWarning;
  if (severity == google::protobuf::LOGLEVEL_INFO) level = LogLevel::kInfo;
  if (severity == google::protobuf::LOGLEVEL_FATAL) level = LogLevel::kError;
  Emit(level, "protobuf", file == nullptr ? "" : file, line, message);
}

}  // namespace

void ProtobufReason::Offer(absl::string_view line) {
  ProtobufReason* reason = active_reason;
  if (reason != nullptr && reason->text_.empty()) {
    reason->text_ = std::string(absl::StripTrailingAsciiWhitespace(line));
  }
}

ProtobufReason::ProtobufReason() : outer_(active_reason) { active_reason = this; }

ProtobufReason::~ProtobufReason() { active_reason = outer_; }

void RouteLibraryLogs() {
  gpr_set_log_function(FromGrpc);
  google::protobuf::SetLogHandler(FromProtobuf);
}

LogRateLimit::LogRateLimit(absl::Duration interval, std::function<absl::Time()> now)
    : interval_(interval), now_(std::move(now)) {}

bool LogRateLimit::Allow(absl::string_view source, int64_t* held_back) {
  const absl::Time now = now_();
  MutexLock lock(&mu_);
  auto it = sources_.find(source);
  if (it == sources_.end()) {
    if (sources_.size() >= kMaxSources) sources_.clear();
    sources_.emplace(std::string(source), Source{now, 0});
    *held_back = 0;
    return true;
  }
  if (now - it->second.last_out < interval_) {
    ++it->second.held_back;
    return false;
  }
  *held_back = it->second.held_back;
  it->second = Source{now, 0};
  return true;
}

}  // namespace pulse::server
