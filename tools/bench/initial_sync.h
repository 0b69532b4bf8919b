// Initial sync: a new, empty peer (Store + SyncManager::InitialSync over gRPC) catching
// up with a hub holding the workload's experiences: once by the Pull loop, once through
// Snapshot (the hub's log compacted first, as after a long absence).
#ifndef PULSESYNC_TOOLS_BENCH_INITIAL_SYNC_H_
#define PULSESYNC_TOOLS_BENCH_INITIAL_SYNC_H_

#include "absl/status/status.h"
#include "tools/bench/bench_context.h"
#include "tools/bench/report.h"

namespace pulse::bench {

absl::Status ReportInitialSync(const BenchContext& context, Report& report);

}  // namespace pulse::bench

#endif  // PULSESYNC_TOOLS_BENCH_INITIAL_SYNC_H_
