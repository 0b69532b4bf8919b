#include "tests/support/full_disk_file_system.h"

#include <utility>

namespace pulse::testing {
namespace {

class FullDiskFile : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  FullDiskFile(std::unique_ptr<rocksdb::FSWritableFile> file,
               std::shared_ptr<std::atomic<bool>> full)
      : FSWritableFileOwnerWrapper(std::move(file)), full_(std::move(full)) {}

  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           rocksdb::IODebugContext* dbg) override {
    if (full_->load()) return NoSpace();
    return FSWritableFileOwnerWrapper::Append(data, options, dbg);
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           const rocksdb::DataVerificationInfo& info,
                           rocksdb::IODebugContext* dbg) override {
    if (full_->load()) return NoSpace();
    return FSWritableFileOwnerWrapper::Append(data, options, info, dbg);
  }
  rocksdb::IOStatus Flush(const rocksdb::IOOptions& options,
                          rocksdb::IODebugContext* dbg) override {
    if (full_->load()) return NoSpace();
    return FSWritableFileOwnerWrapper::Flush(options, dbg);
  }
  rocksdb::IOStatus Sync(const rocksdb::IOOptions& options, rocksdb::IODebugContext* dbg) override {
    if (full_->load()) return NoSpace();
    return FSWritableFileOwnerWrapper::Sync(options, dbg);
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& options,
                          rocksdb::IODebugContext* dbg) override {
    if (full_->load()) return NoSpace();
    return FSWritableFileOwnerWrapper::Fsync(options, dbg);
  }

 private:
  static rocksdb::IOStatus NoSpace() {
    return rocksdb::IOStatus::NoSpace("injected: no space left on device");
  }
  std::shared_ptr<std::atomic<bool>> full_;
};

}  // namespace

FullDiskFileSystem::FullDiskFileSystem()
    : FileSystemWrapper(rocksdb::FileSystem::Default()),
      full_(std::make_shared<std::atomic<bool>>(false)) {}

rocksdb::IOStatus FullDiskFileSystem::NewWritableFile(
    const std::string& name, const rocksdb::FileOptions& options,
    std::unique_ptr<rocksdb::FSWritableFile>* result, rocksdb::IODebugContext* dbg) {
  if (full_->load()) return rocksdb::IOStatus::NoSpace("injected: no space left on device");
  std::unique_ptr<rocksdb::FSWritableFile> file;
  rocksdb::IOStatus s = target()->NewWritableFile(name, options, &file, dbg);
  if (s.ok()) *result = std::make_unique<FullDiskFile>(std::move(file), full_);
  return s;
}

rocksdb::IOStatus FullDiskFileSystem::ReopenWritableFile(
    const std::string& name, const rocksdb::FileOptions& options,
    std::unique_ptr<rocksdb::FSWritableFile>* result, rocksdb::IODebugContext* dbg) {
  std::unique_ptr<rocksdb::FSWritableFile> file;
  rocksdb::IOStatus s = target()->ReopenWritableFile(name, options, &file, dbg);
  if (s.ok()) *result = std::make_unique<FullDiskFile>(std::move(file), full_);
  return s;
}

rocksdb::IOStatus FullDiskFileSystem::ReuseWritableFile(
    const std::string& name, const std::string& old_name, const rocksdb::FileOptions& options,
    std::unique_ptr<rocksdb::FSWritableFile>* result, rocksdb::IODebugContext* dbg) {
  std::unique_ptr<rocksdb::FSWritableFile> file;
  rocksdb::IOStatus s = target()->ReuseWritableFile(name, old_name, options, &file, dbg);
  if (s.ok()) *result = std::make_unique<FullDiskFile>(std::move(file), full_);
  return s;
}

}  // namespace pulse::testing
