// Propagation latency: from a push acknowledged on peer A to the change applied on peer B
// (a real Store + SyncManager over GrpcSyncTransport), p50/p99/p99.9, with B in live
// mode (a Subscribe stream) and in the original's polling mode (Pull every 1000 ms,
// LiveMode::kOff). A pushes one change at a time at a steady, light rate, so the hub is
// otherwise idle; B's apply times come from its log listener.
#ifndef PULSESYNC_TOOLS_BENCH_PROPAGATION_H_
#define PULSESYNC_TOOLS_BENCH_PROPAGATION_H_

#include "absl/status/status.h"
#include "tools/bench/bench_context.h"
#include "tools/bench/report.h"

namespace pulse::bench {

absl::Status ReportPropagation(const BenchContext& context, Report& report);

}  // namespace pulse::bench

#endif  // PULSESYNC_TOOLS_BENCH_PROPAGATION_H_
