// Shared plumbing of pulsectl's commands: the connection to a hub (target, bearer token,
// deadlines), this tool's own instance id, output helpers (progress bars, UUIDs, JSON)
// and exit codes. Not thread-safe (a command runs on one thread).
#ifndef PULSESYNC_TOOLS_PULSECTL_CLI_H_
#define PULSESYNC_TOOLS_PULSECTL_CLI_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "pulsedb/sync/v1/sync.grpc.pb.h"

namespace pulse::pulsectl {

// Exit codes, as users of command-line tools expect.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;  // the operation failed (hub unreachable, refused, ...)
inline constexpr int kExitUsage = 2;   // bad command line

struct Hub {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<pulsedb::sync::v1::SyncService::Stub> sync;
  std::unique_ptr<pulsedb::sync::v1::SyncAdmin::Stub> admin;
  std::string token;
  absl::Duration timeout;

  // A context with the token and, unless `streaming`, the deadline.
  std::unique_ptr<grpc::ClientContext> Context(bool streaming = false) const;
};

// The hub named by --hub, with --token and --timeout.
Hub ConnectFromFlags();

// pulsectl's own instance id (for tail and snapshot), kept in --identity_file so that
// one machine shows up as one observer. Created on first use.
std::string ToolInstanceId();

// Handshakes as `instance_id` with the given capabilities; returns the hub's id.
absl::StatusOr<std::string> Handshake(const Hub& hub, const std::string& instance_id,
                                      const std::vector<std::string>& capabilities);

// "ERROR: <code>: <message>" on stderr; returns kExitFailed.
int Fail(const absl::Status& status);
int Fail(const grpc::Status& status);

// A progress line on stderr: "\r<label> [#####.....]  45%  4500/10000" on a terminal,
// or one line per 10% otherwise.
class ProgressBar {
 public:
  explicit ProgressBar(std::string label);
  void Update(uint64_t done, uint64_t total);
  void Finish(uint64_t done);

 private:
  std::string label_;
  bool tty_;
  int last_decile_ = -1;
};

std::string FormatAge(int64_t millis_ago);

}  // namespace pulse::pulsectl

#endif  // PULSESYNC_TOOLS_PULSECTL_CLI_H_
