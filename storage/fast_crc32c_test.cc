#include "storage/fast_crc32c.h"

#include <dlfcn.h>

#include <random>
#include <string>

#include "gtest/gtest.h"

namespace rocksdb::crc32c {
uint32_t Extend(uint32_t crc, const char* data, std::size_t n);
}  // namespace rocksdb::crc32c

namespace pulse::storage {
namespace {

using ExtendFn = uint32_t (*)(uint32_t, const char*, std::size_t);

// RocksDB's own, behind this binary's definition.
ExtendFn Library() {
  return reinterpret_cast<ExtendFn>(dlsym(RTLD_NEXT, "_ZN7rocksdb6crc32c6ExtendEjPKcm"));
}

TEST(FastCrc32cTest, TheStandardCheckValue) {
  EXPECT_EQ(Crc32cExtend(0, "123456789", 9), 0xe3069283u);  // CRC-32C's check value
  EXPECT_EQ(Crc32cExtend(0, "", 0), 0u);
}

// Byte for byte what RocksDB's own computes, for every length and alignment, in one call
// or continued in two: logs written by either read with the other.
TEST(FastCrc32cTest, SameAsRocksDbsOwn) {
  const ExtendFn library = Library();
  ASSERT_NE(library, nullptr) << "RocksDB's crc32c::Extend not found behind this binary's";
  std::mt19937 random(20261126);
  std::string bytes(4096 + 16, '\0');
  for (char& c : bytes) c = static_cast<char>(random());
  for (std::size_t offset = 0; offset < 16; ++offset) {
    for (std::size_t n : {0, 1, 7, 8, 9, 15, 16, 63, 64, 65, 1000, 4096}) {
      const char* data = bytes.data() + offset;
      const uint32_t seed = static_cast<uint32_t>(random());
      ASSERT_EQ(Crc32cExtend(seed, data, n), library(seed, data, n))
          << "offset " << offset << " length " << n;
      const std::size_t half = n / 2;
      EXPECT_EQ(Crc32cExtend(Crc32cExtend(seed, data, half), data + half, n - half),
                library(seed, data, n));
    }
  }
}

// The binary's rocksdb::crc32c::Extend is this one (what RocksDB's calls resolve to).
TEST(FastCrc32cTest, TheBinaryExportsItsDefinition) {
  auto exported =
      reinterpret_cast<ExtendFn>(dlsym(RTLD_DEFAULT, "_ZN7rocksdb6crc32c6ExtendEjPKcm"));
  EXPECT_EQ(exported, &rocksdb::crc32c::Extend);
  EXPECT_NE(exported, Library());
}

}  // namespace
}  // namespace pulse::storage
