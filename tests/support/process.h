// ChildProcess: a program started with fork+exec for process-level tests, its stdout
// readable line by line with deadlines. The destructor kills it (SIGKILL) if still running.
// Not thread-safe.
#ifndef PULSESYNC_TESTS_SUPPORT_PROCESS_H_
#define PULSESYNC_TESTS_SUPPORT_PROCESS_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace pulse::testing {

class ChildProcess {
 public:
  // argv[0] is the program path. Stdout is captured; stderr is inherited, or captured
  // with stdout (interleaved line by line as the program writes them) when
  // `capture_stderr`.
  explicit ChildProcess(const std::vector<std::string>& argv, bool capture_stderr = false);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  // The next stdout line, or nullopt at EOF or when the deadline passes.
  std::optional<std::string> ReadLine(absl::Duration timeout);
  // Reads lines until one contains `needle`; returns it.
  std::optional<std::string> WaitForLine(const std::string& needle, absl::Duration timeout);
  void Signal(int signal);
  // The exit status (as from waitpid) once it exits, or nullopt on timeout.
  std::optional<int> Wait(absl::Duration timeout);

 private:
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string buffer_;
  bool reaped_ = false;
};

// Path of a binary in this test's runfiles, e.g. "server/pulse_hub".
std::string RunfilePath(const std::string& relative);

}  // namespace pulse::testing

#endif  // PULSESYNC_TESTS_SUPPORT_PROCESS_H_
