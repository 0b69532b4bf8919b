// CommitTimes: when this hub process committed its recent log entries, learned from the
// log's listener (one record per commit group). Used for how long a change waited before
// a Subscribe stream delivered it and for the age of a peer's oldest unacknowledged change.
//
// A change's own `timestamp` is set by its origin's clock, which may be skewed, and may
// be far older than the hub's commit (a peer that was offline pushes late). So the hub's
// commit time is used when known: for entries committed since this process started,
// among the last `capacity` commits. CommittedAt falls back to the change's timestamp
// for older ones. Registers a listener on construction and removes it on destruction;
// the log must outlive this object. Thread-safe.
#ifndef PULSESYNC_SERVER_COMMIT_TIMES_H_
#define PULSESYNC_SERVER_COMMIT_TIMES_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "common/mutex.h"
#include "pulsedb/sync/v1/sync.pb.h"
#include "storage/change_log.h"

namespace pulse::server {

class CommitTimes {
 public:
  explicit CommitTimes(storage::ChangeLog* log, std::size_t capacity = 1 << 16);
  ~CommitTimes();
  CommitTimes(const CommitTimes&) = delete;
  CommitTimes& operator=(const CommitTimes&) = delete;

  // When the entry at `sequence` was committed here; nullopt when not remembered.
  std::optional<absl::Time> Of(uint64_t sequence) const;
  // Of(change.log_sequence()), else the change's own timestamp.
  absl::Time CommittedAt(const pulsedb::sync::v1::SyncChange& change) const;
  // The same for each change of a page served as bytes (ChangeLog::ScanWire).
  std::vector<absl::Time> CommittedAt(
      const std::vector<storage::ScanResult::WireChange>& changes) const;

  // What the listener calls; public for tests.
  void Record(uint64_t head, absl::Time when);

 private:
  std::optional<absl::Time> OfLocked(uint64_t sequence) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  storage::ChangeLog* const log_;
  const std::size_t capacity_;
  uint64_t listener_ = 0;

  mutable Mutex mu_;
  // Entries at or below floor_ have no known commit time (before start, or forgotten).
  uint64_t floor_ ABSL_GUARDED_BY(mu_) = 0;
  // (head after the commit, when), ascending.
  std::deque<std::pair<uint64_t, absl::Time>> commits_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pulse::server

#endif  // PULSESYNC_SERVER_COMMIT_TIMES_H_
