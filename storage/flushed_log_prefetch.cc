#include "storage/flushed_log_prefetch.h"

#include <fcntl.h>
#include <unistd.h>

namespace pulse::storage {

void FlushedLogPrefetch::OnFlushCompleted(rocksdb::DB* /*db*/, const rocksdb::FlushJobInfo& info) {
  if (info.cf_name != family_) return;
  const int fd = open(info.file_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;  // already compacted away, or unreadable: nothing to warm
  posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED);  // a hint: a refusal changes nothing
  close(fd);
}

}  // namespace pulse::storage
