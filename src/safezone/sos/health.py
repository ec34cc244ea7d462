"""Box health from heartbeats and the retained status: online/offline, battery, alerts.

Heartbeats arrive every 30 s from every box (2,000 boxes: ~70 a second) and say little that
changes, so they are never written one row at a time: the link coalesces them per box (the
latest wins) and this module writes the batch every ``box_health_flush_s`` in one transaction.
Status messages (``online`` when a box connects, ``offline`` as its last will) ride the same
batch. A monitor marks silent boxes offline and raises an alert for a box offline for
``box_offline_alert_s``; a low battery raises one too. Alerts are cleared when the box is back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, case, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from safezone.alarms.effects import Effect, Push
from safezone.alarms.power import alert_view
from safezone.alerts.models import Alert
from safezone.db.base import utcnow
from safezone.db.engine import Database
from safezone.settings import Settings
from safezone.sos.models import SosBox
from safezone.sos.protocol import Heartbeat, Status
from safezone.sos.stats import LinkStats

log = logging.getLogger(__name__)

OFFLINE_ALERT = "sos_box_offline"
BATTERY_ALERT = "sos_box_low_battery"
_BATTERY_HYSTERESIS = 5.0
_CHUNK = 400  # codes per IN (...) query: well under every backend's parameter limit
# Boxes per health transaction: each holds the write lock (and the loop) for about a
# millisecond, which is what a press may have to wait.
_WRITE_CHUNK = 25
_SEEN_PRECISION_S = 10.0

RunEffects = Callable[[list[Effect]], Awaitable[None]]


@dataclass
class Pending:
    """What arrived from one box since the last flush."""

    heartbeat: Heartbeat | None = None
    heartbeat_at: datetime | None = None
    status: str | None = None
    status_at: datetime | None = None
    messages: int = 0


class BoxHealth:
    """Coalesces heartbeats and statuses; flushes them; watches for silent boxes."""

    def __init__(
        self, *, db: Database, settings: Settings, stats: LinkStats, run_effects: RunEffects
    ) -> None:
        self.db = db
        self.settings = settings
        self.stats = stats
        self.run_effects = run_effects
        self.pending: dict[str, Pending] = {}
        # Per box id: (when its health was last written, the values written then).
        self._written: dict[int, tuple[datetime, tuple[Any, ...]]] = {}
        self._lock = asyncio.Lock()

    def note_heartbeat(self, code: str, heartbeat: Heartbeat, at: datetime) -> None:
        """Remember a box's latest heartbeat until the next flush (no I/O)."""
        entry = self.pending.get(code)
        if entry is None:
            entry = self.pending[code] = Pending()
        entry.heartbeat, entry.heartbeat_at = heartbeat, at
        entry.messages += 1

    def note_status(self, code: str, status: Status, at: datetime) -> None:
        """Remember a box's latest retained status (online, or offline as its last will)."""
        entry = self.pending.get(code)
        if entry is None:
            entry = self.pending[code] = Pending()
        entry.status, entry.status_at = status.state, at
        entry.messages += 1

    async def flush(self) -> None:
        """Write everything pending; unknown boxes are dropped and counted.

        The boxes' rows are read first, outside the write lock; the writes then go in
        transactions of ``_WRITE_CHUNK`` boxes, with the loop let through between them, so a
        press waiting for the write lock waits for one short chunk, never for the fleet.
        What a concurrent event may have changed meanwhile is guarded in SQL (``_write``).
        """
        async with self._lock:
            batch, self.pending = self.pending, {}
            if not batch:
                return
            async with self.db.session() as session:
                rows = await _boxes(session, list(batch))
            for code, entry in batch.items():
                row = rows.get(code)
                if row is None or not row.enabled:
                    reason = "unknown_box" if row is None else "disabled_box"
                    self.stats.reject(reason, "heartbeat/status dropped",
                                      topic=code, count=entry.messages)
            # In id order: the same lock order as event batches (no deadlocks).
            pairs = [(row, _changes(row, batch[row.code]))
                     for row in sorted(rows.values(), key=lambda r: r.id) if row.enabled]
            pairs = [(row, change) for row, change in pairs if self._worth_writing(change)]
            for start in range(0, len(pairs), _WRITE_CHUNK):
                await self._write_chunk(pairs[start : start + _WRITE_CHUNK])
                await asyncio.sleep(0)
            self.stats.heartbeats["flushes"] += 1
            self.stats.heartbeats["rows_written"] += len(pairs)

    async def _write_chunk(self, pairs: list[tuple[Any, dict[str, Any]]]) -> None:
        effects: list[Effect] = []
        async with self.db.write() as session:
            await _write(session, [change for _, change in pairs])
            open_alerts = _OpenAlerts(session)
            for row, change in pairs:
                effects += await self._alerts(session, row, change, open_alerts)
        if effects:
            await self.run_effects(effects)

    def _worth_writing(self, change: dict[str, Any]) -> bool:
        """Skip a row whose only news is a newer "last seen" within ``_SEEN_PRECISION_S``.

        Offline detection works in tens of seconds, so a heartbeat that changes nothing else
        need not cost a row write each second (a fleet sending faster than expected, or a
        benchmark, would otherwise rewrite every row every flush).
        """
        seen = change.get("last_seen_at")
        values = tuple(v for k, v in sorted(change.items())
                       if not k.startswith("last_") and k != "heard_at")
        last = self._written.get(change["id"])
        if (
            "status" not in change
            and seen is not None
            and last is not None
            and last[1] == values
            and (seen - last[0]).total_seconds() < _SEEN_PRECISION_S
        ):
            return False
        if seen is not None:
            self._written[change["id"]] = (seen, values)
        return True

    async def _alerts(
        self, session: AsyncSession, row: Any, change: dict[str, Any], open_alerts: _OpenAlerts
    ) -> list[Effect]:
        effects: list[Effect] = []
        now = change.get("last_seen_at") or change.get("status_since") or utcnow()
        if (
            change.get("status") == "online"
            and row.status != "online"
            and await open_alerts.has(OFFLINE_ALERT, row.id)
        ):
            effects += await clear_alerts(session, OFFLINE_ALERT, row.id, now)
        battery = change.get("battery_pct")
        low = self.settings.box_low_battery_pct
        if battery is not None:
            was = row.battery_pct
            if battery < low and (was is None or was >= low):
                effects += await raise_alert(
                    session, BATTERY_ALERT, row, now,
                    th=f"ตู้ SOS {row.code} แบตเตอรี่ต่ำ ({battery:.0f}%)",
                    en=f"SOS box {row.code} battery low ({battery:.0f}%)",
                    details={"battery_pct": battery},
                )
            elif (
                battery >= (high := low + _BATTERY_HYSTERESIS)
                and (was is None or was < high)
                and await open_alerts.has(BATTERY_ALERT, row.id)
            ):
                effects += await clear_alerts(session, BATTERY_ALERT, row.id, now)
        self.stats.alerts["raised_or_cleared"] += len(effects)
        return effects

    async def check_silent(self, now: datetime | None = None) -> None:
        """Mark boxes silent for ``box_offline_after_s`` offline; alert on long outages."""
        await self.flush()
        now = now or utcnow()
        silent_since = now - timedelta(seconds=self.settings.box_offline_after_s)
        alert_before = now - timedelta(seconds=self.settings.box_offline_alert_s)
        effects: list[Effect] = []
        async with self.db.write() as session:
            silent = (
                await session.execute(
                    select(SosBox.id, SosBox.last_seen_at).where(
                        SosBox.status == "online", SosBox.last_seen_at < silent_since
                    ).order_by(SosBox.id)
                )
            ).all()
            for box_id, last_seen in silent:
                # Offline since the last sign of life: that is when it went quiet.
                await session.execute(
                    update(SosBox)
                    .where(SosBox.id == box_id)
                    .values(status="offline", status_since=last_seen)
                )
            down = list(
                await session.scalars(
                    select(SosBox).where(
                        SosBox.status == "offline",
                        SosBox.enabled.is_(True),
                        SosBox.status_since <= alert_before,
                    )
                )
            )
            open_ids = await _open_alert_ids(session, OFFLINE_ALERT)
            for box in down:
                if str(box.id) in open_ids:
                    continue
                assert box.status_since is not None  # noqa: S101 - selected on it
                minutes = (now - box.status_since).total_seconds() / 60
                effects += await raise_alert(
                    session, OFFLINE_ALERT, box, now,
                    th=f"ตู้ SOS {box.code} ออฟไลน์ ({minutes:.0f} นาที)",
                    en=f"SOS box {box.code} offline ({minutes:.0f} min)",
                    details={"offline_since": box.status_since.isoformat()},
                    severity="critical",
                )
                self.stats.alerts["offline_raised"] += 1
        if effects:
            await self.run_effects(effects)

    async def run_flusher(self) -> None:
        """Flush every ``box_health_flush_s`` until cancelled."""
        while True:
            await asyncio.sleep(self.settings.box_health_flush_s)
            try:
                await self.flush()
            except Exception:  # noqa: BLE001 - health writes retry on the next tick
                self.stats.heartbeats["flush_failures"] += 1
                log.exception("box health flush failed")

    async def run_monitor(self) -> None:
        """Look for silent boxes a few times within each offline delay, until cancelled."""
        s = self.settings
        period = max(0.2, min(5.0, s.box_offline_after_s / 3, (s.box_offline_alert_s or 1) / 3))
        while True:
            await asyncio.sleep(period)
            try:
                await self.check_silent()
            except Exception:  # noqa: BLE001
                log.exception("box offline check failed")


