"""Index keys: the buckets a revision is filed under (docs/query-proofs.md).

Every revision is filed under its hour (``time``), its action's hour (``action``), its
actor's day (``actor``) and, when it has one, its target's day (``target``); and under
its action, actor and target of all time (bucket ``all``), which prove a query that
names no time range, or a range too long to prove bucket by bucket. The map
key of a bucket is ``HMAC-SHA256(index key, kind ‖ 0x00 ‖ value ‖ 0x00 ‖ bucket)``, so
that the map leaks no values to whoever sees it without the tenant's index key.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import NamedTuple, Protocol

from audit_trail.core.model import Actor, Target

INDEX_KEY_BYTES = 32
INDEX_KEY_DOMAIN = b"audit-trail:index-key:v1"


class Filable(Protocol):
    """What files a revision under its buckets and names it in a posting: an ``Entry``
    is one, and so is ``Filed``, which storage reads without the rest of the entry."""

    @property
    def id(self) -> str: ...
    @property
    def revision(self) -> int: ...
    @property
    def occurred_at(self) -> datetime: ...
    @property
    def action(self) -> str: ...
    @property
    def actor(self) -> Actor: ...
    @property
    def target(self) -> Target | None: ...
    @property
    def deleted(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Filed:
    """The fields of a revision that the index reads (its ``Filable`` part)."""

    id: str
    revision: int
    occurred_at: datetime
    action: str
    actor: Actor
    target: Target | None
    deleted: bool


class IndexKind(StrEnum):
    TIME = "time"
    ACTION = "action"
    ACTOR = "actor"
    TARGET = "target"

    @property
    def span(self) -> timedelta:
        """How much of ``occurred_at`` one bucket of this kind covers."""
        return _HOUR if self in (IndexKind.TIME, IndexKind.ACTION) else _DAY


ALL_TIME = "all"
"""The bucket of every ``occurred_at`` (not for ``time``: that would be the whole log)."""

_HOUR = timedelta(hours=1)
_DAY = timedelta(days=1)


class IndexKey(NamedTuple):
    """One bucket: a kind, the value it is about, and the bucket's name
    (``2024-03-05T14`` for an hour, ``2024-03-05`` for a day). A named tuple: an
    integration makes seven per change and files them in dicts."""

    kind: IndexKind
    value: str
    bucket: str

    def map_key(self, index_key: bytes) -> bytes:
        """Where this bucket sits in the map of a tenant whose index key is ``index_key``."""
        material = f"{self.kind.value}\x00{self.value}\x00{self.bucket}".encode()
        return hmac.digest(index_key, material, "sha256")


def target_value(target_type: str, target_id: str) -> str:
    """The value of a ``target`` key: type ‖ 0x00 ‖ id."""
    return f"{target_type}\x00{target_id}"


def bucket_name(kind: IndexKind, moment: datetime) -> str:
    """The bucket of ``kind`` that holds ``moment`` (UTC)."""
    utc = moment.astimezone(UTC)
    day = f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}"
    return f"{day}T{utc.hour:02d}" if kind.span == _HOUR else day


def bucket_start(kind: IndexKind, moment: datetime) -> datetime:
    """The first instant of the bucket of ``kind`` that holds ``moment``."""
    utc = moment.astimezone(UTC)
    if kind.span == _HOUR:
        return utc.replace(minute=0, second=0, microsecond=0)
    return utc.replace(hour=0, minute=0, second=0, microsecond=0)


def buckets_between(kind: IndexKind, since: datetime, until: datetime) -> Iterator[str]:
    """The buckets of ``kind`` that hold any instant of ``[since, until)``, oldest first."""
    if since >= until:
        return
    moment = bucket_start(kind, since)
    while moment < until:
        yield bucket_name(kind, moment)
        moment += kind.span


def revision_keys(revision: Filable) -> list[IndexKey]:
    """The buckets ``revision`` is filed under (a tombstone under none of its own: its
    postings go to the buckets of the revision it ends)."""
    if revision.deleted:
        return []
    at = revision.occurred_at.astimezone(UTC)
    day = f"{at.year:04d}-{at.month:02d}-{at.day:02d}"  # bucket_name, once for all kinds
    hour = f"{day}T{at.hour:02d}"
    keys = [
        IndexKey(IndexKind.TIME, "", hour),
        IndexKey(IndexKind.ACTION, revision.action, hour),
        IndexKey(IndexKind.ACTION, revision.action, ALL_TIME),
        IndexKey(IndexKind.ACTOR, revision.actor.id, day),
        IndexKey(IndexKind.ACTOR, revision.actor.id, ALL_TIME),
    ]
    if revision.target is not None:
        target = target_value(revision.target.type, revision.target.id)
        keys.append(IndexKey(IndexKind.TARGET, target, day))
        keys.append(IndexKey(IndexKind.TARGET, target, ALL_TIME))
    return keys


def index_key_hash(index_key: bytes) -> bytes:
    """What an index leaf commits of the tenant's index key:
    SHA-256("audit-trail:index-key:v1" ‖ 0x00 ‖ key)."""
    return hashlib.sha256(INDEX_KEY_DOMAIN + b"\x00" + index_key).digest()
