#include "storage/rocks_change_log.h"

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_payloads.h"
#include "storage/change_header.h"
#include "storage/keys.h"
#include "storage/rocks_status.h"

namespace pulse::storage {
namespace {

namespace pb = pulsedb::sync::v1;

constexpr std::size_t kRepeatedFieldOverhead = 6;

// A scan's filter, ready to be matched against every entry: its collectives sorted, so
// that a long list (a peer chooses it) costs a binary search per entry, not a pass.
class EntryFilter {
 public:
  explicit EntryFilter(const ScanFilter& filter)
      : filter_(filter), collectives_(filter.collectives.begin(), filter.collectives.end()) {
    std::sort(collectives_.begin(), collectives_.end());
  }
  bool Matches(absl::string_view source, absl::string_view collective, int entity_type) const {
    if (!filter_.exclude_origin.empty() && source == filter_.exclude_origin) return false;
    if (!filter_.only_origin.empty() && source != filter_.only_origin) return false;
    if (!collectives_.empty() &&
        !std::binary_search(collectives_.begin(), collectives_.end(), collective)) {
      return false;
    }
    if (!filter_.entity_types.empty() &&
        std::find(filter_.entity_types.begin(), filter_.entity_types.end(), entity_type) ==
            filter_.entity_types.end()) {
      return false;
    }
    return true;
  }

 private:
  const ScanFilter& filter_;
  std::vector<absl::string_view> collectives_;
};

// Sinks: Read an entry's bytes, then Keep (with its log position) or Drop it.
// Scan's: parsed into a vector of its own.
class VectorSink {
 public:
  explicit VectorSink(std::vector<pb::SyncChange>* out) : out_(out) {}
  bool Read(absl::string_view value) {
    change_ = &out_->emplace_back();
    return change_->ParseFromArray(value.data(), static_cast<int>(value.size()));
  }
  bool Matches(const EntryFilter& filter) const {
    return filter.Matches(change_->source_instance(), change_->collective_id(),
                          change_->entity_type());
  }
  std::size_t Size() const { return change_->ByteSizeLong(); }
  uint64_t OriginSequence() const { return change_->sequence(); }
  void Keep(uint64_t) {}
  void Drop() { out_->pop_back(); }

 private:
  std::vector<pb::SyncChange>* const out_;
  pb::SyncChange* change_ = nullptr;
};

// ScanInto's: parsed straight into a repeated field, maybe on an arena (a dropped
// element's memory is reused by the next).
class RepeatedSink {
 public:
  explicit RepeatedSink(google::protobuf::RepeatedPtrField<pb::SyncChange>* out) : out_(out) {}
  bool Read(absl::string_view value) {
    change_ = out_->Add();
    return change_->ParseFromArray(value.data(), static_cast<int>(value.size()));
  }
  bool Matches(const EntryFilter& filter) const {
    return filter.Matches(change_->source_instance(), change_->collective_id(),
                          change_->entity_type());
  }
  std::size_t Size() const { return change_->ByteSizeLong(); }
  uint64_t OriginSequence() const { return change_->sequence(); }
  void Keep(uint64_t) {}
  void Drop() { out_->RemoveLast(); }

 private:
  google::protobuf::RepeatedPtrField<pb::SyncChange>* const out_;
  pb::SyncChange* change_ = nullptr;
};

// ScanWire's: the stored bytes as they are, framed as field 1 of a reply. A stored entry
// is a canonical serialization, so its size is what ByteSizeLong would say.
class WireSink {
 public:
  // `reserve_for`: how many changes the page may hold, `max_bytes` its budget (0 = none):
  // room for them is reserved once the first change's size is known, so the page is not
  // copied again and again as it grows.
  WireSink(std::string* out, ScanResult* result, std::size_t reserve_for, std::size_t max_bytes)
      : out_(out), result_(result), reserve_for_(reserve_for), max_bytes_(max_bytes) {}
  bool Read(absl::string_view value) {
    value_ = value;
    if (!ReadChangeHeader(value, &header_)) return false;
    NoteOrigin(header_.source_instance);
    return true;
  }
  bool Matches(const EntryFilter& filter) const {
    return filter.Matches(header_.source_instance, header_.collective_id, header_.entity_type);
  }
  std::size_t Size() const { return value_.size(); }
  uint64_t OriginSequence() const { return header_.sequence; }
  void Keep(uint64_t log_sequence) {
    result_->wire_changes.push_back({log_sequence, header_.timestamp});
    if (appended_ == 0) {
      std::size_t room = reserve_for_ * (value_.size() + 8);
      if (max_bytes_ != 0) room = std::min(room, max_bytes_);
      out_->reserve(out_->size() + room);
    }
    out_->push_back(static_cast<char>((1 << 3) | 2));  // field 1, length-delimited
    uint64_t length = value_.size();
    while (length >= 0x80) {
      out_->push_back(static_cast<char>(length | 0x80));
      length >>= 7;
    }
    out_->push_back(static_cast<char>(length));
    out_->append(value_.data(), value_.size());
    ++appended_;
  }
  void Drop() {}
  std::size_t appended() const { return appended_; }

