"""The health flush reads boxes outside the write lock, so its UPDATE itself must not undo what
an event wrote meanwhile: a heartbeat heard before the box's last event leaves mains alone."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from safezone.db.base import utcnow
from safezone.db.engine import Database
from safezone.sos.health import _write
from safezone.sos.models import SosBox


async def _box(db: Database) -> SosBox:
    async with db.write() as session:
        box = SosBox(code="SOS-MAINS", name_th="ตู้", name_en="Box", lat=6.4, lon=101.8,
                     mains_ok=False, status="online")
        session.add(box)
    return box


async def _mains(db: Database, box_id: int) -> tuple[bool | None, float | None]:
    async with db.session() as session:
        row = (await session.execute(
            select(SosBox.mains_ok, SosBox.battery_pct).where(SosBox.id == box_id)
        )).one()
        return row.mains_ok, row.battery_pct


async def test_a_heartbeat_older_than_the_last_event_keeps_mains(db: Database) -> None:
    box = await _box(db)  # a power_lost event wrote mains_ok = False at updated_at
    heard = box.updated_at - timedelta(milliseconds=300)  # received before that event
    async with db.write() as session:
        await _write(session, [{"id": box.id, "mains_ok": True, "battery_pct": 77.0,
                                "heard_at": heard, "last_seen_at": heard}])
    # The other readings are news; the mains state the event knew is kept.
    assert await _mains(db, box.id) == (False, 77.0)


async def test_a_newer_heartbeat_sets_mains(db: Database) -> None:
    box = await _box(db)
    heard = utcnow() + timedelta(milliseconds=10)
    async with db.write() as session:
        await _write(session, [{"id": box.id, "mains_ok": True, "battery_pct": 80.0,
                                "heard_at": heard, "last_seen_at": heard}])
    assert await _mains(db, box.id) == (True, 80.0)
