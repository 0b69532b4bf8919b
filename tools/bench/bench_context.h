// BenchContext: what every scenario of bench_driver needs: where the binaries are, the
// workload, and how big each scenario runs (the full run, or --quick for CI).
// A plain value type.
#ifndef PULSESYNC_TOOLS_BENCH_BENCH_CONTEXT_H_
#define PULSESYNC_TOOLS_BENCH_BENCH_CONTEXT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "tools/bench/workload.h"

namespace pulse::bench {

struct BenchContext {
  std::string hub_binary;   // bazel-bin/server/pulse_hub (built with -c opt)
  std::string self_binary;  // this driver: it also serves the raw gRPC stream baseline
  std::string db_bench;     // RocksDB's db_bench (Debian package rocksdb-tools)
  // A shared library with the hub's hardware CRC32C (storage/fast_crc32c.h), preloaded
  // into a second db_bench run beside the stock one; empty = no such run.
  std::string crc32c_preload;
  // Another pulse_hub (an older build) measured beside hub_binary, for before/after
  // figures of a change; empty = none.
  std::string baseline_hub_binary;
  bool quick = false;
  Workload workload;

  int batch = 500;                   // push and pull batch size
  int rounds = 3;                    // repetitions of each side-by-side comparison
  uint64_t ingest_changes = 100000;  // per push-ingest run
  std::vector<int> ingest_peers = {1, 4, 16};
  uint64_t delivery_changes = 100000;  // log each delivery peer reads in full
  int single_peer_passes = 3;          // times a lone delivery peer reads it
  int propagation_samples = 2000;      // per mode
  uint64_t initial_sync_changes = 100000;
  std::vector<int> idle_subscribers = {1000, 10000};
};

}  // namespace pulse::bench

#endif  // PULSESYNC_TOOLS_BENCH_BENCH_CONTEXT_H_
