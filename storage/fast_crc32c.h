// Hardware CRC32C for RocksDB's write-ahead log. Debian's RocksDB is a portable build:
// it checksums every WAL record with CRC32C computed from lookup tables, a byte at a
// time, on the commit writer's thread (12 % of the hub's CPU under push ingest, perf).
// fast_crc32c.cc defines rocksdb::crc32c::Extend, the library's own exported function,
// with the SSE4.2 crc32 instruction when the CPU has it (else it calls the library's);
// a binary linked with //storage:fast_crc32c and exporting that symbol (see
// storage/BUILD.bazel) has RocksDB's calls resolve to it. The checksum is the same, so
// logs written either way read either way. If a RocksDB build stops calling it through
// its symbol, the library's own is used: only slower.
#ifndef PULSESYNC_STORAGE_FAST_CRC32C_H_
#define PULSESYNC_STORAGE_FAST_CRC32C_H_

#include <cstddef>
#include <cstdint>

namespace pulse::storage {

// CRC32C of `data` continuing from `crc` (as rocksdb::crc32c::Extend: Extend(0, ...) is
// the standard CRC32C). Thread-safe.
uint32_t Crc32cExtend(uint32_t crc, const char* data, std::size_t n);
// Whether Crc32cExtend uses the CPU's crc32 instruction.
bool Crc32cInHardware();

}  // namespace pulse::storage

#endif  // PULSESYNC_STORAGE_FAST_CRC32C_H_
