"""Builders of the changes an agent pushes, and a few readers of received ones.

A builder fills in what the hub checks that the caller should not have to think about:
fresh 16-byte ids, the change's entity_type matching its payload, the change's
collective_id, millisecond timestamps, and an embedding of exactly the collective's
dimension. `sequence` and `source_instance` stay empty: HubClient.push assigns them.
"""

import time
from typing import Iterable, Mapping, Optional, Sequence

from ._proto import sync_pb2
from .ids import new_id


def now_millis() -> int:
    return time.time_ns() // 1_000_000


def collective_change(
    name: str,
    embedding_dimension: int,
    *,
    collective_id: Optional[bytes] = None,
    owner_id: Optional[bytes] = None,
) -> sync_pb2.SyncChange:
    """A change creating a collective; its payload's Collective is the one to build
    experiences in (see `created_collective`)."""
    if embedding_dimension <= 0:
        raise ValueError("embedding_dimension must be positive")
    stamp = now_millis()
    collective = sync_pb2.Collective(
        id=collective_id or new_id(),
        name=name,
        embedding_dimension=embedding_dimension,
        created_at=stamp,
        updated_at=stamp,
    )
    if owner_id is not None:
        collective.owner_id = owner_id
    return sync_pb2.SyncChange(
        collective_id=collective.id,
        entity_type=sync_pb2.SYNC_ENTITY_TYPE_COLLECTIVE,
        payload=sync_pb2.SyncPayload(collective_created=collective),
        timestamp=stamp,
    )


def experience_change(
    collective: sync_pb2.Collective,
    content: str,
    *,
    embedding: Optional[Sequence[float]] = None,
    experience_type: Optional[sync_pb2.ExperienceType] = None,
    importance: float = 0.5,
    confidence: float = 0.5,
    domain: Iterable[str] = (),
    source_agent: str = "",
    tags: Optional[Mapping[str, str]] = None,
) -> sync_pb2.SyncChange:
    """A change creating an experience in `collective`.

    The embedding defaults to zeros; one of another length than the collective's
    embedding_dimension raises ValueError here rather than INVALID_ARGUMENT at the hub.
    The type defaults to Generic.
    """
    dimension = collective.embedding_dimension
    vector = list(embedding) if embedding is not None else [0.0] * dimension
    if len(vector) != dimension:
        raise ValueError(
            f"embedding has {len(vector)} values; collective {collective.name!r} "
            f"wants {dimension}"
        )
    stamp = now_millis()
    experience = sync_pb2.Experience(
        id=new_id(),
        collective_id=collective.id,
        content=content,
        embedding=vector,
        experience_type=experience_type
        or sync_pb2.ExperienceType(generic=sync_pb2.Generic()),
        importance=importance,
        confidence=confidence,
        domain=list(domain),
        source_agent=source_agent,
        timestamp=stamp,
        tags=dict(tags or {}),
    )
    return sync_pb2.SyncChange(
        collective_id=collective.id,
        entity_type=sync_pb2.SYNC_ENTITY_TYPE_EXPERIENCE,
        payload=sync_pb2.SyncPayload(experience_created=experience),
        timestamp=stamp,
    )


def payload_kind(change: sync_pb2.SyncChange) -> str:
    """Which payload a change carries, e.g. "experience_created" ("" when none)."""
    return change.payload.WhichOneof("kind") or ""


def created_collective(change: sync_pb2.SyncChange) -> Optional[sync_pb2.Collective]:
    """The collective a change creates, or None."""
    if payload_kind(change) != "collective_created":
        return None
    return change.payload.collective_created


def created_experience(change: sync_pb2.SyncChange) -> Optional[sync_pb2.Experience]:
    """The experience a change creates, or None."""
    if payload_kind(change) != "experience_created":
        return None
    return change.payload.experience_created