 private:
  // Entries come in runs from one origin (a push's batch): one compare for most.
  void NoteOrigin(absl::string_view origin) {
    std::vector<std::string>& origins = result_->origins;
    if (!origins.empty() && origins.back() == origin) return;
    if (std::find(origins.begin(), origins.end(), origin) != origins.end()) return;
    if (origins.size() == ScanResult::kMaxListedOrigins) {
      result_->origins_listed = false;
      return;
    }
    origins.emplace_back(origin);
  }

  std::string* const out_;
  ScanResult* const result_;
  const std::size_t reserve_for_;
  const std::size_t max_bytes_;
  absl::string_view value_;
  ChangeHeader header_;
  std::size_t appended_ = 0;
};

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
  ScanResult result;
  VectorSink sink(&result.changes);
  absl::StatusOr<ScanResult> scanned = ScanTo(request, sink);
  if (!scanned.ok()) return scanned.status();
  scanned->changes = std::move(result.changes);
  return scanned;
}

absl::StatusOr<ScanResult> RocksChangeLog::ScanWire(const ScanRequest& request,
                                                    std::string* out) const {
  ScanResult noted;  // what the sink notes as it goes
  WireSink sink(out, &noted, std::min<std::size_t>(request.max_changes, 100000), request.max_bytes);
  absl::StatusOr<ScanResult> scanned = ScanTo(request, sink);
  if (scanned.ok()) {
    scanned->appended = sink.appended();
    scanned->wire_changes = std::move(noted.wire_changes);
    scanned->origins = std::move(noted.origins);
    scanned->origins_listed = noted.origins_listed;
  }
  return scanned;
}

absl::StatusOr<ScanResult> RocksChangeLog::ScanInto(
    const ScanRequest& request, google::protobuf::RepeatedPtrField<pb::SyncChange>* out) const {
  RepeatedSink sink(out);
  return ScanTo(request, sink);
}

template <typename Sink>
absl::StatusOr<ScanResult> RocksChangeLog::ScanTo(const ScanRequest& request, Sink& sink) const {
  const uint64_t head = Head();
  ScanResult result;
  result.scanned_through = request.after;
  const std::string lower = EncodeSequence(request.after + 1);
  const std::string upper = EncodeSequence(head + 1);
  rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions read;
  read.iterate_upper_bound = &upper_slice;
  // A page is read front to back: read ahead in large steps rather than block by block.
  read.readahead_size = 1 << 20;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read, cf_.wal));
  // The iterator pins what it sees. Checking the compaction mark after creating it means
  // either the mark is old, and the iterator still sees every entry, or we refuse.
  if (request.after < compacted_through_.load()) {
    return CursorCompactedError(request.after, OldestRetained());
  }
  if (request.after >= head) return result;
  std::size_t bytes = 0;
  const EntryFilter filter(request.filter);
  std::size_t examined = 0;
  std::size_t kept = 0;
  bool stopped_early = false;
  for (it->Seek(lower); it->Valid(); it->Next()) {
    absl::StatusOr<uint64_t> sequence =
        DecodeSequence(absl::string_view(it->key().data(), it->key().size()));
    if (!sequence.ok()) return sequence.status();
    if (*sequence != result.scanned_through + 1) {
      return absl::InternalError(absl::StrCat("change log has a gap: expected sequence ",
                                              result.scanned_through + 1, ", found ", *sequence));
    }
    if (request.max_examined != 0 && examined == request.max_examined) {
      stopped_early = true;
      break;
    }
    const absl::string_view value(it->value().data(), it->value().size());
    if (!sink.Read(value)) {
      sink.Drop();
      return absl::InternalError(absl::StrCat("corrupt change log entry at sequence ", *sequence));
    }
    if (sink.Matches(filter)) {
      if (kept == request.max_changes) {
        sink.Drop();
        stopped_early = true;
        break;
      }
      // As an element of a reply's repeated field: the change plus its tag and length.
      const std::size_t size = sink.Size() + kRepeatedFieldOverhead;
      if (request.max_bytes != 0 && bytes + size > request.max_bytes) {
        if (kept == 0) {
          result.oversized = OversizedChange{*sequence, sink.OriginSequence(), size};
        }
        sink.Drop();
        stopped_early = true;
        break;
      }
      bytes += size;
      ++kept;
      sink.Keep(*sequence);
    } else {
      sink.Drop();
    }
    ++examined;
    result.scanned_through = *sequence;
  }
  if (!it->status().ok()) return FromRocks(it->status(), "change log scan");
  if (!stopped_early && result.scanned_through != head) {
    return absl::InternalError(
        absl::StrCat("change log ends at ", result.scanned_through, " but its head is ", head));
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
