// How the hub process asks glibc's malloc to treat freed memory.
//
// By default glibc serves every block above a (dynamic) threshold with its own mmap and
// gives freed memory at the top of a heap back to the kernel once more than twice that
// threshold is free. A hub frees large blocks all the time: RocksDB's memtable arena
// (8 MiB blocks) after every flush, requests of about a megabyte after every push. Given
// back, the next memtable or request touches fresh pages again: a page fault and a
// zeroed page per 4 KiB, a fifth of the hub's CPU under push ingest (docs/benchmarks.md).
// KeepFreedMemory keeps them for reuse instead, up to `trim_threshold_bytes` free at the
// top of a heap; the process's resident memory then stays near its peak.
//
// Call once at process start, before other threads allocate. Not thread-safe.
#ifndef PULSESYNC_SERVER_ALLOCATOR_TUNING_H_
#define PULSESYNC_SERVER_ALLOCATOR_TUNING_H_

#include <cstddef>

#include "absl/status/status.h"

namespace pulse::server {

// 0 leaves glibc's defaults. FAILED_PRECONDITION when the allocator refused the settings
// (another malloc preloaded, or a sanitizer's): the hub runs the same, only with more
// page faults.
absl::Status KeepFreedMemory(std::size_t trim_threshold_bytes);

}  // namespace pulse::server

#endif  // PULSESYNC_SERVER_ALLOCATOR_TUNING_H_
