"""HubClient: one peer's connection to a PulseSync hub (pulsedb.sync.v1).

A thin wrapper over the generated stubs that keeps the per-peer state the protocol asks
every peer to keep:
- its instance id (16 bytes), sent as source_instance on every call;
- the next sequence of its own changes: push() numbers them strictly ascending from 1
  and never reuses a number. A push that failed in transit (the outcome unknown) can be
  retried with the same change objects, which keep their numbers: the hub acknowledges
  what already landed as duplicates instead of applying it twice. Retry before pushing
  anything newer: the hub takes any number at or below the highest it has applied for a
  replay;
- its pull cursor, a position in the hub's log: pull() and subscribe() follow it.

The wrapper persists nothing. A peer that comes back with the same instance_id must not
reuse sequences the hub has already acknowledged (they would be taken for replays and
dropped): pass next_sequence, or let handshake() ask the hub (SyncAdmin.Status, which
needs an admin token when the hub checks tokens). The cursor likewise starts at 0 (the
whole log) unless given.

Errors of the calls themselves are the grpc.RpcError they raised: the hub's status
codes (UNAVAILABLE, FAILED_PRECONDITION, INVALID_ARGUMENT, ...) are the API.
Not thread-safe, except Subscription.cancel().
"""

from dataclasses import dataclass
from typing import Iterable, Iterator, Optional, Sequence

import grpc

from ._proto import sync_pb2, sync_pb2_grpc
from .errors import HandshakeRefused, PulseSyncError, PushRejected
from .ids import ID_SIZE, new_id
from .subscription import Subscription

PROTOCOL_VERSION = 1
_MAX_MESSAGE_BYTES = 64 << 20
_DEFAULT_BATCH = 1000  # the hub's default limit, until its handshake says otherwise


@dataclass
class PushResult:
    accepted: int = 0  # applied, or acknowledged without effect (includes the two below)
    duplicates: int = 0  # already applied earlier (replays)
    conflicts: int = 0  # lost the hub's conflict rule
    acknowledged: int = 0  # every own change at or below this sequence is durable


