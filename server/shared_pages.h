// SharedPages: pages of the hub's change log as ChangeLog::ScanWire frames them, kept for
// a while and served to every reader whose scan they answer byte for byte. Peers that
// catch up together, and subscribers that wait at the head for the next commit, read the
// same entries with the same limits: one scan then serves all of them, and each reply
// refers to the same immutable bytes instead of a copy.
//
// Every scan of a peer leaves out that peer's own changes (exclude_origin). A page is
// kept only when nothing was left out for that reason, so it is the page of every reader
// with the same cursor, limits and other filters; it is served to a reader only when
// none of the entries it read came from that reader (ScanResult::origins), and only while
// it is exactly what a fresh scan would return: its entries were not compacted away, and
// either it was cut short by its limits (the log is append-only: its content cannot
// change) or the log has not grown since it was scanned. Otherwise the reader scans.
//
// Pages are kept only while more than one peer reads the log: when another reader than
// this one read within Options::together (100 ms). A lone peer paging through the log
// would only fill the cache with pages nobody else reads (and cool the buffers it would
// reuse).
//
// Readers asking for a page whose scan is running wait for it (up to 10 s) rather than
// scan the same entries again. Pages kept are capped by Options::max_bytes (counting what
// their buffers hold on to, and their keys; a page far smaller than its buffer is kept in
// a copy of its size) and dropped after max_age, oldest first; a page still being sent
// lives on in its replies.
//
// Errors are a fresh scan's (FAILED_PRECONDITION for a compacted cursor, INTERNAL for a
// corrupt entry). Thread-safe; borrows `log`, which must outlive it.
#ifndef PULSESYNC_SERVER_SHARED_PAGES_H_
#define PULSESYNC_SERVER_SHARED_PAGES_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/mutex.h"
#include "storage/change_log.h"

namespace pulse::server {

// A page of log entries framed as field 1 of a reply (ChangeLog::ScanWire).
struct SharedPage {
  std::shared_ptr<const std::string> wire;  // never null; may be shared with other replies
  storage::ScanResult result;
};

class SharedPages {
 public:
  struct Options {
    // Bytes of pages kept at most (none when 0), and for how long.
    std::size_t max_bytes = 64 << 20;
    absl::Duration max_age = absl::Seconds(10);
    // How close in time reads by two peers must come for pages to be kept.
    absl::Duration together = absl::Milliseconds(100);
    // For tests: the clock (absl::Now when empty), and a call as each scan starts.
    std::function<absl::Time()> now;
    std::function<void()> before_scan;
  };
  SharedPages(const storage::ChangeLog* log, Options options);
  SharedPages(const SharedPages&) = delete;
  SharedPages& operator=(const SharedPages&) = delete;

  // The page `scan` reads: one kept that answers it exactly, or a fresh scan (kept for
  // others when it may be shared).
  absl::StatusOr<SharedPage> Read(const storage::ScanRequest& scan);

  // For tests and metrics.
  // What the pages kept hold on to: the sum of their Charge.
  std::size_t held_bytes() const;
  // What a page `wire` kept for `scan` counts against max_bytes: its buffer's capacity
  // and its key (the scan's filters, which a peer chooses).
  static std::size_t Charge(const storage::ScanRequest& scan, const std::string& wire);
  uint64_t hits() const;   // pages served from those kept
  uint64_t scans() const;  // pages scanned
  int waiting() const;     // readers waiting for a running scan

 private:
  struct Entry {
    uint64_t generation = 0;
    bool ready = false;  // false: its scan is running
    SharedPage page;
    uint64_t head_at_scan = 0;
    absl::Time made;
    std::size_t charge = 0;  // counted in held_bytes_ while ready
  };
  // The scan without the reader's own exclusion: what pages are kept under.
  static std::string KeyOf(const storage::ScanRequest& scan);
  static std::size_t ChargeOf(const std::string& key, const std::string& wire) {
    return wire.capacity() + key.size();
  }
  // The page holds what a fresh scan would return now (for any reader).
  bool Current(const Entry& entry, const storage::ScanRequest& scan) const;
  // Keeps `page` in the entry at `key` its scan claimed (as `generation`), making room
  // within max_bytes_ by dropping the oldest pages kept.
  void KeepLocked(const std::string& key, uint64_t generation, SharedPage page,
                  uint64_t head_at_scan, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Drops kept pages from the oldest on while `drop(entry)` says so (and no longer).
  template <typename Drop>
  void DropOldestLocked(Drop drop) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Time Now() const { return options_.now ? options_.now() : absl::Now(); }

  const storage::ChangeLog* const log_;
  const Options options_;

  mutable Mutex mu_;
  CondVar scanned_cv_;  // an entry's scan ended (ready, or dropped)
  absl::flat_hash_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  // Kept pages, oldest first, as (key, generation); stale pairs are skipped.
  std::deque<std::pair<std::string, uint64_t>> order_ ABSL_GUARDED_BY(mu_);
  std::size_t held_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t next_generation_ ABSL_GUARDED_BY(mu_) = 1;
  int waiting_ ABSL_GUARDED_BY(mu_) = 0;
  // The last reader (its exclude_origin) and its last read; the last read of any other.
  std::optional<std::string> last_reader_ ABSL_GUARDED_BY(mu_);
  absl::Time last_read_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Time other_read_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::atomic<uint64_t> hits_{0};
  std::atomic<uint64_t> scans_{0};
};

}  // namespace pulse::server

#endif  // PULSESYNC_SERVER_SHARED_PAGES_H_
