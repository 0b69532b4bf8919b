#include "server/pull_read_ahead.h"

#include <utility>

#include "absl/time/clock.h"

namespace pulse::server {

bool SameScan(const storage::ScanRequest& a, const storage::ScanRequest& b) {
  return a.after == b.after && a.max_changes == b.max_changes && a.max_bytes == b.max_bytes &&
         a.max_examined == b.max_examined && a.filter.collectives == b.filter.collectives &&
         a.filter.entity_types == b.filter.entity_types &&
         a.filter.exclude_origin == b.filter.exclude_origin &&
         a.filter.only_origin == b.filter.only_origin;
}

PullReadAhead::PullReadAhead(const storage::ChangeLog* log, SharedPages* pages, WorkPool* pool,
                             std::size_t max_bytes, absl::Duration max_age,
                             std::function<void()> before_scan)
    : log_(log),
      pages_(pages),
      pool_(pool),
      max_bytes_(max_bytes),
      max_age_(max_age),
      before_scan_(std::move(before_scan)) {}

void PullReadAhead::ReadAheadAfter(const std::string& peer, const storage::ScanRequest& scan,
                                   const storage::ScanResult& served) {
  if (max_bytes_ == 0 || !served.has_more) return;
  storage::ScanRequest next = scan;
  next.after = served.scanned_through;
  const absl::Time now = absl::Now();
  uint64_t generation = 0;
  {
    MutexLock lock(&mu_);
    DropExpiredLocked(now);
    if (held_bytes_ >= max_bytes_) return;
    Slot& slot = slots_[peer];
    if (slot.ready) held_bytes_ -= slot.page.wire->size();
    generation = next_generation_++;
    slot = Slot();
    slot.scan = next;
    slot.generation = generation;
    slot.made = now;
  }
  pool_->Schedule(
      [this, peer, generation, next = std::move(next)] { Fill(peer, generation, next); });
}

void PullReadAhead::Fill(const std::string& peer, uint64_t generation, storage::ScanRequest scan) {
  {
    MutexLock lock(&mu_);
    auto it = slots_.find(peer);
    // Taken before it started (that Pull scanned itself), or replaced: nothing to do.
    if (it == slots_.end() || it->second.generation != generation) return;
    it->second.started = true;
  }
  if (before_scan_) before_scan_();
  // The head before the scan: if the log grows meanwhile, Take sees a newer head and
  // refuses a page that reached the end (it might be missing the new entries).
  const uint64_t head = log_->Head();
  absl::StatusOr<SharedPage> page = pages_->Read(scan);
  MutexLock lock(&mu_);
  scanned_cv_.SignalAll();
  auto it = slots_.find(peer);
  if (it == slots_.end() || it->second.generation != generation) return;  // replaced
  if (!page.ok() || held_bytes_ + page->wire->size() > max_bytes_) {
    slots_.erase(it);  // the Pull itself will scan (and report any error)
    return;
  }
  held_bytes_ += page->wire->size();
  it->second.page = std::move(*page);
  it->second.head_at_scan = head;
  it->second.ready = true;
}

std::optional<SharedPage> PullReadAhead::Take(const std::string& peer,
                                              const storage::ScanRequest& scan) {
  // A scan still running is waited for this long at most, then left to finish unused.
  constexpr absl::Duration kScanWait = absl::Seconds(10);
  Slot slot;
  {
    MutexLock lock(&mu_);
    auto it = slots_.find(peer);
    if (it == slots_.end()) return std::nullopt;
    if (it->second.started && !it->second.ready && SameScan(it->second.scan, scan)) {
      const uint64_t generation = it->second.generation;
      const absl::Time deadline = absl::Now() + kScanWait;
      bool timed_out = false;
      while (!timed_out) {
        it = slots_.find(peer);
        // Dropped (its scan failed, or the page was over the budget), or replaced.
        if (it == slots_.end() || it->second.generation != generation) return std::nullopt;
        if (it->second.ready) break;
        timed_out = scanned_cv_.WaitWithDeadline(&mu_, deadline);
      }
      it = slots_.find(peer);
      if (it == slots_.end() || it->second.generation != generation) return std::nullopt;
    }
    slot = std::move(it->second);
    slots_.erase(it);  // a scan not started, or still running, finds no slot: dropped
    if (!slot.ready) return std::nullopt;
    held_bytes_ -= slot.page.wire->size();
  }
  if (!SameScan(slot.scan, scan)) return std::nullopt;
  // Entries after the cursor were compacted away: the fresh scan refuses it precisely.
  if (scan.after + 1 < log_->OldestRetained()) return std::nullopt;
  // A page that reached the end of the log is stale once the log has grown.
  if (!slot.page.result.has_more && log_->Head() != slot.head_at_scan) return std::nullopt;
  return std::move(slot.page);
}

std::size_t PullReadAhead::held_bytes() const {
  MutexLock lock(&mu_);
  return held_bytes_;
}

void PullReadAhead::DropExpiredLocked(absl::Time now) {
  if (now - last_sweep_ < absl::Seconds(1)) return;  // at most one sweep a second
  last_sweep_ = now;
  for (auto it = slots_.begin(); it != slots_.end();) {
    if (now - it->second.made > max_age_) {
      if (it->second.ready) held_bytes_ -= it->second.page.wire->size();
      slots_.erase(it++);
    } else {
      ++it;
    }
  }
}

}  // namespace pulse::server
