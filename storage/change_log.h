// ChangeLog: a store's log of changes (its own and those it applied for others), in
// commit order, each under a dense sequence number. Readers only ever see a gap-free
// committed prefix: Head() is published after the entries up to it are durable.
// Implementations are thread-safe. This interface is what a replicated log would
// implement to replace RocksDB's `wal` column family; appends happen inside a store's
// WriteTxn, so they are not part of it.
#ifndef PULSESYNC_STORAGE_CHANGE_LOG_H_
#define PULSESYNC_STORAGE_CHANGE_LOG_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "pulsedb/sync/v1/sync.pb.h"

namespace pulse::storage {

struct ScanFilter {
  std::vector<std::string> collectives;                         // empty = all
  std::vector<pulsedb::sync::v1::SyncEntityType> entity_types;  // empty = all
  std::string exclude_origin;  // never return changes of this origin (no echo)
  std::string only_origin;     // when set, only changes of this origin
};

struct ScanRequest {
  uint64_t after = 0;  // return entries with sequence > after
  std::size_t max_changes = 500;
  // Budget for the returned changes, each counted as an element of a repeated field of a
  // reply (serialized size plus a few bytes of framing); 0 = none.
  std::size_t max_bytes = 0;
  std::size_t max_examined = 0;  // stop after examining this many entries; 0 = no limit
  ScanFilter filter;
};

struct OversizedChange {
  uint64_t log_sequence = 0;
  uint64_t origin_sequence = 0;
  std::size_t bytes = 0;
};

struct ScanResult {
  std::vector<pulsedb::sync::v1::SyncChange> changes;
  // Every entry at or below this was examined (returned or filtered out); >= after.
  uint64_t scanned_through = 0;
  // Committed entries remain after scanned_through.
  bool has_more = false;
  // The next matching change does not fit max_bytes even alone; scanning stopped before it.
  std::optional<OversizedChange> oversized;
  // How many changes ScanWire appended (Scan and ScanInto: see where they put them).
  std::size_t appended = 0;
  // ScanWire only: the log position and origin timestamp of each change appended, in
  // order (what the caller would otherwise have to parse the bytes for).
  struct WireChange {
    uint64_t log_sequence = 0;
    int64_t timestamp = 0;
  };
  std::vector<WireChange> wire_changes;
  // ScanWire only: the distinct origins (source_instance) of the entries it read, kept or
  // not (possibly one past the last examined), when there were at most kMaxListedOrigins;
  // `origins_listed` is false when there were more. Says whether the page would differ
  // for a reader that excludes one of them (server/shared_pages.h).
  static constexpr std::size_t kMaxListedOrigins = 16;
  std::vector<std::string> origins;
  bool origins_listed = true;
};

class ChangeLog {
 public:
  using Listener = std::function<void(uint64_t head)>;

  virtual ~ChangeLog() = default;

  // Newest committed sequence (0 when nothing was ever written).
  virtual uint64_t Head() const = 0;
  // Oldest sequence still retained: everything below was compacted away.
  virtual uint64_t OldestRetained() const = 0;

  // Reads committed entries after `request.after`. FAILED_PRECONDITION (see
  // common/status_payloads.h, CursorCompactedError) when entries after it were compacted away;
  // INTERNAL on a corrupt entry.
  virtual absl::StatusOr<ScanResult> Scan(const ScanRequest& request) const = 0;
  // As Scan, but the changes are parsed straight into `out` (on `out`'s arena, when it
  // has one) instead of result.changes: a reply's repeated field is filled in place, and
  // no change is copied or moved. On error `out` may hold part of the page.
  virtual absl::StatusOr<ScanResult> ScanInto(
      const ScanRequest& request,
      google::protobuf::RepeatedPtrField<pulsedb::sync::v1::SyncChange>* out) const = 0;
  // As Scan, but each change's stored bytes (log_sequence set) are appended to `out` as an
  // element of a repeated message field number 1 (tag, length, bytes): the wire form of a
  // PullResponse's changes. Nothing is parsed but the fields filters need
  // (change_header.h). result.appended counts them; result.wire_changes says where each
  // sits in the log and when its origin made it.
  virtual absl::StatusOr<ScanResult> ScanWire(const ScanRequest& request,
                                              std::string* out) const = 0;

  // Removes entries at or below `sequence` (capped at Head()). Returns how many were
  // removed; 0 when there was nothing to do. Idempotent. A store's entity rows may refer
  // to entries for their bodies (entity_body.h): compact through Store::CompactWal, which
  // copies those bodies out first; called alone, this leaves such rows unreadable.
  virtual absl::StatusOr<uint64_t> CompactThrough(uint64_t sequence) = 0;

  // Blocks until Head() > after or the deadline passes; returns Head() > after.
  virtual bool WaitForNew(uint64_t after, absl::Time deadline) const = 0;

  // Calls `listener` with the new head after every commit that appends, on the committing
  // thread: it must be quick and must not call back into the store's write path.
  virtual uint64_t AddListener(Listener listener) = 0;
  // After it returns, the listener is not running and will not be called again.
  virtual void RemoveListener(uint64_t id) = 0;
};

}  // namespace pulse::storage

#endif  // PULSESYNC_STORAGE_CHANGE_LOG_H_
