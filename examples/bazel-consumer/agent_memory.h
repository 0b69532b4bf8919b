// AgentMemory: what an application outside this repository builds on PulseSync: a local
// store of lessons, synced through a hub by a SyncManager. Thread-compatible.
#ifndef BAZEL_CONSUMER_AGENT_MEMORY_H_
#define BAZEL_CONSUMER_AGENT_MEMORY_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/sync_manager.h"
#include "storage/store.h"

namespace example {

class AgentMemory {
 public:
  static absl::StatusOr<std::unique_ptr<AgentMemory>> Open(
      const std::string& directory, std::shared_ptr<pulse::client::SyncTransport> hub);

  // A collective for this agent's team (made once).
  absl::StatusOr<std::string> Team(const std::string& name);
  absl::StatusOr<std::string> Remember(const std::string& team, const std::string& lesson);
  std::vector<std::string> Lessons() const;
  absl::Status Sync() { return sync_->SyncOnce(); }

 private:
  std::unique_ptr<pulse::storage::Store> store_;
  std::unique_ptr<pulse::client::SyncManager> sync_;
};

}  // namespace example

#endif  // BAZEL_CONSUMER_AGENT_MEMORY_H_
