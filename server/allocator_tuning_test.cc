#include "server/allocator_tuning.h"

#include <sys/resource.h>

#include <cstdlib>
#include <cstring>

#include "gtest/gtest.h"

namespace pulse::server {
namespace {

long MinorFaults() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_minflt;
}

// Allocates `bytes`, writes every page, frees them; returns the page faults that took.
long TouchAndFree(std::size_t bytes) {
  const long before = MinorFaults();
  char* block = static_cast<char*>(std::malloc(bytes));
  for (std::size_t i = 0; i < bytes; i += 4096) block[i] = static_cast<char>(i);
  asm volatile("" : : "r"(block) : "memory");  // the writes and the block are used
  std::free(block);
  return MinorFaults() - before;
}

TEST(AllocatorTuningTest, ZeroLeavesTheDefaults) { EXPECT_TRUE(KeepFreedMemory(0).ok()); }

// What the hub relies on: a memtable-sized block freed and allocated again is served
// from the same memory, not from fresh pages. With glibc's defaults the first block is
// an mmap of its own, unmapped on free, and the second comes from fresh heap pages that
// are trimmed on free: 2,048 faults for each.
TEST(AllocatorTuningTest, AFreedLargeBlockIsReusedWithoutPageFaults) {
  absl::Status tuned = KeepFreedMemory(256 << 20);
  if (!tuned.ok()) GTEST_SKIP() << "another allocator (a sanitizer's?): " << tuned;
  constexpr std::size_t kBlock = 8 << 20;  // RocksDB's memtable arena block
  TouchAndFree(kBlock);                    // the first touch may fault
  const long again = TouchAndFree(kBlock);
  EXPECT_LT(again, 64) << "page faults when allocating the freed 8 MiB again";
}

}  // namespace
}  // namespace pulse::server
