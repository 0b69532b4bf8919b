// PullReadAhead: the next Pull page of a paging peer, scanned on the hub's pool while the
// peer is still receiving and applying the page it just got. A peer catching up with
// Pull asks for page n+1 only after page n arrived; without read-ahead the hub's scan and
// the peer's work never overlap.
//
// A page read ahead is served only when it is exactly what a fresh scan would return:
// the same peer asks with the very same scan (cursor, filters, limits), no entry it
// covers was compacted away, and either the page was cut short by its limits (the log
// is append-only, so its content cannot change) or the log has not grown since. The
// caller still checks the peer's grant and registers its cursor on every Pull. Pages
// held at once are capped by `max_bytes` (none are kept when 0); a page nobody asked for
// within `max_age` is dropped. A Pull that asks for a page whose scan is running waits
// for it rather than scanning the same entries again (a peer that pages ahead asks for
// page n+1 as soon as page n arrives: often before its read-ahead is done); a scan not
// yet started is left to the Pull, and then skipped.
//
// Thread-safe. Tasks queued on the pool reference this object and `pages`: destroy the
// pool first.
#ifndef PULSESYNC_SERVER_PULL_READ_AHEAD_H_
#define PULSESYNC_SERVER_PULL_READ_AHEAD_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "common/mutex.h"
#include "server/shared_pages.h"
#include "server/work_pool.h"
#include "storage/change_log.h"

namespace pulse::server {

class PullReadAhead {
 public:
  // `before_scan`, for tests: called on the pool as a read-ahead scan starts.
  // Pages are read through `pages` (shared with other readers when they can be).
  PullReadAhead(const storage::ChangeLog* log, SharedPages* pages, WorkPool* pool,
                std::size_t max_bytes, absl::Duration max_age = absl::Seconds(30),
                std::function<void()> before_scan = nullptr);
  PullReadAhead(const PullReadAhead&) = delete;
  PullReadAhead& operator=(const PullReadAhead&) = delete;

  // After serving `peer` a page that ended at `served.scanned_through` with more entries
  // after it: queues the scan of the page after it (`scan` with `after` moved there).
  void ReadAheadAfter(const std::string& peer, const storage::ScanRequest& scan,
                      const storage::ScanResult& served);

  // The page read ahead for `peer` and exactly `scan`, when there is a valid one; it is
  // handed over (removed). Waits while that page's scan is running. nullopt otherwise.
  std::optional<SharedPage> Take(const std::string& peer, const storage::ScanRequest& scan);

  // Bytes of pages held now (for tests and metrics).
  std::size_t held_bytes() const;

 private:
  struct Slot {
    storage::ScanRequest scan;
    uint64_t generation = 0;
    bool started = false;  // its scan is running (or done)
    bool ready = false;
    SharedPage page;
    uint64_t head_at_scan = 0;
    absl::Time made;
  };
  void Fill(const std::string& peer, uint64_t generation, storage::ScanRequest scan);
  void DropExpiredLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const storage::ChangeLog* const log_;
  SharedPages* const pages_;
  WorkPool* const pool_;
  const std::size_t max_bytes_;
  const absl::Duration max_age_;
  const std::function<void()> before_scan_;

  mutable Mutex mu_;
  CondVar scanned_cv_;  // a slot's scan ended (ready, or dropped)
  absl::flat_hash_map<std::string, Slot> slots_ ABSL_GUARDED_BY(mu_);
  std::size_t held_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t next_generation_ ABSL_GUARDED_BY(mu_) = 1;
  absl::Time last_sweep_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

// True when the two scans would read the same entries the same way.
bool SameScan(const storage::ScanRequest& a, const storage::ScanRequest& b);

}  // namespace pulse::server

#endif  // PULSESYNC_SERVER_PULL_READ_AHEAD_H_
