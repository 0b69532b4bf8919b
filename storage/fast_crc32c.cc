#include "storage/fast_crc32c.h"

#include <dlfcn.h>
#include <nmmintrin.h>

#include <cstring>

namespace pulse::storage {
namespace {

using ExtendFn = uint32_t (*)(uint32_t, const char*, std::size_t);

constexpr char kRocksExtend[] = "_ZN7rocksdb6crc32c6ExtendEjPKcm";

__attribute__((target("sse4.2"))) uint32_t ExtendInHardware(uint32_t crc, const char* data,
                                                            std::size_t n) {
  uint64_t value = crc ^ 0xffffffffu;
  for (; n >= 8; n -= 8, data += 8) {
    uint64_t word;
    std::memcpy(&word, data, sizeof word);
    value = _mm_crc32_u64(value, word);
  }
  auto small = static_cast<uint32_t>(value);
  for (; n > 0; --n, ++data) small = _mm_crc32_u8(small, static_cast<uint8_t>(*data));
  return small ^ 0xffffffffu;
}

// RocksDB's own (the next definition of the symbol after this binary's).
ExtendFn LibraryExtend() {
  static const ExtendFn next = reinterpret_cast<ExtendFn>(dlsym(RTLD_NEXT, kRocksExtend));
  return next;
}

uint32_t ExtendBitwise(uint32_t crc, const char* data, std::size_t n) {
  crc = ~crc;
  for (; n > 0; --n, ++data) {
    crc ^= static_cast<uint8_t>(*data);
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1u)));
  }
  return ~crc;
}

}  // namespace

bool Crc32cInHardware() {
  static const bool hardware = __builtin_cpu_supports("sse4.2");
  return hardware;
}

uint32_t Crc32cExtend(uint32_t crc, const char* data, std::size_t n) {
  if (Crc32cInHardware()) return ExtendInHardware(crc, data, n);
  if (ExtendFn library = LibraryExtend(); library != nullptr) return library(crc, data, n);
  return ExtendBitwise(crc, data, n);
}

}  // namespace pulse::storage

// RocksDB's function, defined here so that a binary exporting it interposes the library's.
namespace rocksdb::crc32c {
uint32_t Extend(uint32_t crc, const char* data, std::size_t n) {
  return pulse::storage::Crc32cExtend(crc, data, n);
}
}  // namespace rocksdb::crc32c
