#!/usr/bin/env bash
# Runs converge_test.py with /usr/bin/python3 (Debian's, with grpcio) against the hub,
# the C++ peer and both example agents from this test's runfiles. The Node agent finds
# its npm packages through the real path of its runfile (see
# client/node/test/hub_client_test.sh); tools/dev setup installs them.
set -euo pipefail
ROOT="$TEST_SRCDIR/$TEST_WORKSPACE"
NODE_DIR="$(dirname "$(readlink -f "$ROOT/client/node/package.json")")"
if [ ! -d "$NODE_DIR/node_modules/@grpc/grpc-js" ]; then
  echo "missing $NODE_DIR/node_modules: run tools/dev setup (npm ci in client/node)" >&2
  exit 1
fi
STUBS="$TEST_TMPDIR/stubs"
"$ROOT/client/python/generate_stubs.sh" "$STUBS" "$ROOT/proto"
export PULSE_HUB_BINARY="$ROOT/server/pulse_hub"
export CPP_PEER="$ROOT/tests/cross_language/cpp_peer"
export PYTHON_AGENT="$ROOT/client/python/examples/agent.py"
export NODE_AGENT="$ROOT/client/node/examples/agent.js"
export PULSESYNC_PROTO_DIR="$ROOT/proto"
export PYTHONPATH="$ROOT/client/python:$STUBS"
export PYTHONDONTWRITEBYTECODE=1  # the runfiles tree is not ours to write into
exec /usr/bin/python3 "$ROOT/tests/cross_language/converge_test.py"
