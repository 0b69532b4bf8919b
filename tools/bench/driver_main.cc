// bench_driver: the end-to-end figures of docs/benchmarks.md against real pulse_hub
// processes on loopback, with their baselines measured side by side in the same run.
// Prints one table; exits 1 when a ratio misses its target, 2 when a scenario fails.
// Usually run through tools/bench/run.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <set>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "common/command_line.h"
#include "common/log.h"
#include "tools/bench/bench_context.h"
#include "tools/bench/delivery.h"
#include "tools/bench/idle_subscribers.h"
#include "tools/bench/initial_sync.h"
#include "tools/bench/propagation.h"
#include "tools/bench/push_ingest.h"
#include "tools/bench/raw_stream_server.h"
#include "tools/bench/report.h"

ABSL_FLAG(bool, quick, false, "smaller runs (CI): about two minutes in all");
ABSL_FLAG(std::string, hub_binary, "bazel-bin/server/pulse_hub",
          "the pulse_hub to measure (build it with -c opt)");
ABSL_FLAG(std::string, baseline_hub, "",
          "another pulse_hub build to measure beside --hub_binary (before/after ratios)");
ABSL_FLAG(int, rounds, 3, "repetitions of each side-by-side comparison (medians reported)");
ABSL_FLAG(std::string, db_bench, "/usr/bin/db_bench", "RocksDB's db_bench (rocksdb-tools)");
ABSL_FLAG(std::string, crc32c_preload, "",
          "libfast_crc32c_preload.so: also run db_bench with the hub's hardware CRC32C");
ABSL_FLAG(std::string, scenarios, "ingest,delivery,propagation,initial_sync,idle",
          "comma-separated scenarios to run");
ABSL_FLAG(int, batch, 500, "push and pull batch size");
ABSL_FLAG(uint64_t, ingest_changes, 0,
          "changes pushed per ingest run (0 = 100,000, or 20,000 with --quick)");
ABSL_FLAG(std::vector<std::string>, ingest_peers, std::vector<std::string>({"1", "4", "16"}),
          "peer counts the ingest scenario runs");
ABSL_FLAG(bool, serve_raw_stream, false,
          "internal: serve the raw gRPC stream baseline instead of measuring");

int main(int argc, char** argv) {
  std::vector<std::string> args = pulse::ParseFlagsOrExit(
      argc, argv,
      "bench_driver: end-to-end PulseSync figures (push ingest, delivery, propagation,\n"
      "initial sync, idle subscribers) against pulse_hub processes on loopback.\n"
      "Usage: bench_driver [--quick] [--hub_binary=...] [--scenarios=...]",
      "tools/bench/driver_main.cc");
  pulse::SetLogLevel(pulse::LogLevel::kError);
  pulse::bench::BenchContext context;
  context.batch = absl::GetFlag(FLAGS_batch);
  if (absl::GetFlag(FLAGS_serve_raw_stream)) {
    return pulse::bench::ServeRawStream(context.workload, context.batch);
  }
  context.hub_binary = absl::GetFlag(FLAGS_hub_binary);
  context.db_bench = absl::GetFlag(FLAGS_db_bench);
  context.crc32c_preload = absl::GetFlag(FLAGS_crc32c_preload);
  context.baseline_hub_binary = absl::GetFlag(FLAGS_baseline_hub);
  context.rounds = std::max(1, absl::GetFlag(FLAGS_rounds));
  context.self_binary = "/proc/self/exe";
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0) context.self_binary.assign(self, n);
  context.quick = absl::GetFlag(FLAGS_quick);
  if (absl::GetFlag(FLAGS_ingest_changes) > 0) {
    context.ingest_changes = absl::GetFlag(FLAGS_ingest_changes);
  }
  context.ingest_peers.clear();
  for (const std::string& peers : absl::GetFlag(FLAGS_ingest_peers)) {
    int n = 0;
    if (!absl::SimpleAtoi(peers, &n) || n < 1) {
      std::fprintf(stderr, "bench_driver: --ingest_peers: %s is not a peer count\n", peers.c_str());
      return 2;
    }
    context.ingest_peers.push_back(n);
  }
  if (context.quick) {
    context.ingest_changes = 20000;
    context.delivery_changes = 20000;
    context.single_peer_passes = 5;
    context.propagation_samples = 250;
    context.initial_sync_changes = 10000;
    context.idle_subscribers = {1000};
  }
  const std::vector<std::string> wanted = absl::StrSplit(absl::GetFlag(FLAGS_scenarios), ',');
  const std::set<std::string> chosen(wanted.begin(), wanted.end());

  pulse::bench::Report report;
  struct Scenario {
    const char* name;
    absl::Status (*run)(const pulse::bench::BenchContext&, pulse::bench::Report&);
  };
  const Scenario scenarios[] = {
      {"ingest", pulse::bench::ReportPushIngest},
      {"delivery", pulse::bench::ReportDelivery},
      {"propagation", pulse::bench::ReportPropagation},
      {"initial_sync", pulse::bench::ReportInitialSync},
      {"idle", pulse::bench::ReportIdleSubscribers},
  };
  for (const Scenario& s : scenarios) {
    if (!chosen.count(s.name)) continue;
    std::fprintf(stderr, "bench_driver: running %s\n", s.name);
    absl::Status status = s.run(context, report);
    if (!status.ok()) {
      std::fprintf(stderr, "bench_driver: %s failed: %s\n", s.name, status.ToString().c_str());
      report.Print(std::cout);
      return 2;
    }
  }
  report.Print(std::cout);
  return report.AllRatiosMet() ? 0 : 1;
}
