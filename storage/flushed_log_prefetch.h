// FlushedLogPrefetch: after a memtable flush of the log's column family written with
// O_DIRECT (StoreOptions::direct_io_for_flush), asks the kernel to read the new table
// file into the page cache (posix_fadvise WILLNEED), so that peers catching up read the
// recent log from memory, as they would had the flush gone through the page cache. The
// kernel reads the file in the background (no copy by the CPU, and no dirty pages to
// write back: what made buffered flushes expensive under sustained ingest).
//
// Only flushes: a compaction's output can be far larger than what is worth caching.
// Failures (the file is gone, the kernel declines) are ignored: the prefetch is a hint.
//
// Thread-safe: RocksDB calls it from its flush threads.
#ifndef PULSESYNC_STORAGE_FLUSHED_LOG_PREFETCH_H_
#define PULSESYNC_STORAGE_FLUSHED_LOG_PREFETCH_H_

#include <string>
#include <utility>

#include "rocksdb/listener.h"

namespace pulse::storage {

class FlushedLogPrefetch : public rocksdb::EventListener {
 public:
  // Prefetches the table files that flushes of the family named `family` write.
  explicit FlushedLogPrefetch(std::string family) : family_(std::move(family)) {}

  const char* Name() const override { return "FlushedLogPrefetch"; }
  void OnFlushCompleted(rocksdb::DB* db, const rocksdb::FlushJobInfo& info) override;

 private:
  const std::string family_;
};

}  // namespace pulse::storage

#endif  // PULSESYNC_STORAGE_FLUSHED_LOG_PREFETCH_H_
