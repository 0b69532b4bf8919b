// RocksChangeLog: ChangeLog over the `wal` column family of a store's RocksDB. Entries
// are written by the store's commit path (WriteTxn::AppendChange); Publish() then makes
// them visible. Thread-safe. Borrows the DB and handles, which must outlive it.
#ifndef PULSESYNC_STORAGE_ROCKS_CHANGE_LOG_H_
#define PULSESYNC_STORAGE_ROCKS_CHANGE_LOG_H_

#include <atomic>
#include <cstdint>
#include <map>

#include "absl/base/thread_annotations.h"
#include "common/mutex.h"
#include "rocksdb/db.h"
#include "storage/change_log.h"
#include "storage/column_families.h"

namespace pulse::storage {

class RocksChangeLog final : public ChangeLog {
 public:
  // `head` and `compacted_through` as persisted in the store's meta family.
  RocksChangeLog(rocksdb::DB* db, const ColumnFamilies& cf, uint64_t head,
                 uint64_t compacted_through, bool sync_writes);

  uint64_t Head() const override;
  uint64_t OldestRetained() const override;
  absl::StatusOr<ScanResult> Scan(const ScanRequest& request) const override;
  absl::StatusOr<ScanResult> ScanInto(
      const ScanRequest& request,
      google::protobuf::RepeatedPtrField<pulsedb::sync::v1::SyncChange>* out) const override;
  absl::StatusOr<ScanResult> ScanWire(const ScanRequest& request, std::string* out) const override;
  absl::StatusOr<uint64_t> CompactThrough(uint64_t sequence) override;
  bool WaitForNew(uint64_t after, absl::Time deadline) const override;
  uint64_t AddListener(Listener listener) override;
  void RemoveListener(uint64_t id) override;

  // Makes entries up to `head` visible and wakes waiters and listeners. Called by the
  // store after the WriteBatch holding them is written, in commit order.
  void Publish(uint64_t head);

  // For Store::MarkHistoryUnavailableThrough: an empty log now starts after `sequence`.
  void ResetEmpty(uint64_t sequence);

 private:
  // The scan itself; `Sink` reads each entry and says where kept changes go (Scan's
  // vector, ScanInto's repeated field, ScanWire's bytes).
  template <typename Sink>
  absl::StatusOr<ScanResult> ScanTo(const ScanRequest& request, Sink& sink) const;

  rocksdb::DB* const db_;
  const ColumnFamilies cf_;
  const bool sync_writes_;
  std::atomic<uint64_t> compacted_through_;
  Mutex compact_mu_;  // one compaction at a time

  mutable Mutex head_mu_;
  mutable CondVar head_cv_;
  uint64_t head_ ABSL_GUARDED_BY(head_mu_);

  // Held while listeners run, so RemoveListener waits for a running call to finish.
  Mutex listeners_mu_;
  uint64_t next_listener_id_ ABSL_GUARDED_BY(listeners_mu_) = 1;
  std::map<uint64_t, Listener> listeners_ ABSL_GUARDED_BY(listeners_mu_);
};

}  // namespace pulse::storage

#endif  // PULSESYNC_STORAGE_ROCKS_CHANGE_LOG_H_
