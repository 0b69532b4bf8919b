#!/usr/bin/env bash
# The wire protocol compiles unchanged for other languages: Python stubs from the system
# protoc and grpc_python_plugin import and round-trip a message with /usr/bin/python3.
set -euo pipefail
PROTO_ROOT="$TEST_SRCDIR/$TEST_WORKSPACE/proto"
OUT="$TEST_TMPDIR/py"
mkdir -p "$OUT"
/usr/bin/protoc -I"$PROTO_ROOT" --python_out="$OUT" --grpc_out="$OUT" \
  --plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin "$PROTO_ROOT/pulsedb/sync/v1/sync.proto"
# Python's installed `grpc` package owns the grpc.* namespace, so the health protocol is
# generated as top-level modules (health_pb2, health_pb2_grpc).
/usr/bin/protoc -I"$PROTO_ROOT/grpc/health/v1" --python_out="$OUT" --grpc_out="$OUT" \
  --plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin "$PROTO_ROOT/grpc/health/v1/health.proto"
PYTHONPATH="$OUT" /usr/bin/python3 - <<'PY'
from pulsedb.sync.v1 import sync_pb2, sync_pb2_grpc
import health_pb2_grpc
change = sync_pb2.SyncChange(sequence=7, entity_type=sync_pb2.SYNC_ENTITY_TYPE_EXPERIENCE)
change.payload.experience_created.content = "portable"
change.payload.experience_created.tags["k"] = "v"
update = sync_pb2.ExperienceUpdate(importance=0.5)
assert update.HasField("importance")  # proto3 optional survives
back = sync_pb2.SyncChange.FromString(change.SerializeToString())
assert back.payload.experience_created.tags["k"] == "v"
assert hasattr(sync_pb2_grpc, "SyncServiceStub") and hasattr(sync_pb2_grpc, "SyncAdminStub")
print("python stubs ok")
PY
