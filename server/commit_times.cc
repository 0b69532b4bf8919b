#include "server/commit_times.h"

#include <algorithm>

namespace pulse::server {

CommitTimes::CommitTimes(storage::ChangeLog* log, std::size_t capacity)
    : log_(log), capacity_(std::max<std::size_t>(capacity, 1)) {
  // Listen first, then read the head: a commit in between is recorded and also lies at or
  // below the floor, which only makes it unknown (never wrong).
  listener_ = log_->AddListener([this](uint64_t head) { Record(head, absl::Now()); });
  const uint64_t head = log_->Head();
  MutexLock lock(&mu_);
  floor_ = std::max(floor_, head);
}

CommitTimes::~CommitTimes() { log_->RemoveListener(listener_); }

void CommitTimes::Record(uint64_t head, absl::Time when) {
  MutexLock lock(&mu_);
  if (!commits_.empty() && head <= commits_.back().first) return;
  commits_.emplace_back(head, when);
  while (commits_.size() > capacity_) {
    floor_ = std::max(floor_, commits_.front().first);
    commits_.pop_front();
  }
}

std::optional<absl::Time> CommitTimes::Of(uint64_t sequence) const {
  MutexLock lock(&mu_);
  return OfLocked(sequence);
}

std::optional<absl::Time> CommitTimes::OfLocked(uint64_t sequence) const {
  if (sequence <= floor_) return std::nullopt;
  // The first commit whose head reached `sequence` is the one that wrote it.
  auto it = std::lower_bound(
      commits_.begin(), commits_.end(), sequence,
      [](const std::pair<uint64_t, absl::Time>& c, uint64_t s) { return c.first < s; });
  if (it == commits_.end()) return std::nullopt;
  return it->second;
}

absl::Time CommitTimes::CommittedAt(const pulsedb::sync::v1::SyncChange& change) const {
  if (std::optional<absl::Time> t = Of(change.log_sequence())) return *t;
  return absl::FromUnixMillis(change.timestamp());
}

std::vector<absl::Time> CommitTimes::CommittedAt(
    const std::vector<storage::ScanResult::WireChange>& changes) const {
  std::vector<absl::Time> out;
  out.reserve(changes.size());
  MutexLock lock(&mu_);  // once per page, not per change
  for (const storage::ScanResult::WireChange& change : changes) {
    std::optional<absl::Time> known = OfLocked(change.log_sequence);
    out.push_back(known.has_value() ? *known : absl::FromUnixMillis(change.timestamp));
  }
  return out;
}

}  // namespace pulse::server