class _OpenAlerts:
    """Which boxes have an open alert of a kind: one query per kind per flush, when needed."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.known: dict[str, set[str]] = {}

    async def has(self, kind: str, box_id: int) -> bool:
        if kind not in self.known:
            self.known[kind] = await _open_alert_ids(self.session, kind)
        return str(box_id) in self.known[kind]


async def _write(session: AsyncSession, changes: list[dict[str, Any]]) -> None:
    """One executemany UPDATE per set of changed columns (Core: no ORM work per row).

    ``mains_ok`` is written only where no event touched the row after the heartbeat arrived
    (``updated_at`` ≤ ``heard_at``): a power event handled by the pipeline meanwhile knows the
    mains state better. SQL evaluates the condition against the row as it is when written.
    """
    table = cast(Table, SosBox.__table__)
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for change in changes:
        columns = tuple(sorted(k for k in change if k not in ("id", "heard_at")))
        if columns:
            groups.setdefault(columns, []).append(
                {"row_id": change["id"], "heard_at": change.get("heard_at"),
                 **{k: change[k] for k in columns}}
            )
    c = table.c
    for columns, params in groups.items():
        values: dict[str, Any] = {column: bindparam(column) for column in columns}
        if "mains_ok" in values:
            values["mains_ok"] = case(
                (or_(c.updated_at.is_(None), c.updated_at <= bindparam("heard_at")),
                 bindparam("mains_ok")),
                else_=c.mains_ok,
            )
        statement = update(table).where(c.id == bindparam("row_id")).values(values)
        await session.execute(statement, params)


def _changes(row: Any, entry: Pending) -> dict[str, Any]:
    change: dict[str, Any] = {"id": row.id}
    hb, hb_at = entry.heartbeat, entry.heartbeat_at
    if hb is not None and hb_at is not None:
        change.update(
            last_seen_at=hb_at,
            last_heartbeat_at=hb_at,
            battery_pct=hb.battery_pct,
            temperature_c=hb.temperature_c,
            signal_dbm=hb.signal_dbm,
            mains_ok=hb.mains,
            heard_at=hb_at,
        )
        if hb.firmware is not None:
            change["firmware"] = hb.firmware
    # The later of "heartbeat" (alive) and the status message decides the state.
    state, since = ("online", hb_at) if hb_at is not None else (None, None)
    if entry.status is not None and entry.status_at is not None:
        if since is None or entry.status_at >= since:
            state, since = entry.status, entry.status_at
        if entry.status == "online":
            change["last_seen_at"] = max(entry.status_at, hb_at or entry.status_at)
    if state is not None and state != row.status:
        change.update(status=state, status_since=since)
    return change


async def _boxes(session: AsyncSession, codes: list[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for i in range(0, len(codes), _CHUNK):
        rows = await session.execute(
            select(
                SosBox.id, SosBox.code, SosBox.enabled, SosBox.status, SosBox.battery_pct,
                SosBox.updated_at,
            ).where(SosBox.code.in_(codes[i : i + _CHUNK]))
        )
        found.update({row.code: row for row in rows})
    return found


async def _open_alert_ids(session: AsyncSession, kind: str) -> set[str]:
    rows = await session.scalars(
        select(Alert.entity_id).where(
            Alert.kind == kind, Alert.entity_type == "sos_box", Alert.cleared_at.is_(None)
        )
    )
    return set(rows)


async def raise_alert(
    session: AsyncSession,
    kind: str,
    box: Any,
    at: datetime,
    *,
    th: str,
    en: str,
    details: dict[str, Any],
    severity: str = "warning",
) -> list[Effect]:
    """Open a box alert of ``kind`` unless one is open; returns the console push."""
    if str(box.id) in await _open_alert_ids(session, kind):
        return []
    alert = Alert(
        kind=kind, severity=severity, entity_type="sos_box", entity_id=str(box.id),
        message_th=th, message_en=en, raised_at=at,
        details={"box_id": box.id, "box_code": box.code, **details},
    )
    session.add(alert)
    await session.flush()
    return [Push("alert.new", alert_view(alert))]


async def clear_alerts(
    session: AsyncSession, kind: str, box_id: int, at: datetime
) -> list[Effect]:
    """Clear the open alerts of ``kind`` about a box; returns the console pushes."""
    alerts = await session.scalars(
        select(Alert).where(
            Alert.kind == kind,
            Alert.entity_type == "sos_box",
            Alert.entity_id == str(box_id),
            Alert.cleared_at.is_(None),
        )
    )
    effects: list[Effect] = []
    for alert in alerts:
        alert.cleared_at = at
        effects.append(Push("alert.cleared", alert_view(alert)))
    await session.flush()
    return effects
