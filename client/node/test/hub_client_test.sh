#!/usr/bin/env bash
# Runs hub_client.test.js with Node's test runner against the pulse_hub binary from this
# test's runfiles. Node resolves `require` from a file's real path, so the runfile
# symlinks lead it to client/node/node_modules in the source tree, which
# `tools/dev setup` fills from package-lock.json (npm ci); Bazel cannot ship an ignored
# node_modules as data. The proto files come from the runfiles.
set -euo pipefail
ROOT="$TEST_SRCDIR/$TEST_WORKSPACE"
NODE_DIR="$(dirname "$(readlink -f "$ROOT/client/node/package.json")")"
if [ ! -d "$NODE_DIR/node_modules/@grpc/grpc-js" ]; then
  echo "missing $NODE_DIR/node_modules: run tools/dev setup (npm ci in client/node)" >&2
  exit 1
fi
export PULSE_HUB_BINARY="$ROOT/server/pulse_hub"
export PULSESYNC_PROTO_DIR="$ROOT/proto"
exec node --test "$ROOT/client/node/test/hub_client.test.js"
