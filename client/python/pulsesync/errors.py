"""What the client raises beyond grpc.RpcError.

Transport and hub refusals (UNAVAILABLE, FAILED_PRECONDITION "unknown peer",
INVALID_ARGUMENT, ...) surface as the grpc.RpcError the call raised: the hub's status
codes are the API. These classes cover what arrives inside a successful reply.
"""


class PulseSyncError(Exception):
    """Base class of the client's own errors."""


class HandshakeRefused(PulseSyncError):
    """The hub answered the handshake with accepted=false (e.g. a protocol mismatch)."""


class PushRejected(PulseSyncError):
    """The hub applied a push only up to a change it could not apply.

    Everything below `sequence` is durable at the hub (`acknowledged` is the hub's cursor
    for this instance); the change at `sequence` and everything after it in the batch was
    not applied. Those changes were given back their unnumbered state: once the cause is
    fixed (say, the collective they need was pushed), push them again.
    """

    def __init__(self, sequence: int, reason: str, acknowledged: int):
        super().__init__(f"change {sequence} rejected: {reason}")
        self.sequence = sequence
        self.reason = reason
        self.acknowledged = acknowledged
