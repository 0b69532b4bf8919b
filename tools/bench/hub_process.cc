#include "tools/bench/hub_process.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <optional>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "server/process_stats.h"
#include "tests/support/http_get.h"
#include "tools/bench/temp_store.h"

namespace pulse::bench {

absl::StatusOr<ProcessStats> ReadProcessStats(pid_t pid) {
  // Memory and threads as the hub's own metrics read them (server/process_stats.h).
  absl::StatusOr<server::ProcessStats> status =
      server::ReadProcessStats(absl::StrCat("/proc/", pid, "/status"));
  if (!status.ok()) return status.status();
  ProcessStats stats;
  stats.rss_bytes = status->resident_bytes;
  stats.threads = static_cast<int>(status->threads);
  std::string line;
  std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  // Fields after the command name (which may hold spaces, so split after its ')').
  const std::size_t close = text.rfind(')');
  if (close != std::string::npos) {
    std::vector<std::string> fields =
        absl::StrSplit(text.substr(close + 2), ' ', absl::SkipEmpty());
    // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    uint64_t utime = 0, stime = 0;
    if (fields.size() > 7) absl::SimpleAtoi(fields[7], &stats.minor_faults);  // field 10
    if (fields.size() > 12 && absl::SimpleAtoi(fields[11], &utime) &&
        absl::SimpleAtoi(fields[12], &stime)) {
      stats.cpu_seconds = static_cast<double>(utime + stime) / sysconf(_SC_CLK_TCK);
    }
  }
  std::ifstream io(absl::StrCat("/proc/", pid, "/io"));
  while (std::getline(io, line)) {
    if (absl::StartsWith(line, "wchar:")) {
      absl::SimpleAtoi(absl::StripAsciiWhitespace(line.substr(6)), &stats.written_bytes);
    }
  }
  return stats;
}

absl::StatusOr<std::unique_ptr<HubProcess>> HubProcess::Start(
    const std::string& binary, const std::vector<std::string>& flags) {
  std::string data_dir = MakeTempDir("pulse-bench-hub");
  std::vector<std::string> argv = {binary,
                                   "--listen=127.0.0.1:0",
                                   "--metrics_listen=",
                                   "--log_level=warning",
                                   "--data_dir=" + data_dir,
                                   "--compaction_interval=0"};
  argv.insert(argv.end(), flags.begin(), flags.end());
  absl::StatusOr<std::unique_ptr<HubProcess>> hub = StartServer(argv);
  if (!hub.ok()) {
    RemoveTree(data_dir);
    return hub.status();
  }
  (*hub)->data_dir_ = std::move(data_dir);
  const bool metrics_on = std::any_of(flags.begin(), flags.end(), [](const std::string& flag) {
    return absl::StartsWith(flag, "--metrics_listen=") && flag != "--metrics_listen=";
  });
  if (!metrics_on) return hub;
  // "pulse_hub <id> metrics on http://HOST:PORT/metrics"
  std::optional<std::string> metrics = (*hub)->child_->WaitForLine("metrics on", absl::Seconds(10));
  if (metrics.has_value()) {
    const std::size_t from = metrics->find("http://");
    const std::size_t to = metrics->rfind("/metrics");
    if (from != std::string::npos && to != std::string::npos && to > from + 7) {
      (*hub)->metrics_address_ = metrics->substr(from + 7, to - from - 7);
    }
  }
  return hub;
}

absl::StatusOr<double> HubProcess::Metric(const std::string& name) const {
  if (metrics_address_.empty()) return absl::UnavailableError("the hub serves no metrics");
  absl::StatusOr<testing::HttpResponse> page = testing::HttpGet(metrics_address_, "/metrics");
  if (!page.ok()) return page.status();
  for (absl::string_view line : absl::StrSplit(page->body, '\n')) {
    if (!absl::ConsumePrefix(&line, name) || !absl::ConsumePrefix(&line, " ")) continue;
    double value = 0;
    if (absl::SimpleAtod(line, &value)) return value;
  }
  return absl::NotFoundError(absl::StrCat(name, " is not on the hub's metrics page"));
}

absl::StatusOr<std::unique_ptr<HubProcess>> HubProcess::StartServer(std::vector<std::string> argv) {
  std::unique_ptr<HubProcess> hub(new HubProcess());
  hub->child_ = std::make_unique<testing::ChildProcess>(argv);
  std::optional<std::string> line = hub->child_->WaitForLine("listening on", absl::Seconds(60));
  if (!line.has_value()) {
    hub->Stop();
    return absl::UnavailableError(absl::StrCat(argv[0], " did not start"));
  }
  hub->address_ = line->substr(line->rfind(' ') + 1);
  return hub;
}

HubProcess::~HubProcess() { Stop(); }

void HubProcess::Stop() {
  if (stopped_) return;
  stopped_ = true;
  if (child_ != nullptr) {
    child_->Signal(SIGTERM);
    if (!child_->Wait(absl::Seconds(20)).has_value()) {
      child_->Signal(SIGKILL);
      child_->Wait(absl::Seconds(20));
    }
  }
  if (!data_dir_.empty()) RemoveTree(data_dir_);
}

}  // namespace pulse::bench
