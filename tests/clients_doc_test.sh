#!/usr/bin/env bash
# Runs clients_doc_test.py with /usr/bin/python3 (Debian's, with grpcio). The Node
# examples require the client through a link to the real client/node folder, where
# `tools/dev setup` installed its npm packages (see client/node/test/hub_client_test.sh).
set -euo pipefail
ROOT="$TEST_SRCDIR/$TEST_WORKSPACE"
NODE_CLIENT_DIR="$(dirname "$(readlink -f "$ROOT/client/node/package.json")")"
if [ ! -d "$NODE_CLIENT_DIR/node_modules/@grpc/grpc-js" ]; then
  echo "missing $NODE_CLIENT_DIR/node_modules: run tools/dev setup (npm ci in client/node)" >&2
  exit 1
fi
STUBS="$TEST_TMPDIR/stubs"
"$ROOT/client/python/generate_stubs.sh" "$STUBS" "$ROOT/proto"
export NODE_CLIENT_DIR
export CLIENTS_DOC="$ROOT/docs/clients.md"
export PULSE_HUB_BINARY="$ROOT/server/pulse_hub"
export PULSESYNC_PROTO_DIR="$ROOT/proto"
export PYTHONPATH="$ROOT/client/python:$STUBS"
export PYTHONDONTWRITEBYTECODE=1  # the runfiles tree is not ours to write into
exec /usr/bin/python3 "$ROOT/tests/clients_doc_test.py"
