// SnapshotReader: a point-in-time view of a store for the Snapshot RPC: entities of the
// requested collectives, tombstones and origin marks, read from one RocksDB snapshot,
// with the log sequence that view is consistent with. Not thread-safe (one reader per
// stream); it holds the RocksDB snapshot until destroyed and must not outlive the Store.
#ifndef PULSESYNC_STORAGE_SNAPSHOT_READER_H_
#define PULSESYNC_STORAGE_SNAPSHOT_READER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "pulsedb/sync/v1/sync.pb.h"
#include "rocksdb/db.h"
#include "storage/column_families.h"

namespace pulse::storage {

class SnapshotReader {
 public:
  // `durable_head`, when given, is the store's published (durable) log head, read before
  // the call: sequence() is at most that.
  static absl::StatusOr<std::unique_ptr<SnapshotReader>> Open(
      rocksdb::DB* db, const ColumnFamilies& cf, std::vector<std::string> collectives,
      std::optional<uint64_t> durable_head = std::nullopt);
  ~SnapshotReader();
  SnapshotReader(const SnapshotReader&) = delete;
  SnapshotReader& operator=(const SnapshotReader&) = delete;

  // The log sequence the view is consistent with: resume pulling after it.
  uint64_t sequence() const { return sequence_; }
  // RocksDB's estimate of how many entities the view holds (for progress reports).
  uint64_t estimated_entities() const { return estimated_entities_; }

  // Fills `chunk` with the next items whose serialized size stays within `max_bytes`, and
  // with done/sequence on the last one. An item larger than max_bytes goes alone in its
  // chunk when it is at most `alone_up_to` (0 = max_bytes); RESOURCE_EXHAUSTED when it is
  // larger still; INTERNAL/DATA_LOSS on storage errors.
  absl::StatusOr<bool> Next(std::size_t max_bytes, pulsedb::sync::v1::SnapshotChunk* chunk,
                            std::size_t alone_up_to = 0);

 private:
  SnapshotReader(rocksdb::DB* db, const ColumnFamilies& cf, std::vector<std::string> collectives);
  bool Wanted(absl::string_view collective_id) const;
  void StartStage();
  // In the logged-experience stage: the experience whose row refers to the entry under
  // the iterator, body filled in; nullopt when there is none (or it is not wanted).
  absl::StatusOr<std::optional<pulsedb::sync::v1::VersionedEntity>> LoggedExperience();

  rocksdb::DB* db_;
  ColumnFamilies cf_;
  std::vector<std::string> collectives_;
  const rocksdb::Snapshot* snapshot_ = nullptr;
  uint64_t sequence_ = 0;
  uint64_t estimated_entities_ = 0;
  int stage_ = 0;  // index into the families read in order
  std::unique_ptr<rocksdb::Iterator> it_;
  bool done_ = false;
};

}  // namespace pulse::storage

#endif  // PULSESYNC_STORAGE_SNAPSHOT_READER_H_
