"""Ids as the hub wants them: 16 raw bytes (a UUID), never text, on the wire.

New ids are UUID version 7 like the hub's own (48 bits of Unix milliseconds, then random
bits), so ids made later sort later in the stores' keys.
"""

import os
import time
import uuid

ID_SIZE = 16


def new_id() -> bytes:
    """A fresh UUID v7 as 16 raw bytes."""
    millis = time.time_ns() // 1_000_000
    raw = bytearray(millis.to_bytes(6, "big") + os.urandom(10))
    raw[6] = (raw[6] & 0x0F) | 0x70  # version 7
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    return bytes(raw)


def id_text(raw: bytes) -> str:
    """The canonical 8-4-4-4-12 form, for logs and JSON; plain hex if not 16 bytes."""
    if len(raw) != ID_SIZE:
        return raw.hex()
    return str(uuid.UUID(bytes=bytes(raw)))


def id_bytes(text: str) -> bytes:
    """Parses the canonical form (dashes optional) back into 16 raw bytes."""
    return uuid.UUID(text).bytes
