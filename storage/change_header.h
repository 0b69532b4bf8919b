// ChangeHeader: what filters and reply budgets need of a serialized SyncChange (origin,
// collective, entity type, origin sequence, timestamp), read from its wire bytes without parsing
// the payload. Lets the hub serve log entries as stored, byte for byte. Pure functions;
// thread-safe. The views point into the bytes read.
#ifndef PULSESYNC_STORAGE_CHANGE_HEADER_H_
#define PULSESYNC_STORAGE_CHANGE_HEADER_H_

#include <cstdint>

#include "absl/strings/string_view.h"

namespace pulse::storage {

struct ChangeHeader {
  uint64_t sequence = 0;              // field 1
  absl::string_view source_instance;  // field 2
  absl::string_view collective_id;    // field 3
  int entity_type = 0;                // field 4
  int64_t timestamp = 0;              // field 6
};

// False when `wire` is not a well-formed message (the payload is skipped, not checked).
bool ReadChangeHeader(absl::string_view wire, ChangeHeader* header);

}  // namespace pulse::storage

#endif  // PULSESYNC_STORAGE_CHANGE_HEADER_H_
