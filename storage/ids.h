// Ids: UUIDs as 16 raw bytes, the only form they take on the wire and on disk.
// Free functions, thread-safe. Text forms (8-4-4-4-12 hex) are for logs, flags and tools.
#ifndef PULSESYNC_STORAGE_IDS_H_
#define PULSESYNC_STORAGE_IDS_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace pulse::storage {

inline constexpr std::size_t kIdSize = 16;

// OK when `id` is exactly 16 bytes; otherwise INVALID_ARGUMENT naming `field`.
absl::Status ValidateId(absl::string_view id, absl::string_view field);

// A fresh UUID version 7: 48 bits of Unix milliseconds, then random bits, so ids made
// later sort later. Never fails (randomness from absl's seeded generator).
std::string NewUuidV7();

// Canonical lower-case "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx". Ids of another size are
// printed as plain hex so a malformed id can still be logged.
std::string IdToText(absl::string_view id);

// Parses the canonical form, with or without dashes. INVALID_ARGUMENT otherwise.
absl::StatusOr<std::string> IdFromText(absl::string_view text);

}  // namespace pulse::storage

#endif  // PULSESYNC_STORAGE_IDS_H_
