#include "server/shared_pages.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/wire_buffer_pool.h"

namespace pulse::server {

namespace {

// A reader waits this long at most for another's scan of its page, then scans itself.
constexpr absl::Duration kScanWait = absl::Seconds(10);
// A page kept may waste this much of its buffer (beyond its own size) before it is copied
// into one of its size.
constexpr std::size_t kFitSlack = 64 << 10;

bool Lists(const std::vector<std::string>& origins, const std::string& origin) {
  return std::find(origins.begin(), origins.end(), origin) != origins.end();
}

}  // namespace

SharedPages::SharedPages(const storage::ChangeLog* log, Options options)
    : log_(log), options_(std::move(options)) {}

std::string SharedPages::KeyOf(const storage::ScanRequest& scan) {
  // Lengths first: no two different scans share a key.
  std::string key = absl::StrCat(scan.after, ",", scan.max_changes, ",", scan.max_bytes, ",",
                                 scan.max_examined, ",", scan.filter.only_origin.size(), ":",
                                 scan.filter.only_origin, ",", scan.filter.collectives.size());
  for (const std::string& c : scan.filter.collectives) absl::StrAppend(&key, ",", c.size(), ":", c);
  absl::StrAppend(&key, ",", scan.filter.entity_types.size());
  for (int type : scan.filter.entity_types) absl::StrAppend(&key, ",", type);
  return key;
}

std::size_t SharedPages::Charge(const storage::ScanRequest& scan, const std::string& wire) {
  return ChargeOf(KeyOf(scan), wire);
}

bool SharedPages::Current(const Entry& entry, const storage::ScanRequest& scan) const {
  // Entries after the cursor were compacted away: a fresh scan refuses it precisely.
  if (scan.after + 1 < log_->OldestRetained()) return false;
  // A page that reached the end of the log is stale once the log has grown.
  return entry.page.result.has_more || log_->Head() == entry.head_at_scan;
}

absl::StatusOr<SharedPage> SharedPages::Read(const storage::ScanRequest& scan) {
  const std::string& excluded = scan.filter.exclude_origin;
  std::string key;
  uint64_t generation = 0;  // of the entry this reader scans for; 0: for itself alone
  if (options_.max_bytes != 0) {
    key = KeyOf(scan);
    const absl::Time now = Now();
    MutexLock lock(&mu_);
    DropOldestLocked([&](const Entry& e) { return now - e.made > options_.max_age; });
    if (last_reader_ != excluded) {
      other_read_at_ = last_read_at_;
      last_reader_ = excluded;
    }
    last_read_at_ = now;
    const bool shared_reading = now - other_read_at_ <= options_.together;
    const absl::Time deadline = absl::Now() + kScanWait;  // real time, whatever the clock
    auto it = entries_.find(key);
    while (it != entries_.end() && !it->second.ready) {
      ++waiting_;
      const bool timed_out = scanned_cv_.WaitWithDeadline(&mu_, deadline);
      --waiting_;
      it = entries_.find(key);
      if (timed_out) break;
    }
    if (it != entries_.end() && it->second.ready && Current(it->second, scan) &&
        (excluded.empty() || !Lists(it->second.page.result.origins, excluded))) {
      hits_.fetch_add(1, std::memory_order_relaxed);
      return it->second.page;
    }
    if (shared_reading &&
        (it == entries_.end() || (it->second.ready && !Current(it->second, scan)))) {
      // Nobody holds or scans this page, or what is held is stale: scan it, to keep for
      // all if it may be shared. (A page held that has some of this reader's own changes
      // is left to the others.)
      if (it != entries_.end()) held_bytes_ -= it->second.charge;
      Entry& entry = entries_[key];
      entry = Entry();
      entry.generation = generation = next_generation_++;
    }
    // Otherwise (a lone reader, or a scan still running after the wait) this reader scans
    // its own page.
  }
  scans_.fetch_add(1, std::memory_order_relaxed);
  if (options_.before_scan) options_.before_scan();
  // The head before the scan: if the log grows meanwhile, a page that reached the end is
  // not served once the head has moved (it might be missing the new entries).
  const uint64_t head = log_->Head();
  std::unique_ptr<std::string> buffer = WireBufferPool::Shared().Take();
  absl::StatusOr<storage::ScanResult> result = log_->ScanWire(scan, buffer.get());
  // Shared only when it is every reader's page: nothing left out as this reader's own.
  const bool shareable = generation != 0 && result.ok() && result->appended > 0 &&
                         result->origins_listed &&
                         (excluded.empty() || !Lists(result->origins, excluded));
  SharedPage page;
  if (result.ok()) {
    // A buffer reserved for a full page (or reused from one) that holds a few changes is
    // not kept as it is: the page is kept in a buffer of its size.
    if (shareable && buffer->capacity() > 2 * buffer->size() + kFitSlack) {
      auto fitted = std::make_unique<std::string>(*buffer);
      WireBufferPool::Shared().Give(std::move(buffer));
      buffer = std::move(fitted);
    }
    page.wire = WireBufferPool::Shared().Share(std::move(buffer));
    page.result = std::move(*result);
  }
  if (generation != 0) {
    MutexLock lock(&mu_);
    scanned_cv_.SignalAll();
    auto it = entries_.find(key);
    if (it != entries_.end() && it->second.generation == generation) {
      if (shareable) {
        KeepLocked(key, generation, page, head, Now());
      } else {
        entries_.erase(it);
      }
    }
  }
  if (!result.ok()) return result.status();
  return page;
}

void SharedPages::KeepLocked(const std::string& key, uint64_t generation, SharedPage page,
                             uint64_t head_at_scan, absl::Time now) {
  const std::size_t size = ChargeOf(key, *page.wire);
  if (size > options_.max_bytes) {
    entries_.erase(key);
    return;
  }
  DropOldestLocked([&](const Entry&) { return held_bytes_ + size > options_.max_bytes; });
  // Not ready, ours is never dropped; look it up again all the same.
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.generation != generation) return;
  it->second.page = std::move(page);
  it->second.head_at_scan = head_at_scan;
  it->second.made = now;
  it->second.ready = true;
  it->second.charge = size;
  held_bytes_ += size;
  order_.emplace_back(key, generation);
}

template <typename Drop>
void SharedPages::DropOldestLocked(Drop drop) {
  while (!order_.empty()) {
    const auto& [key, generation] = order_.front();
    auto it = entries_.find(key);
    const bool kept =
        it != entries_.end() && it->second.generation == generation && it->second.ready;
    if (kept) {
      if (!drop(it->second)) return;
      held_bytes_ -= it->second.charge;
      entries_.erase(it);
    }
    order_.pop_front();
  }
}

std::size_t SharedPages::held_bytes() const {
  MutexLock lock(&mu_);
  return held_bytes_;
}

uint64_t SharedPages::hits() const { return hits_.load(std::memory_order_relaxed); }

uint64_t SharedPages::scans() const { return scans_.load(std::memory_order_relaxed); }

int SharedPages::waiting() const {
  MutexLock lock(&mu_);
  return waiting_;
}

}  // namespace pulse::server
