#include "storage/rocks_change_log.h"

#include <algorithm>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_payloads.h"
#include "storage/keys.h"
#include "storage/rocks_status.h"

namespace pulse::storage {
namespace {

namespace pb = pulsedb::sync::v1;

constexpr std::size_t kRepeatedFieldOverhead = 6;

bool Matches(const ScanFilter& filter, const pb::SyncChange& change) {
  if (!filter.exclude_origin.empty() && change.source_instance() == filter.exclude_origin) {
    return false;
  }
  if (!filter.only_origin.empty() && change.source_instance() != filter.only_origin) {
    return false;
  }
  if (!filter.collectives.empty() &&
      std::find(filter.collectives.begin(), filter.collectives.end(), change.collective_id()) ==
          filter.collectives.end()) {
    return false;
  }
  if (!filter.entity_types.empty() &&
      std::find(filter.entity_types.begin(), filter.entity_types.end(), change.entity_type()) ==
          filter.entity_types.end()) {
    return false;
  }
  return true;
}

}  // namespace

RocksChangeLog::RocksChangeLog(rocksdb::DB* db, const ColumnFamilies& cf, uint64_t head,
                               uint64_t compacted_through, bool sync_writes)
    : db_(db),
      cf_(cf),
      sync_writes_(sync_writes),
      compacted_through_(compacted_through),
      head_(head) {}

uint64_t RocksChangeLog::Head() const {
  MutexLock lock(&head_mu_);
  return head_;
}

uint64_t RocksChangeLog::OldestRetained() const { return compacted_through_.load() + 1; }

absl::StatusOr<ScanResult> RocksChangeLog::Scan(const ScanRequest& request) const {
  const uint64_t head = Head();
  ScanResult result;
  result.scanned_through = request.after;
  const std::string lower = EncodeSequence(request.after + 1);
  const std::string upper = EncodeSequence(head + 1);
  rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions read;
  read.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read, cf_.wal));
  // The iterator pins what it sees. Checking the compaction mark after creating it means
  // either the mark is old, and the iterator still sees every entry, or we refuse.
  if (request.after < compacted_through_.load()) {
    return CursorCompactedError(request.after, OldestRetained());
  }
  if (request.after >= head) return result;
  std::size_t bytes = 0;
  std::size_t examined = 0;
  bool stopped_early = false;
  for (it->Seek(lower); it->Valid(); it->Next()) {
    absl::StatusOr<uint64_t> sequence =
        DecodeSequence(absl::string_view(it->key().data(), it->key().size()));
    if (!sequence.ok()) return sequence.status();
    if (*sequence != result.scanned_through + 1) {
      return absl::InternalError(absl::StrCat("change log has a gap: expected sequence ",
                                              result.scanned_through + 1, ", found ",
                                              *sequence));
    }
    if (request.max_examined != 0 && examined == request.max_examined) {
      stopped_early = true;
      break;
    }
    pb::SyncChange change;
    if (!change.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return absl::InternalError(absl::StrCat("corrupt change log entry at sequence ", *sequence));
    }
    if (Matches(request.filter, change)) {
      if (result.changes.size() == request.max_changes) {
        stopped_early = true;
        break;
      }
      // As an element of a reply's repeated field: the change plus its tag and length.
      const std::size_t size = change.ByteSizeLong() + kRepeatedFieldOverhead;
      if (request.max_bytes != 0 && bytes + size > request.max_bytes) {
        if (result.changes.empty()) {
          result.oversized = OversizedChange{*sequence, change.sequence(), size};
        }
        stopped_early = true;
        break;
      }
      bytes += size;
      result.changes.push_back(std::move(change));
    }
    ++examined;
    result.scanned_through = *sequence;
  }
  if (!it->status().ok()) return FromRocks(it->status(), "change log scan");
  if (!stopped_early && result.scanned_through != head) {
    return absl::InternalError(absl::StrCat("change log ends at ", result.scanned_through,
                                            " but its head is ", head));
  }
  result.has_more = result.scanned_through < head;
  return result;
}

absl::StatusOr<uint64_t> RocksChangeLog::CompactThrough(uint64_t sequence) {
  MutexLock lock(&compact_mu_);
  const uint64_t from = compacted_through_.load();
  const uint64_t to = std::min(sequence, Head());
  if (to <= from) return 0;
  // Readers refuse cursors below the new mark from now on (see Scan).
  compacted_through_.store(to);
  rocksdb::WriteBatch batch;
  const std::string begin = EncodeSequence(from + 1);
  const std::string end = EncodeSequence(to + 1);
  batch.DeleteRange(cf_.wal, begin, end);
  batch.Put(cf_.meta, kMetaCompactedThrough, EncodeSequence(to));
  rocksdb::WriteOptions write;
  write.sync = sync_writes_;
  rocksdb::Status s = db_->Write(write, &batch);
  if (!s.ok()) {
    compacted_through_.store(from);
    return FromRocks(s, "change log compaction");
  }
  return to - from;
}

bool RocksChangeLog::WaitForNew(uint64_t after, absl::Time deadline) const {
  MutexLock lock(&head_mu_);
  while (head_ <= after) {
    if (head_cv_.WaitWithDeadline(&head_mu_, deadline)) break;
  }
  return head_ > after;
}

uint64_t RocksChangeLog::AddListener(Listener listener) {
  MutexLock lock(&listeners_mu_);
  const uint64_t id = next_listener_id_++;
  listeners_.emplace(id, std::move(listener));
  return id;
}

void RocksChangeLog::RemoveListener(uint64_t id) {
  MutexLock lock(&listeners_mu_);
  listeners_.erase(id);
}

void RocksChangeLog::ResetEmpty(uint64_t sequence) {
  compacted_through_.store(sequence);
  MutexLock lock(&head_mu_);
  head_ = sequence;
}

void RocksChangeLog::Publish(uint64_t head) {
  {
    MutexLock lock(&head_mu_);
    if (head <= head_) return;
    head_ = head;
    head_cv_.SignalAll();
  }
  MutexLock lock(&listeners_mu_);
  for (auto& [id, listener] : listeners_) listener(head);
}

}  // namespace pulse::storage
