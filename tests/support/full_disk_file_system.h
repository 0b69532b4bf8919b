// FullDiskFileSystem: a RocksDB FileSystem that behaves like the default one until
// SetFull(true), after which every write, flush and sync fails with "no space left",
// as a full disk would. For fault-injection tests. Thread-safe.
#ifndef PULSESYNC_TESTS_SUPPORT_FULL_DISK_FILE_SYSTEM_H_
#define PULSESYNC_TESTS_SUPPORT_FULL_DISK_FILE_SYSTEM_H_

#include <atomic>
#include <memory>
#include <string>

#include "rocksdb/file_system.h"

namespace pulse::testing {

class FullDiskFileSystem : public rocksdb::FileSystemWrapper {
 public:
  FullDiskFileSystem();
  const char* Name() const override { return "FullDiskFileSystem"; }
  void SetFull(bool full) { full_->store(full); }

  rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReopenWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                       std::unique_ptr<rocksdb::FSWritableFile>* result,
                                       rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReuseWritableFile(const std::string& name, const std::string& old_name,
                                      const rocksdb::FileOptions& options,
                                      std::unique_ptr<rocksdb::FSWritableFile>* result,
                                      rocksdb::IODebugContext* dbg) override;

 private:
  std::shared_ptr<std::atomic<bool>> full_;
};

}  // namespace pulse::testing

#endif  // PULSESYNC_TESTS_SUPPORT_FULL_DISK_FILE_SYSTEM_H_
