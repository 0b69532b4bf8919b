// Idle subscribers: the memory (VmRSS), threads and CPU of a pulse_hub process holding
// 1,000 and 10,000 open Subscribe streams of distinct peers (each shook hands first),
// with nothing being written. The streams come from this process over a few connections
// with gRPC's callback API (no thread per stream here either).
#ifndef PULSESYNC_TOOLS_BENCH_IDLE_SUBSCRIBERS_H_
#define PULSESYNC_TOOLS_BENCH_IDLE_SUBSCRIBERS_H_

#include "absl/status/status.h"
#include "tools/bench/bench_context.h"
#include "tools/bench/report.h"

namespace pulse::bench {

absl::Status ReportIdleSubscribers(const BenchContext& context, Report& report);

}  // namespace pulse::bench

#endif  // PULSESYNC_TOOLS_BENCH_IDLE_SUBSCRIBERS_H_
