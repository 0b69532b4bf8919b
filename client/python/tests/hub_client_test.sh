#!/usr/bin/env bash
# Runs hub_client_test.py with /usr/bin/python3 (Debian's, which has grpcio; the python3
# first on PATH may not) against the pulse_hub binary from this test's runfiles.
set -euo pipefail
ROOT="$TEST_SRCDIR/$TEST_WORKSPACE"
STUBS="$TEST_TMPDIR/stubs"
"$ROOT/client/python/generate_stubs.sh" "$STUBS" "$ROOT/proto"
export PULSE_HUB_BINARY="$ROOT/server/pulse_hub"
export PYTHONPATH="$ROOT/client/python:$STUBS"
export PYTHONDONTWRITEBYTECODE=1  # the runfiles tree is not ours to write into
exec /usr/bin/python3 "$ROOT/client/python/tests/hub_client_test.py"
