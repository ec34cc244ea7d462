"""Append to and verify the audit chain.

Appends run inside the caller's write transaction, so an action and its audit entry commit
together or not at all. Appends are serialised: SQLite write transactions start with
BEGIN IMMEDIATE (one writer at a time) and PostgreSQL takes a transaction-scoped advisory lock,
so two writers can never both extend the chain from the same head.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from safezone.audit.models import AuditEntry, AuditHead
from safezone.db.base import utcnow

GENESIS = "0" * 64
_PG_LOCK_KEY = 0x5AFE20E  # any constant shared by every SafeZone process


@dataclass(frozen=True)
class Actor:
    """Who did something, and from where."""

    id: int | None
    name: str
    client: str | None = None


SYSTEM = Actor(id=None, name="system")


def _canonical(value: Any) -> Any:
    # Round-trip through JSON so the hashed form is exactly what the JSON column gives back.
    return json.loads(json.dumps(value, ensure_ascii=False, default=str))


def entry_hash(
    *,
    id: int,
    at: datetime,
    actor_id: int | None,
    actor: str,
    action: str,
    entity_type: str | None,
    entity_id: str | None,
    details: dict[str, Any],
    client: str | None,
    prev_hash: str,
) -> str:
    """SHA-256 over the canonical JSON of an entry's content and its predecessor's hash."""
    body = {
        "id": id,
        "at": at.isoformat(timespec="microseconds"),
        "actor_id": actor_id,
        "actor": actor,
        "action": action,
        "entity_type": entity_type,
        "entity_id": entity_id,
        "details": details,
        "client": client,
        "prev_hash": prev_hash,
    }
    data = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


async def record(
    session: AsyncSession,
    *,
    actor: Actor,
    action: str,
    entity_type: str | None = None,
    entity_id: object | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry to the chain inside the session's (write) transaction."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
    head = await session.get(AuditHead, 1, with_for_update=False, populate_existing=True)
    prev_id, prev_hash = (head.last_id, head.last_hash) if head else (0, GENESIS)
    at = utcnow()
    content = {
        "id": prev_id + 1,
        "at": at,
        "actor_id": actor.id,
        "actor": actor.name[:100],
        "action": action,
        "entity_type": entity_type,
        "entity_id": None if entity_id is None else str(entity_id),
        "details": _canonical(details or {}),
        "client": actor.client,
    }
    digest = entry_hash(**content, prev_hash=prev_hash)
    entry = AuditEntry(**content, prev_hash=prev_hash, hash=digest)
    session.add(entry)
    if head is None:
        session.add(AuditHead(id=1, last_id=entry.id, last_hash=digest))
    else:
        head.last_id, head.last_hash = entry.id, digest
    await session.flush()
    return entry


@dataclass(frozen=True)
class Verdict:
    """Result of walking the chain. ``bad_id`` is the first entry that fails, if any."""

    ok: bool
    checked: int
    bad_id: int | None = None
    reason: str | None = None
    head_hash: str | None = None


async def _entries(session: AsyncSession, batch: int = 2000) -> AsyncIterator[AuditEntry]:
    last = 0
    while True:
        rows = (
            await session.scalars(
                select(AuditEntry).where(AuditEntry.id > last).order_by(AuditEntry.id).limit(batch)
            )
        ).all()
        if not rows:
            return
        for row in rows:
            yield row
        last = rows[-1].id
        session.expunge_all()


async def verify(session: AsyncSession) -> Verdict:
    """Walk the whole chain; stop at the first entry that was edited, removed or moved."""
    expected_id, prev_hash, checked = 1, GENESIS, 0
    async for e in _entries(session):
        if e.id != expected_id:
            return Verdict(False, checked, e.id, f"missing entries {expected_id}..{e.id - 1}")
        if e.prev_hash != prev_hash:
            return Verdict(False, checked, e.id, "link to previous entry broken")
        recomputed = entry_hash(
            id=e.id,
            at=e.at,
            actor_id=e.actor_id,
            actor=e.actor,
            action=e.action,
            entity_type=e.entity_type,
            entity_id=e.entity_id,
            details=e.details,
            client=e.client,
            prev_hash=e.prev_hash,
        )
        if recomputed != e.hash:
            return Verdict(False, checked, e.id, "content does not match its hash (edited)")
        prev_hash, expected_id, checked = e.hash, e.id + 1, checked + 1
    head = await session.get(AuditHead, 1)
    last_id = expected_id - 1
    if head is None:
        if checked:
            return Verdict(False, checked, last_id, "chain head record is missing")
        return Verdict(True, 0, head_hash=GENESIS)
    if head.last_id != last_id or head.last_hash != prev_hash:
        return Verdict(
            False,
            checked,
            min(head.last_id, last_id + 1),
            f"newest entries removed: head says #{head.last_id}, chain ends at #{last_id}",
        )
    return Verdict(True, checked, head_hash=prev_hash)
