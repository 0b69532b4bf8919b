#include "client/sync_config.h"

#include "absl/strings/str_cat.h"
#include "storage/ids.h"

namespace pulse::client {

absl::Status SyncConfig::Validate() const {
  if (batch_size == 0) return absl::InvalidArgumentError("batch_size must be at least 1");
  if (push_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("push_interval must be positive");
  }
  if (pull_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("pull_interval must be positive");
  }
  if (retry.max_retries < 0) return absl::InvalidArgumentError("retry.max_retries is negative");
  if (retry.initial_backoff <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("retry.initial_backoff must be positive");
  }
  if (retry.max_backoff < retry.initial_backoff) {
    return absl::InvalidArgumentError("retry.max_backoff is below retry.initial_backoff");
  }
  if (!(retry.multiplier >= 1.0)) {
    return absl::InvalidArgumentError("retry.multiplier must be at least 1");
  }
  if (!pulsedb::sync::v1::ConflictResolution_IsValid(conflict_resolution)) {
    return absl::InvalidArgumentError("unknown conflict_resolution");
  }
  for (const std::string& id : collectives) {
    if (absl::Status s = storage::ValidateId(id, "collectives"); !s.ok()) return s;
  }
  if (max_message_bytes < 1024) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_message_bytes must be at least 1024, got ", max_message_bytes));
  }
  return absl::OkStatus();
}

}  // namespace pulse::client
