// HubProcess: a real pulse_hub (or any server this driver starts) as a child process on
// 127.0.0.1 with a fresh data directory, so its memory, threads and CPU time can be read
// from /proc apart from the clients'. ProcessStats reads them for any pid.
// Not thread-safe.
#ifndef PULSESYNC_TOOLS_BENCH_HUB_PROCESS_H_
#define PULSESYNC_TOOLS_BENCH_HUB_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tests/support/process.h"

namespace pulse::bench {

// What the benchmarks read of a process: server/process_stats.h's memory and threads,
// plus CPU time and bytes written.
struct ProcessStats {
  uint64_t rss_bytes = 0;  // VmRSS
  int threads = 0;         // Threads
  double cpu_seconds = 0;  // user + system time so far
  // Bytes handed to write(2) and friends so far (/proc/PID/io wchar): files and sockets.
  uint64_t written_bytes = 0;
  uint64_t minor_faults = 0;  // page faults served without I/O so far (first touches)
};
absl::StatusOr<ProcessStats> ReadProcessStats(pid_t pid);

class HubProcess {
 public:
  // Starts `binary` with --listen=127.0.0.1:0, metrics off, --log_level=warning, a fresh
  // --data_dir, then `flags` (later flags win). Waits for its "listening on" line, and
  // its "metrics on" line when `flags` turn metrics on (see Metric).
  static absl::StatusOr<std::unique_ptr<HubProcess>> Start(const std::string& binary,
                                                           const std::vector<std::string>& flags);
  // Any server that prints "listening on HOST:PORT" on stdout (the raw stream baseline).
  static absl::StatusOr<std::unique_ptr<HubProcess>> StartServer(std::vector<std::string> argv);
  ~HubProcess();  // Stop()

  const std::string& address() const { return address_; }
  pid_t pid() const { return child_->pid(); }
  absl::StatusOr<ProcessStats> Stats() const { return ReadProcessStats(pid()); }
  // The value of an unlabelled series on the hub's /metrics page; NOT_FOUND when the
  // page does not have it (an older build), UNAVAILABLE when metrics are off.
  absl::StatusOr<double> Metric(const std::string& name) const;
  // SIGTERM, then waits for the exit (SIGKILL after 20 s); removes the data directory.
  void Stop();

 private:
  HubProcess() = default;
  std::unique_ptr<testing::ChildProcess> child_;
  std::string address_;
  std::string metrics_address_;  // empty: no metrics page
  std::string data_dir_;
  bool stopped_ = false;
};

}  // namespace pulse::bench

#endif  // PULSESYNC_TOOLS_BENCH_HUB_PROCESS_H_
