"""The generated protocol modules, imported in one place.

The stubs are generated, not committed (client/python/generate_stubs.sh), so a missing
generation step should fail here with a message that says how to fix it, rather than
as a bare ModuleNotFoundError deep inside the client.
"""

try:
    from pulsedb.sync.v1 import sync_pb2, sync_pb2_grpc  # noqa: F401
except ImportError as error:  # pragma: no cover - exercised by hand only
    raise ImportError(
        "pulsesync needs the generated protocol stubs: run "
        "client/python/generate_stubs.sh OUTDIR and put OUTDIR on PYTHONPATH"
    ) from error

__all__ = ["sync_pb2", "sync_pb2_grpc"]
