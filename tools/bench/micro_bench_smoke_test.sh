#!/usr/bin/env bash
# Runs every micro benchmark briefly: they build, run and report without errors. No
# timing is checked here (timings live in tools/bench/run, never in tests).
set -euo pipefail
out="$("$1" --smoke --benchmark_min_time=0.01 2>&1)" || { echo "$out"; exit 1; }
echo "$out"
if grep -q "ERROR OCCURRED" <<<"$out"; then exit 1; fi
for name in BM_EncodeChange BM_DecodeChange BM_ParsePushRequest BM_EchoGuardCheck \
    BM_ApplyPushBatch BM_WalScan BM_WalScanIntoArena BM_WalScanWire BM_Compaction; do
  grep -q "^$name" <<<"$out" || { echo "missing $name"; exit 1; }
done
