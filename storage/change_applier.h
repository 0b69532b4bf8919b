// Stages one change (local or remote) into a WriteTxn: the entity write, its tombstone or
// cascade, its log entry and, for remote changes, the origin's high-water mark. This is
// the one place the sync rules live (SPEC Part B):
// - exactly once: a remote change at or below its origin's mark is a duplicate;
// - creates of an existing id, and anything aimed at a tombstoned id, are acknowledged
//   and not applied; deletes leave tombstones and cascade from experiences to relations;
// - an update or relation whose target is neither present nor tombstoned is a failure
//   (its create may still be on its way), as is a create in an unknown collective;
// - conflicts: see entity_rules.h.
// Not thread-safe (it works inside the caller's WriteTxn).
#ifndef PULSESYNC_STORAGE_CHANGE_APPLIER_H_
#define PULSESYNC_STORAGE_CHANGE_APPLIER_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "pulsedb/sync/v1/sync.pb.h"
#include "storage/write_txn.h"

namespace pulse::storage {

enum class ApplyMode {
  // This instance's own write. Problems are errors for the caller, not skips.
  kLocal,
  // A change pushed to this store acting as the hub: its versions are authoritative.
  kAuthority,
  // A change pulled from the hub this store follows.
  kFollower,
};

struct ApplyContext {
  ApplyMode mode = ApplyMode::kFollower;
  pulsedb::sync::v1::ConflictResolution conflict_resolution =
      pulsedb::sync::v1::CONFLICT_RESOLUTION_SERVER_WINS;
  // This store's instance id.
  std::string self_id;
  // A hub's store: its own log sequences are the entity versions of its local writes.
  bool authoritative_store = false;
  // The caller already ran ValidateChange on every change (a hub checks a whole push
  // before applying any of it): the store does not run it again inside the commit
  // group, where every other writer waits for it.
  bool changes_validated = false;
};

struct StageResult {
  enum class Kind {
    kApplied,    // written and logged
    kDuplicate,  // seen before (exactly-once); nothing written but the mark
    kSkipped,    // acknowledged without effect (exists, tombstoned, no effect)
    kConflict,   // lost the conflict rule; CRDT fields merged (and logged) if they changed
  };
  Kind kind = Kind::kApplied;
  std::string reason;         // why it was skipped or lost
  uint64_t log_sequence = 0;  // this store's log sequence, 0 when nothing was logged
};

// Stages `change`. An error means the change cannot apply now; the caller rolls the txn
// back to a save point taken before the call. For kLocal, the change's sequence must be
// txn.next_sequence() and its source this store. `encoded`, when given, is `change`
// encoded beforehand (logged as is when the change is logged unchanged).
absl::StatusOr<StageResult> StageChange(WriteTxn& txn, const pulsedb::sync::v1::SyncChange& change,
                                        const ApplyContext& context,
                                        const PreEncodedChange* encoded = nullptr);

}  // namespace pulse::storage

#endif  // PULSESYNC_STORAGE_CHANGE_APPLIER_H_
