#!/usr/bin/env bash
# Generates the Python gRPC stubs of the hub's protocol into OUTDIR, from the .proto files
# in this repository (or PROTO_DIR), with the system protoc and Debian's grpc_python_plugin.
# Not grpcio-tools: Debian's python3-grpc-tools bundles a protoc too old for proto3
# `optional`. The pulsesync package imports `pulsedb.sync.v1.sync_pb2`: put OUTDIR on
# PYTHONPATH next to client/python.
#
#   client/python/generate_stubs.sh OUTDIR [PROTO_DIR]
set -euo pipefail
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: $0 OUTDIR [PROTO_DIR]" >&2
  exit 2
fi
OUT="$1"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PROTO_DIR="${2:-$HERE/../../proto}"
PLUGIN=/usr/bin/grpc_python_plugin
for tool in /usr/bin/protoc "$PLUGIN"; do
  [ -x "$tool" ] || { echo "$0: $tool missing (tools/dev setup installs it)" >&2; exit 1; }
done
mkdir -p "$OUT"
/usr/bin/protoc -I"$PROTO_DIR" --python_out="$OUT" --grpc_out="$OUT" \
  --plugin=protoc-gen-grpc="$PLUGIN" "$PROTO_DIR/pulsedb/sync/v1/sync.proto"
