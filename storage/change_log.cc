#include "storage/change_log.h"

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace pulse::storage {
namespace {
constexpr char kOldestRetainedPayload[] = "pulsedb.sync.v1/oldest_retained_sequence";
}  // namespace

absl::Status CursorCompactedError(uint64_t cursor, uint64_t oldest_retained) {
  absl::Status status = absl::FailedPreconditionError(absl::StrCat(
      "cursor ", cursor, " is older than the retained log: the oldest retained sequence is ",
      oldest_retained, "; catch up with Snapshot"));
  status.SetPayload(kOldestRetainedPayload, absl::Cord(absl::StrCat(oldest_retained)));
  return status;
}

std::optional<uint64_t> OldestRetainedOf(const absl::Status& status) {
  auto payload = status.GetPayload(kOldestRetainedPayload);
  if (!payload.has_value()) return std::nullopt;
  uint64_t value = 0;
  if (!absl::SimpleAtoi(std::string(*payload), &value)) return std::nullopt;
  return value;
}

}  // namespace pulse::storage
