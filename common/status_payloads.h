// Typed facts carried by an absl::Status beside its code and message, so that callers
// act on them without parsing text: the oldest retained log sequence of a compacted
// cursor, the responder of a "peer changed" refusal, the size of a change too large to
// send. The server turns them into gRPC trailing metadata ("pulsedb-<name>", binary
// values under "-bin" keys) and the client turns them back. Thread-safe, pure.
#ifndef PULSESYNC_COMMON_STATUS_PAYLOADS_H_
#define PULSESYNC_COMMON_STATUS_PAYLOADS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace pulse {

// One payload: its trailer key and whether its value is binary.
struct StatusPayload {
  const char* type_url;  // absl::Status payload key
  const char* trailer;   // gRPC metadata key
  bool binary;
};

// Every payload this project attaches, for the server/client mappings to walk.
const std::vector<StatusPayload>& KnownStatusPayloads();

// FAILED_PRECONDITION: `cursor` is below the retained log; catch up with Snapshot.
absl::Status CursorCompactedError(uint64_t cursor, uint64_t oldest_retained);
std::optional<uint64_t> OldestRetainedOf(const absl::Status& status);

// FAILED_PRECONDITION: the request was addressed to another instance than the responder.
absl::Status PeerChangedError(absl::string_view responder_id, absl::string_view expected_id);
// The responder's instance id (16 bytes) when `status` is a peer-changed refusal.
std::optional<std::string> PeerChangedResponderOf(const absl::Status& status);

// RESOURCE_EXHAUSTED: one change alone is larger than the budget it must fit in.
absl::Status ChangeTooLargeError(uint64_t sequence, uint64_t needed, uint64_t cap);
struct ChangeTooLarge {
  uint64_t sequence = 0;
  uint64_t needed = 0;
  uint64_t cap = 0;
};
std::optional<ChangeTooLarge> ChangeTooLargeOf(const absl::Status& status);

}  // namespace pulse

#endif  // PULSESYNC_COMMON_STATUS_PAYLOADS_H_
