"""Power-cut folding: many boxes losing mains power at once become one area alert.

A town-wide cut makes every box report ``power_lost`` (the agents jitter their reports over a
few tens of seconds). One box losing power is worth a maintenance alert
(``sos_box_power_lost``). When ``power_cut_min_boxes`` boxes of one zone have lost power
within ``power_cut_window_s``, they fold into one ``power_area`` alert: the per-box alerts are
cleared into it and further reports join it, so the centre sees one line however many boxes
go dark (at most ``power_cut_min_boxes - 1`` box alerts appear, briefly, before the fold).
The area alert clears when every box in it has reported ``power_restored``.

None of this is an alarm: a power cut needs the utility, not a patrol car.

Concurrent reports: SQLite serialises writers (BEGIN IMMEDIATE); on PostgreSQL a
transaction-scoped advisory lock makes the count-and-fold atomic, so two boxes reporting at
the same instant can never open two area alerts.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from safezone.alarms.effects import Effect, Push
from safezone.alerts.models import Alert
from safezone.settings import Settings
from safezone.sos.models import BoxEvent, SosBox

AREA_KIND = "power_area"
BOX_KIND = "sos_box_power_lost"
_PG_LOCK_KEY = 0x5AFE9057


def alert_view(alert: Alert) -> dict[str, Any]:
    """An alert as the consoles see it."""
    return {
        "id": alert.id,
        "kind": alert.kind,
        "severity": alert.severity,
        "entity_type": alert.entity_type,
        "entity_id": alert.entity_id,
        "message_th": alert.message_th,
        "message_en": alert.message_en,
        "details": alert.details,
        "raised_at": alert.raised_at,
        "cleared_at": alert.cleared_at,
    }


async def _serialise(session: AsyncSession) -> None:
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})


def _zone_key(box: SosBox) -> str:
    return str(box.zone_id) if box.zone_id is not None else "none"


async def _open_alerts(session: AsyncSession, kind: str, **where: str) -> list[Alert]:
    query = select(Alert).where(Alert.kind == kind, Alert.cleared_at.is_(None))
    for column, value in where.items():
        query = query.where(getattr(Alert, column) == value)
    return list(await session.scalars(query.order_by(Alert.id)))


def _area_messages(alert: Alert, window_s: float) -> None:
    boxes = len(alert.details.get("boxes", []))
    restored = len(alert.details.get("restored", []))
    alert.message_th = (
        f"ไฟฟ้าดับเป็นวงกว้าง: ตู้ SOS {boxes} ตู้ขาดไฟหลัก (ภายใน {window_s:g} วินาที)"
        + (f", กลับมาแล้ว {restored} ตู้" if restored else "")
    )
    alert.message_en = (
        f"Area power cut: {boxes} SOS boxes lost mains power (within {window_s:g} s)"
        + (f", {restored} restored" if restored else "")
    )


async def _recent_losses(
    session: AsyncSession, box: SosBox, now: datetime, window_s: float
) -> list[int]:
    """Boxes of this box's zone that reported power_lost in the window and are still dark."""
    query = (
        select(SosBox.id)
        .join(BoxEvent, BoxEvent.box_id == SosBox.id)
        .where(
            BoxEvent.kind == "power_lost",
            BoxEvent.received_at >= now - timedelta(seconds=window_s),
            SosBox.mains_ok.is_(False),
        )
        .group_by(SosBox.id)
        .order_by(func.min(BoxEvent.received_at))
    )
    zone = SosBox.zone_id.is_(None) if box.zone_id is None else SosBox.zone_id == box.zone_id
    return list(await session.scalars(query.where(zone)))


async def power_lost(
    session: AsyncSession, *, box: SosBox, at: datetime, settings: Settings
) -> list[Effect]:
    """Record the loss and fold it (see the module docstring)."""
    await _serialise(session)
    box.mains_ok = False
    await session.flush()
    window = settings.power_cut_window_s
    zone_key = _zone_key(box)
    for area in await _open_alerts(session, AREA_KIND, entity_type="zone", entity_id=zone_key):
        boxes = list(area.details.get("boxes", []))
        restored = [b for b in area.details.get("restored", []) if b != box.id]
        if box.id in boxes and len(restored) == len(area.details.get("restored", [])):
            return []  # a resend of a loss already counted
        area.details = {**area.details, "boxes": sorted({*boxes, box.id}), "restored": restored}
        _area_messages(area, window)
        await session.flush()
        return [Push("alert.updated", alert_view(area))]

    dark = await _recent_losses(session, box, at, window)
    if box.id not in dark:
        dark.append(box.id)  # the link may hand us an event it has not flushed yet
    if len(dark) < settings.power_cut_min_boxes:
        if await _open_alerts(session, BOX_KIND, entity_type="sos_box", entity_id=str(box.id)):
            return []
        alert = Alert(
            kind=BOX_KIND, severity="warning", entity_type="sos_box", entity_id=str(box.id),
            message_th=f"ตู้ SOS {box.code} ขาดไฟหลัก (ใช้แบตเตอรี่)",
            message_en=f"SOS box {box.code} lost mains power (on battery)",
            details={"box_id": box.id, "box_code": box.code, "zone_id": box.zone_id},
            raised_at=at,
        )
        session.add(alert)
        await session.flush()
        return [Push("alert.new", alert_view(alert))]

    area = Alert(
        kind=AREA_KIND, severity="critical", entity_type="zone", entity_id=zone_key,
        message_th="", message_en="",
        details={"zone_id": box.zone_id, "boxes": sorted(dark), "restored": [],
                 "window_s": window},
        raised_at=at,
    )
    _area_messages(area, window)
    session.add(area)
    await session.flush()
    effects: list[Effect] = [Push("alert.new", alert_view(area))]
    # The boxes' own alerts are now part of the area alert.
    for old in await _open_alerts(session, BOX_KIND, entity_type="sos_box"):
        if int(old.entity_id) in dark:
            old.cleared_at = at
            old.details = {**old.details, "folded_into": area.id}
            effects.append(Push("alert.cleared", alert_view(old)))
    await session.flush()
    return effects


async def power_restored(
    session: AsyncSession, *, box: SosBox, at: datetime, settings: Settings
) -> list[Effect]:
    """Mains is back at this box: clear its alert, or count it back in its area alert."""
    await _serialise(session)
    box.mains_ok = True
    effects: list[Effect] = []
    for alert in await _open_alerts(session, BOX_KIND, entity_type="sos_box",
                                    entity_id=str(box.id)):
        alert.cleared_at = at
        effects.append(Push("alert.cleared", alert_view(alert)))
    for area in await _open_alerts(session, AREA_KIND, entity_type="zone",
                                   entity_id=_zone_key(box)):
        boxes = list(area.details.get("boxes", []))
        if box.id not in boxes:
            continue
        restored = sorted({*area.details.get("restored", []), box.id})
        area.details = {**area.details, "restored": restored}
        _area_messages(area, settings.power_cut_window_s)
        if set(restored) >= set(boxes):
            area.cleared_at = at
            effects.append(Push("alert.cleared", alert_view(area)))
        else:
            effects.append(Push("alert.updated", alert_view(area)))
    await session.flush()
    return effects
