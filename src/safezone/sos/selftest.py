"""Scheduled self-tests: on the configured weekdays and local time (twice a week by default) the
server tells every online box to test itself; each box answers with a ``self_test`` event whose
result the link stores on the box. A box that was offline at the slot is told when it is back
(within the same slot); a box that never answers shows as overdue on the health page.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from safezone.db.base import utcnow
from safezone.i18n import BANGKOK
from safezone.sos.models import SosBox

if TYPE_CHECKING:
    from safezone.sos.link import BoxLink

log = logging.getLogger(__name__)

WEEKDAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}


def _slots_around(now: datetime, days: str, at: str) -> list[datetime]:
    wanted = {WEEKDAYS[d] for d in days.split(",")}
    hour, minute = (int(part) for part in at.split(":"))
    local = now.astimezone(BANGKOK)
    slots = []
    for offset in range(-8, 9):
        day = (local + timedelta(days=offset)).date()
        if day.weekday() in wanted:
            slots.append(datetime.combine(day, time(hour, minute), tzinfo=BANGKOK))
    return slots


def last_slot(now: datetime, days: str, at: str) -> datetime:
    """The latest scheduled self-test moment at or before ``now``."""
    return max(s for s in _slots_around(now, days, at) if s <= now)


def next_slot(now: datetime, days: str, at: str) -> datetime:
    """The first scheduled self-test moment after ``now``."""
    return min(s for s in _slots_around(now, days, at) if s > now)


async def due_boxes(session: AsyncSession, *, slot: datetime) -> list[str]:
    """Codes of online, provisioned boxes with no self-test result since ``slot``.

    A box provisioned after the slot waits for the next one (it was just installed and tested).
    """
    rows = await session.scalars(
        select(SosBox.code)
        .where(
            SosBox.enabled.is_(True),
            SosBox.secret_hash.is_not(None),
            SosBox.provisioned_at < slot,
            SosBox.status == "online",
            or_(SosBox.last_self_test_at.is_(None), SosBox.last_self_test_at < slot),
        )
        .order_by(SosBox.code)
    )
    return list(rows)


async def tell_due_boxes(
    link: BoxLink, told: dict[datetime, set[str]], now: datetime
) -> list[str]:
    """Send ``self_test`` to the boxes due in the current slot not told yet; returns them.

    ``told`` remembers, per slot, who was told (kept by the caller between calls).
    """
    settings = link.settings
    slot = last_slot(now, settings.box_self_test_days, settings.box_self_test_time)
    async with link.db.session() as session:
        codes = await due_boxes(session, slot=slot)
    sent = told.setdefault(slot, set())
    for old in [s for s in told if s != slot]:
        del told[old]
    newly = []
    for code in codes:
        if code in sent:
            continue
        await link.send_command(code, {"type": "self_test"})
        sent.add(code)
        newly.append(code)
        link.stats.commands["self_test_scheduled"] += 1
    return newly


async def run_self_tests(link: BoxLink) -> None:
    """Tell due boxes to test themselves, checking every minute, until cancelled."""
    settings = link.settings
    told: dict[datetime, set[str]] = {}
    while True:
        now = utcnow()
        try:
            if link.connected.is_set():
                await tell_due_boxes(link, told, now)
        except Exception:  # noqa: BLE001 - try again at the next tick
            log.exception("scheduled self-tests failed")
        wait = next_slot(now, settings.box_self_test_days, settings.box_self_test_time) - now
        await asyncio.sleep(min(60.0, max(1.0, wait.total_seconds())))
