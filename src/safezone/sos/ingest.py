"""Storing box events exactly once.

A batch (whatever is already queued when a worker picks up an event, never waiting for more)
is stored in one write transaction: the boxes and the already-stored event ids are read with
one query each, and each new event is inserted with what it means (``on_box_event`` of the
alarm pipeline) inside its own SAVEPOINT, so one event that fails is rolled back alone and is
simply not acknowledged (the box resends it). ``event_id`` is unique in the database, so a
resend of a committed event is a duplicate: acknowledged again, stored nothing.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from safezone.alarms.effects import Effect
from safezone.alarms.pipeline import on_box_event
from safezone.db.base import utcnow
from safezone.db.engine import Database
from safezone.settings import Settings
from safezone.sos.models import BoxEvent, SosBox
from safezone.sos.protocol import BoxEventMessage, SelfTest
from safezone.sos.stats import LinkStats

log = logging.getLogger(__name__)
_RETRIES = 4


def _transient(exc: DBAPIError) -> bool:
    """A deadlock or serialisation failure: safe to run the whole transaction again."""
    code = getattr(exc.orig, "pgcode", None) or getattr(exc.orig, "sqlstate", None)
    return code in ("40P01", "40001") or "deadlock detected" in str(exc)


@dataclass
class Stored:
    """What to do after the commit: run ``effects``, then send ``acks`` (code, event_id)."""

    acks: list[tuple[str, str]] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)


async def store_events(
    db: Database,
    *,
    settings: Settings,
    stats: LinkStats,
    batch: Sequence[tuple[str, BoxEventMessage]],
) -> Stored:
    """Store a batch of (box code, event); returns the acks and effects for after the commit."""
    try:
        for attempt in range(_RETRIES):
            try:
                return await _store_batch(db, settings=settings, stats=stats, batch=batch)
            except DBAPIError as exc:
                if not _transient(exc) or attempt == _RETRIES - 1:
                    raise
                # Deadlock victim or serialisation failure: the whole batch rolled back.
                stats.events["retried"] += 1
                await asyncio.sleep(random.uniform(0.005, 0.05) * (attempt + 1))  # noqa: S311
        raise AssertionError("unreachable")  # pragma: no cover
    except IntegrityError:
        # Another server process stored one of these first. One at a time, each such event
        # turns into a duplicate.
        if len(batch) > 1:
            done = Stored()
            for item in batch:
                one = await store_events(db, settings=settings, stats=stats, batch=[item])
                done.acks += one.acks
                done.effects += one.effects
            return done
        (code, event), = batch
        async with db.session() as session:
            if await session.scalar(
                select(BoxEvent.id).where(BoxEvent.event_id == event.event_id.lower())
            ) is None:
                raise
        stats.events["duplicates"] += 1
        return Stored(acks=[(code, event.event_id)])


async def _store_batch(
    db: Database,
    *,
    settings: Settings,
    stats: LinkStats,
    batch: Sequence[tuple[str, BoxEventMessage]],
) -> Stored:
    done = Stored()
    async with db.write() as session:
        codes = sorted({code for code, _ in batch})
        # Lock the boxes' rows first, in id order (as the health flush does), so that parallel
        # workers and the flush never wait on each other in a cycle (PostgreSQL deadlock).
        locking = select(SosBox).where(SosBox.code.in_(codes)).order_by(SosBox.id)
        if session.get_bind().dialect.name == "postgresql":
            locking = locking.with_for_update()
        boxes = {b.code: b for b in await session.scalars(locking)}
        ids = sorted({event.event_id.lower() for _, event in batch})
        found = await session.execute(
            select(BoxEvent.event_id, BoxEvent.box_id).where(BoxEvent.event_id.in_(ids))
        )
        owners: dict[str, int] = {row.event_id: row.box_id for row in found}
        for code, event in batch:
            event_id = event.event_id.lower()
            box = boxes.get(code)
            if box is None or not box.enabled:
                reason = "unknown_box" if box is None else "disabled_box"
                stats.reject(reason, f"event {event_id} dropped", topic=code)
                continue
            owner = owners.get(event_id)
            if owner is not None and owner != box.id:
                stats.reject("event_id_conflict", f"{event_id} belongs to another box",
                             topic=code)
                continue
            if owner is None:
                try:
                    async with session.begin_nested():
                        done.effects += await _store_one(session, box, event, event_id,
                                                         settings=settings)
                except IntegrityError:
                    raise
                except DBAPIError as exc:
                    if _transient(exc):
                        raise  # the whole batch is retried
                    stats.events["failed"] += 1
                    log.exception("device link: event %s from %s failed", event_id, code)
                    continue
                except Exception:  # noqa: BLE001 - this event alone is rolled back, not acked
                    stats.events["failed"] += 1
                    log.exception("device link: event %s from %s failed", event_id, code)
                    continue
                owners[event_id] = box.id
                stats.events["accepted"] += 1
                stats.events[event.kind] += 1
            else:
                stats.events["duplicates"] += 1
            done.acks.append((code, event.event_id))
    return done


async def _store_one(
    session: AsyncSession, box: SosBox, event: BoxEventMessage, event_id: str, *,
    settings: Settings,
) -> list[Effect]:
    now = utcnow()
    row = BoxEvent(
        event_id=event_id,
        box_id=box.id,
        seq=event.seq,
        kind=event.kind,
        device_time=event.time,
        received_at=now,
        payload=event.model_dump(mode="json", exclude_none=True),
    )
    session.add(row)
    await session.flush()
    # An event is a sign of life as good as a heartbeat.
    box.last_seen_at = now
    box.last_seq = max(box.last_seq or 0, event.seq)
    if box.status != "online":
        box.status, box.status_since = "online", now
    if isinstance(event, SelfTest):
        _record_self_test(box, event)
    effects: list[Any] = await on_box_event(session, box=box, event=row, settings=settings)
    return effects


def _record_self_test(box: SosBox, event: SelfTest) -> None:
    box.last_self_test_at = event.time
    box.self_test_ok = event.ok
    failed = sorted(name for name, check in event.checks.items() if not check.ok)
    box.self_test_detail = (
        ("failed: " + ", ".join(failed)) if failed else "all checks passed"
    )[:300]
