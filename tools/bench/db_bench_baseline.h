// RocksDB's own write rate, the ceiling for push ingest: `db_bench --benchmarks=fillseq`
// with the hub's value size, batch size and sync setting, run as a child process on the
// same disk. Not thread-safe.
#ifndef PULSESYNC_TOOLS_BENCH_DB_BENCH_BASELINE_H_
#define PULSESYNC_TOOLS_BENCH_DB_BENCH_BASELINE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace pulse::bench {

struct FillseqFigures {
  double ops_per_second = 0;  // values written per second
  double value_bytes_per_second = 0;
  // Bytes db_bench handed to write(2) (its WAL and table files), from the /proc/PID/io
  // of the shell that reaped it; 0 when unknown.
  uint64_t written_bytes = 0;
  std::string command;  // the exact command line, for the report
};

// `num` values of `value_size` bytes, `batch` per WriteBatch, fsync each batch when
// `sync`; values as compressible as `compression_ratio` (db_bench's meaning). `preload`,
// when given, is a shared library put in db_bench's LD_PRELOAD; db_bench then also runs
// with the hub's malloc settings (server/allocator_tuning.h), as glibc tunables.
absl::StatusOr<FillseqFigures> RunFillseq(const std::string& db_bench, uint64_t num, int value_size,
                                          int batch, bool sync, double compression_ratio,
                                          const std::string& preload = "");

}  // namespace pulse::bench

#endif  // PULSESYNC_TOOLS_BENCH_DB_BENCH_BASELINE_H_
