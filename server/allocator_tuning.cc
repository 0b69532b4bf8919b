#include "server/allocator_tuning.h"

#include <malloc.h>

#include <algorithm>
#include <climits>

namespace pulse::server {

absl::Status KeepFreedMemory(std::size_t trim_threshold_bytes) {
  if (trim_threshold_bytes == 0) return absl::OkStatus();
  // Blocks up to 32 MiB (glibc's largest mmap threshold on 64-bit) come from the heaps,
  // where freed memory can be reused. Setting the threshold also turns off glibc's own
  // adjustment of it (and of the trim threshold, which it keeps at twice this one).
  constexpr int kMmapThreshold = 32 << 20;
  const int trim = static_cast<int>(std::min<std::size_t>(trim_threshold_bytes, INT_MAX));
  if (mallopt(M_MMAP_THRESHOLD, kMmapThreshold) != 1 || mallopt(M_TRIM_THRESHOLD, trim) != 1) {
    return absl::FailedPreconditionError("malloc refused M_MMAP_THRESHOLD / M_TRIM_THRESHOLD");
  }
  return absl::OkStatus();
}

}  // namespace pulse::server
