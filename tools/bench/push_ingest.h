// Push ingest: how many changes per second a hub durably applies (acknowledged pushes)
// from N concurrent peers, each pushing batches of the workload's experiences over its
// own connection (a PushStream; unary Push beside it), against a fresh pulse_hub process. Reports,
// side by side, RocksDB's own fillseq rate for the same value size, batch and sync setting.
#ifndef PULSESYNC_TOOLS_BENCH_PUSH_INGEST_H_
#define PULSESYNC_TOOLS_BENCH_PUSH_INGEST_H_

#include <optional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tools/bench/bench_context.h"
#include "tools/bench/report.h"

namespace pulse::bench {

struct IngestFigures {
  uint64_t changes = 0;
  double seconds = 0;
  double changes_per_second = 0;
  double bytes_per_second = 0;  // serialized change bytes acknowledged
  double mean_change_bytes = 0;
  double hub_cpu_seconds = 0;      // the hub process's CPU time during the run
  uint64_t hub_written_bytes = 0;  // what the hub handed to write(2) during the run
  uint64_t hub_page_faults = 0;    // the hub's minor page faults during the run
  double driver_cpu_seconds = 0;   // the peers' CPU time (this process) during the run
  // Shares of the run's wall time the hub's commit pipeline spent writing groups and
  // staging them (each is one group at a time), from its metrics; unset for a hub
  // without them.
  std::optional<double> write_busy;
  std::optional<double> stage_busy;
};

// How the peers push: one PushStream call each, with up to kStreamWindow batches
// unanswered (the hub stages one while it writes the one before), or unary Push calls,
// one batch at a time.
enum class PushMode { kStream, kUnary };
inline constexpr int kStreamWindow = 2;

// Against a fresh process of `hub_binary`.
absl::StatusOr<IngestFigures> MeasurePushIngest(const BenchContext& context,
                                                const std::string& hub_binary, int peers, bool sync,
                                                PushMode mode);

// Every peer count (1, 4, 16) with --sync=true and --sync=false, and the db_bench ratio
// (and the baseline hub's rate, when the context names one).
absl::Status ReportPushIngest(const BenchContext& context, Report& report);

}  // namespace pulse::bench

#endif  // PULSESYNC_TOOLS_BENCH_PUSH_INGEST_H_
