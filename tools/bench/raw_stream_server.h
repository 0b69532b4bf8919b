// The raw gRPC stream baseline's server: RawStream.Stream sends the same pre-built page
// (a PullResponse of `page_changes` workload changes, as a hub would fill it) as many
// times as asked, with gRPC's callback API and no store behind it. Runs as its own
// process (bench_driver --serve_raw_stream), like the hub, so that both compete with the
// clients for the same two cores the same way.
#ifndef PULSESYNC_TOOLS_BENCH_RAW_STREAM_SERVER_H_
#define PULSESYNC_TOOLS_BENCH_RAW_STREAM_SERVER_H_

#include "tools/bench/workload.h"

namespace pulse::bench {

// Serves on 127.0.0.1:0, prints "raw_stream listening on HOST:PORT", returns at SIGTERM
// or SIGINT with the process exit code.
int ServeRawStream(const Workload& workload, int page_changes);

}  // namespace pulse::bench

#endif  // PULSESYNC_TOOLS_BENCH_RAW_STREAM_SERVER_H_
