"""pulsesync: a Python client for the PulseSync hub (pulsedb.sync.v1 over gRPC).

    from pulsesync import HubClient, collective_change, experience_change

Needs the generated stubs on the path (client/python/generate_stubs.sh OUTDIR).
"""

from ._proto import sync_pb2
from .changes import (
    collective_change,
    created_collective,
    created_experience,
    experience_change,
    payload_kind,
)
from .client import PROTOCOL_VERSION, HubClient, PushResult
from .errors import HandshakeRefused, PulseSyncError, PushRejected
from .ids import id_bytes, id_text, new_id
from .subscription import Subscription

__all__ = [
    "HubClient",
    "PushResult",
    "Subscription",
    "PROTOCOL_VERSION",
    "collective_change",
    "experience_change",
    "created_collective",
    "created_experience",
    "payload_kind",
    "HandshakeRefused",
    "PulseSyncError",
    "PushRejected",
    "new_id",
    "id_text",
    "id_bytes",
    "sync_pb2",
]
