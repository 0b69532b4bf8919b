// Pull and Subscribe delivery: changes per second a hub delivers to 1 and 16 peers that
// each read its whole log (the workload, loaded first), every peer on its own connection
// and thread, each page or event parsed as a peer parses it. Side by side: the same pages
// from the raw gRPC stream baseline (raw_stream_server.h), the ceiling of gRPC on
// loopback for these bytes.
#ifndef PULSESYNC_TOOLS_BENCH_DELIVERY_H_
#define PULSESYNC_TOOLS_BENCH_DELIVERY_H_

#include "absl/status/status.h"
#include "tools/bench/bench_context.h"
#include "tools/bench/report.h"

namespace pulse::bench {

absl::Status ReportDelivery(const BenchContext& context, Report& report);

}  // namespace pulse::bench

#endif  // PULSESYNC_TOOLS_BENCH_DELIVERY_H_