class HubClient:
    def __init__(
        self,
        target: str,
        instance_id: Optional[bytes] = None,
        token: Optional[str] = None,
        *,
        next_sequence: Optional[int] = None,
        cursor: int = 0,
        timeout: float = 30.0,
    ):
        if instance_id is not None and len(instance_id) != ID_SIZE:
            raise ValueError(f"instance_id must be {ID_SIZE} raw bytes")
        self.instance_id = instance_id or new_id()
        # A reused identity must continue after what the hub already has.
        self._ask_hub_for_sequence = instance_id is not None and next_sequence is None
        self.next_sequence = next_sequence or 1
        self.cursor = cursor
        self.hub_id: Optional[bytes] = None
        self.limits: Optional[sync_pb2.Limits] = None
        self._hub_capabilities: frozenset = frozenset()
        self._timeout = timeout
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self._channel = grpc.insecure_channel(
            target,
            options=[
                ("grpc.max_receive_message_length", _MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", _MAX_MESSAGE_BYTES),
            ],
        )
        self._sync = sync_pb2_grpc.SyncServiceStub(self._channel)
        self._admin = sync_pb2_grpc.SyncAdminStub(self._channel)

    # ----- Handshake

    def handshake(
        self, capabilities: Sequence[str] = ("push", "pull", "subscribe")
    ) -> sync_pb2.HandshakeResponse:
        """Introduces this peer; every other call needs it first (the hub answers
        FAILED_PRECONDITION "unknown peer" otherwise). The other methods call it for
        you on first use."""
        response = self._sync.Handshake(
            sync_pb2.HandshakeRequest(
                instance_id=self.instance_id,
                protocol_version=PROTOCOL_VERSION,
                capabilities=list(capabilities),
            ),
            timeout=self._timeout,
            metadata=self._metadata,
        )
        if not response.accepted:
            raise HandshakeRefused(response.reason or "handshake not accepted")
        self.hub_id = response.instance_id
        self.limits = response.limits
        self._hub_capabilities = frozenset(response.capabilities)
        if self._ask_hub_for_sequence:
            self.next_sequence = max(self.next_sequence, self.acknowledged_sequence() + 1)
            self._ask_hub_for_sequence = False
        return response

    def acknowledged_sequence(self) -> int:
        """The highest sequence of this instance's changes the hub has applied (0 when
        none), from SyncAdmin.Status."""
        status = self._admin.Status(
            sync_pb2.HubStatusRequest(), timeout=self._timeout, metadata=self._metadata
        )
        for peer in status.peers:
            if peer.instance_id == self.instance_id:
                return peer.acknowledged_sequence
        return 0

    # ----- Push

    def push(self, changes: Iterable[sync_pb2.SyncChange]) -> PushResult:
        """Pushes this instance's own changes, in order, in batches within the hub's limit.

        Changes without a sequence get the next ones (in place, with source_instance
        set); a change that has one already (a retry) keeps it. Sequences must come out
        strictly ascending. Raises PushRejected when the hub stops at a change it cannot
        apply: everything before it is durable; it and the changes after it lose their
        numbers, so pushing them again numbers them anew (their old numbers would be
        taken for replays once anything newer landed). More than one batch goes on one
        PushStream call when the hub offers it (the hub applies a batch while it reads
        the next), else one Push call per batch.
        """
        changes = list(changes)
        self._number(changes)
        result = PushResult(acknowledged=0)
        if not changes:
            return result
        self._ensure_handshake()
        batch = (self.limits.max_batch_size if self.limits else 0) or _DEFAULT_BATCH
        requests = [
            sync_pb2.PushRequest(
                changes=changes[start : start + batch],
                source_instance=self.instance_id,
                target_instance=self.hub_id,
            )
            for start in range(0, len(changes), batch)
        ]
        if len(requests) > 1 and "push_stream" in self._hub_capabilities:
            # Several batches go on one PushStream: the hub applies each while it reads
            # the next, and answers them in order.
            call = self._sync.PushStream(
                iter(requests), timeout=self._timeout, metadata=self._metadata
            )
            responses = iter(call)
        else:
            call = None
            responses = (
                self._sync.Push(request, timeout=self._timeout, metadata=self._metadata)
                for request in requests
            )
        answered = 0
        for start, response in zip(range(0, len(changes), batch), responses):
            answered += 1
            result.accepted += response.accepted
            result.duplicates += response.duplicates
            result.conflicts += response.conflicts
            result.acknowledged = response.new_cursor.last_sequence
            if response.rejected:
                if call is not None:
                    call.cancel()  # the hub applied nothing after this batch either
                failed = start + len(changes[start : start + batch]) - response.rejected
                for change in changes[failed:]:
                    change.sequence = 0
                    change.ClearField("source_instance")
                raise PushRejected(
                    response.first_failure.sequence,
                    response.first_failure.reason,
                    response.new_cursor.last_sequence,
                )
        if answered != len(requests):
            raise RuntimeError(
                f"push stream ended after {answered} of {len(requests)} batches were answered"
            )
        return result

    def _number(self, changes: Sequence[sync_pb2.SyncChange]) -> None:
        # Plan first, so a batch that is out of order changes nothing.
        planned, next_sequence, previous = [], self.next_sequence, 0
        for change in changes:
            if change.source_instance and change.source_instance != self.instance_id:
                raise ValueError(
                    f"change {change.sequence} comes from another instance: a push "
                    "carries only this peer's own changes"
                )
            sequence = change.sequence or next_sequence
            if sequence <= previous:
                raise ValueError(f"sequences must be strictly ascending: {sequence} after {previous}")
            next_sequence = max(next_sequence, sequence + 1)
            planned.append(sequence)
            previous = sequence
        for change, sequence in zip(changes, planned):
            change.sequence = sequence
            change.source_instance = self.instance_id
        self.next_sequence = next_sequence

    # ----- Pull and Subscribe

    def pull(
        self,
        *,
        batch_size: int = 0,
        collectives: Sequence[bytes] = (),
        entity_types: Sequence[int] = (),
    ) -> Iterator[sync_pb2.SyncChange]:
        """Yields every other peer's changes after the cursor, page by page until the
        hub has nothing more. The cursor passes a page once the reader asks for what
        follows it (at-least-once delivery)."""
        self._ensure_handshake()
        while True:
            page = self._sync.Pull(
                sync_pb2.PullRequest(
                    cursor=self._cursor_message(),
                    batch_size=batch_size,
                    collectives=list(collectives),
                    entity_types=list(entity_types),
                    source_instance=self.instance_id,
                    target_instance=self.hub_id,
                ),
                timeout=self._timeout,
                metadata=self._metadata,
            )
            yield from page.changes
            moved = self._advance_cursor(page.new_cursor.last_sequence)
            if not page.has_more:
                return
            if not moved:
                raise PulseSyncError("the hub reports more changes but its cursor did not move")

    def subscribe(
        self,
        *,
        heartbeat_ms: int = 0,
        collectives: Sequence[bytes] = (),
        entity_types: Sequence[int] = (),
        timeout: Optional[float] = None,
    ) -> Subscription:
        """Opens a Subscribe stream from the cursor: other peers' changes as they
        commit. heartbeat_ms asks for an empty event that often when idle (0 = the hub's
        default); timeout bounds the whole stream (None = open until cancelled)."""
        self._ensure_handshake()
        call = self._sync.Subscribe(
            sync_pb2.SubscribeRequest(
                cursor=self._cursor_message(),
                collectives=list(collectives),
                entity_types=list(entity_types),
                source_instance=self.instance_id,
                target_instance=self.hub_id,
                heartbeat_interval_ms=heartbeat_ms,
            ),
            timeout=timeout,
            metadata=self._metadata,
        )
        return Subscription(self, call)

    # ----- Plumbing

    def close(self) -> None:
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def _ensure_handshake(self) -> None:
        if self.hub_id is None:
            self.handshake()

    def _cursor_message(self) -> sync_pb2.SyncCursor:
        return sync_pb2.SyncCursor(instance_id=self.hub_id, last_sequence=self.cursor)

    def _advance_cursor(self, position: int) -> bool:
        if position <= self.cursor:
            return False
        self.cursor = position
        return True
