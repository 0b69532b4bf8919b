// Entity bodies kept by reference to the change log. An experience's create carries the
// whole experience (its embedding alone is 1.5 KB), and the store logs that change anyway;
// so the row an experience create writes holds only the versioning fields and the log
// sequence of the create (VersionedEntity.body_log_sequence). Every read fills the body
// in from that log entry. Updates write the whole entity again (body included, no
// reference), and Store::CompactWal copies a body into its row before it removes the log
// entry the row refers to, so a row never refers to a removed entry.
//
// Pure functions; thread-safe. Errors: DATA_LOSS when the entry is not the create of the
// entity the row names (a corrupt store), never a crash.
#ifndef PULSESYNC_STORAGE_ENTITY_BODY_H_
#define PULSESYNC_STORAGE_ENTITY_BODY_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "pulsedb/sync/v1/sync.pb.h"

namespace pulse::storage {

// What a read of an entity returns. kFilled: the whole entity. kAsStored: the row as
// stored, whose body may still be in the log: for callers that need only whether it
// exists, its collective or its versions, and would otherwise read and parse the log
// entry (1.7 KB) for nothing.
enum class EntityBody { kFilled, kAsStored };

// Whether `entity`, as read from its row, still needs its body from the log.
inline bool RefersToLoggedBody(const pulsedb::sync::v1::VersionedEntity& entity) {
  return entity.body_log_sequence() != 0;
}

// Fills in the body of `entity` (a row of entity `id` with body_log_sequence set) from
// the logged create `change` (its payload is moved out) and clears body_log_sequence.
absl::Status FillBodyFromChange(absl::string_view id, pulsedb::sync::v1::SyncChange& change,
                                pulsedb::sync::v1::VersionedEntity* entity);

// The same from `entry`, the stored bytes of the log entry at entity->body_log_sequence().
absl::Status FillBodyFromLogEntry(absl::string_view id, absl::string_view entry,
                                  pulsedb::sync::v1::VersionedEntity* entity);

// DATA_LOSS naming the entry that a row of `id` refers to and that is gone.
absl::Status MissingBodyError(absl::string_view id, uint64_t log_sequence);

}  // namespace pulse::storage

#endif  // PULSESYNC_STORAGE_ENTITY_BODY_H_
