"""Storing box events exactly once.

A batch (whatever is already queued when a worker picks up an event, never waiting for more)
is stored in one write transaction: the boxes and the already-stored event ids are read with
one query each, and each new event is inserted with what it means (``raise_alarm`` /
``on_box_event`` of the alarm pipeline), in a batch of several inside its own SAVEPOINT, so one
event that fails is rolled back alone and is simply not acknowledged (the box resends it).
``event_id`` is unique in the database, so a resend of a committed event is a duplicate:
acknowledged again, stored nothing.

Presses are the path an operator waits on, so it is written as Core statements (about a
dozen, no ORM unit of work): on a busy two-core server the ORM's bookkeeping cost several
times the SQL. The rarer kinds (power, self-test, cancel) work on the ORM row.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, func, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from safezone.alarms.camera_index import CameraIndex
from safezone.alarms.effects import Effect
from safezone.alarms.pipeline import ALARM_KINDS, on_box_event, raise_alarm
from safezone.db.base import table_of, utcnow
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
    cameras: CameraIndex | None = None,
) -> Stored:
    """Store a batch of (box code, event); returns the acks and effects for after the commit."""
    try:
        for attempt in range(_RETRIES):
            try:
                return await _store_batch(db, settings=settings, stats=stats, batch=batch,
                                          cameras=cameras)
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
                one = await store_events(db, settings=settings, stats=stats, batch=[item],
                                         cameras=cameras)
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


@dataclass(slots=True)
class BoxSnapshot:
    """The columns of a box row the press path needs (read with Core, not as an ORM object)."""

    id: int
    code: str
    name_th: str
    name_en: str
    address: str | None
    lat: float
    lon: float
    zone_id: int | None
    status: str
    enabled: bool
    has_camera: bool
    battery_pct: float | None
    mains_ok: bool | None
    last_heartbeat_at: datetime | None


_SNAPSHOT_COLUMNS = [f.name for f in fields(BoxSnapshot)]

# The press path's statements, built once (building a statement costs more than running it).
_box = table_of(SosBox).c
_event = table_of(BoxEvent)
_BOXES = (
    select(*(_box[name] for name in _SNAPSHOT_COLUMNS))
    .where(_box.code.in_(bindparam("codes", expanding=True)))
    .order_by(_box.id)
)
_BOXES_FOR_UPDATE = _BOXES.with_for_update()
_KNOWN_EVENTS = select(_event.c.event_id, _event.c.box_id).where(
    _event.c.event_id.in_(bindparam("ids", expanding=True))
)
_INSERT_EVENT = insert(_event)
_SEEN = (
    update(table_of(SosBox))
    .where(_box.id == bindparam("box_id"))
    .values(
        last_seen_at=bindparam("now"),
        last_seq=case((func.coalesce(_box.last_seq, 0) < bindparam("seq"), bindparam("seq")),
                      else_=_box.last_seq),
        status="online",
        status_since=case((_box.status == "online", _box.status_since),
                          else_=bindparam("now")),
    )
)


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """A box event as inserted (what the alarm pipeline reads of it)."""

    event_id: str
    kind: str
    device_time: datetime | None
    received_at: datetime
    payload: dict[str, Any]


class _RolledBack(Exception):
    """The only event of a batch failed: its transaction is rolled back as a whole."""


async def _store_batch(
    db: Database,
    *,
    settings: Settings,
    stats: LinkStats,
    batch: Sequence[tuple[str, BoxEventMessage]],
    cameras: CameraIndex | None,
) -> Stored:
    done = Stored()
    try:
        async with db.write() as session:
            await _store_in(session, done, settings=settings, stats=stats, batch=batch,
                            cameras=cameras)
    except _RolledBack:
        return Stored()
    return done


async def _store_in(
    session: AsyncSession,
    done: Stored,
    *,
    settings: Settings,
    stats: LinkStats,
    batch: Sequence[tuple[str, BoxEventMessage]],
    cameras: CameraIndex | None,
) -> None:
    conn = await session.connection()
    codes = sorted({code for code, _ in batch})
    # Lock the boxes' rows first, in id order (as the health flush does), so that parallel
    # workers and the flush never wait on each other in a cycle (PostgreSQL deadlock).
    locking = _BOXES_FOR_UPDATE if conn.dialect.name == "postgresql" else _BOXES
    boxes = {
        row.code: BoxSnapshot(**row._mapping)
        for row in await conn.execute(locking, {"codes": codes})
    }
    ids = sorted({event.event_id.lower() for _, event in batch})
    found = await conn.execute(_KNOWN_EVENTS, {"ids": ids})
    owners: dict[str, int] = {row.event_id: row.box_id for row in found}
    # One event alone needs no savepoint: if it fails, the whole transaction goes.
    alone = len(batch) == 1
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
                if alone:
                    done.effects += await _store_one(session, box, event, event_id,
                                                     settings=settings, cameras=cameras)
                else:
                    async with session.begin_nested():
                        done.effects += await _store_one(session, box, event, event_id,
                                                         settings=settings, cameras=cameras)
            except IntegrityError:
                raise
            except DBAPIError as exc:
                if _transient(exc):
                    raise  # the whole batch is retried
                _failed(stats, event_id, code, alone)
                continue
            except Exception:  # noqa: BLE001 - this event alone is rolled back, not acked
                _failed(stats, event_id, code, alone)
                continue
            owners[event_id] = box.id
            stats.events["accepted"] += 1
            stats.events[event.kind] += 1
        else:
            stats.events["duplicates"] += 1
        done.acks.append((code, event.event_id))


def _failed(stats: LinkStats, event_id: str, code: str, alone: bool) -> None:
    stats.events["failed"] += 1
    log.exception("device link: event %s from %s failed", event_id, code)
    if alone:
        raise _RolledBack from None


async def _store_one(
    session: AsyncSession, box: BoxSnapshot, event: BoxEventMessage, event_id: str, *,
    settings: Settings, cameras: CameraIndex | None,
) -> list[Effect]:
    now = utcnow()
    conn = await session.connection()
    payload = event.model_dump(mode="json", exclude_none=True)
    await conn.execute(
        _INSERT_EVENT,
        {"event_id": event_id, "box_id": box.id, "seq": event.seq, "kind": event.kind,
         "device_time": event.time, "received_at": now, "payload": payload},
    )
    # An event is a sign of life as good as a heartbeat.
    await conn.execute(_SEEN, {"box_id": box.id, "now": now, "seq": event.seq})
    box.status = "online"
    stored = StoredEvent(event_id, event.kind, event.time, now, payload)
    if event.kind in ALARM_KINDS:
        return await raise_alarm(session, box=box, event=stored, settings=settings,
                                 cameras=cameras)
    # The rarer kinds work on the ORM row (loaded after the update above, so it is current).
    orm_box = await session.get(SosBox, box.id, populate_existing=True)
    assert orm_box is not None  # noqa: S101 - locked above
    if isinstance(event, SelfTest):
        _record_self_test(orm_box, event)
    effects: list[Effect] = await on_box_event(session, box=orm_box, event=stored,
                                               settings=settings)
    await session.flush()
    return effects


def _record_self_test(box: SosBox, event: SelfTest) -> None:
    box.last_self_test_at = event.time
    box.self_test_ok = event.ok
    failed = sorted(name for name, check in event.checks.items() if not check.ok)
    box.self_test_detail = (
        ("failed: " + ", ".join(failed)) if failed else "all checks passed"
    )[:300]
