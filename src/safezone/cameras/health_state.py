"""The health monitor's per-camera state and the alerts it raises, updates and clears."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from safezone.alerts.models import Alert
from safezone.cameras import health_rules as rules
from safezone.cameras.frame_check import FrameCheck
from safezone.db.base import utcnow


@dataclass(frozen=True)
class Target:
    """What the monitor needs to reach one camera."""

    id: int
    code: str
    name_th: str
    name_en: str
    stream_url: str
    sub_stream_url: str | None
    credentials_enc: str | None


@dataclass(eq=False)
class CameraHealth:
    """The monitor's view of one camera."""

    target: Target
    status: str = "unknown"
    status_since: datetime | None = None
    status_detail: str | None = None
    tamper: str | None = None
    codec: str | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    last_probe_at: datetime | None = None
    last_ok_at: datetime | None = None
    snapshot_at: datetime | None = None
    reference_at: datetime | None = None
    reference_seen: datetime | None = None  # last value read from or written to the database
    reference_pending: bool = False  # the monitor took a reference; not written yet
    failures: int = 0
    bad_since: datetime | None = None
    frame: FrameCheck | None = None
    frame_due: float = 0.0
    offline_alert: bool = False
    tamper_alert: str | None = None  # the tamper kind of the open alert
    dirty: bool = False
    persisted: float = field(default_factory=time.monotonic)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None


@dataclass(frozen=True)
class AlertStep:
    """One alert to raise, update or clear; ``commit`` records it once the write succeeded."""

    h: CameraHealth
    kind: str
    action: str  # raise | update | clear

    def _messages(self) -> tuple[str, str, str, dict[str, Any]]:
        t, h = self.h.target, self.h
        details: dict[str, Any] = {"camera_id": t.id, "code": t.code, "status": h.status}
        if self.kind == rules.OFFLINE_KIND:
            th, en = rules.offline_messages(
                code=t.code, name_th=t.name_th, name_en=t.name_en, status=h.status,
                detail=h.status_detail, since=h.bad_since or utcnow(),
            )
            return th, en, "warning", {**details, "detail": h.status_detail}
        tamper = h.tamper or ""
        th, en = rules.tamper_messages(
            code=t.code, name_th=t.name_th, name_en=t.name_en, tamper=tamper
        )
        return th, en, rules.tamper_severity(tamper), {**details, "tamper": tamper}

    async def run(self, session: AsyncSession, now: datetime) -> None:
        camera_id = self.h.target.id
        if self.action == "clear":
            await clear_alert(session, camera_id, self.kind, now)
            return
        th, en, severity, details = self._messages()
        if self.action == "update":
            await session.execute(
                update(Alert)
                .where(*_open(camera_id, self.kind))
                .values(message_th=th, message_en=en, severity=severity, details=details)
            )
            return
        session.add(
            Alert(
                kind=self.kind, severity=severity, entity_type="camera",
                entity_id=str(camera_id), message_th=th, message_en=en, details=details,
                raised_at=now,
            )
        )

    def commit(self) -> None:
        if self.kind == rules.OFFLINE_KIND:
            self.h.offline_alert = self.action != "clear"
        else:
            self.h.tamper_alert = None if self.action == "clear" else self.h.tamper


def _open(camera_id: int, kind: str) -> tuple[Any, ...]:
    return (
        Alert.entity_type == "camera",
        Alert.entity_id == str(camera_id),
        Alert.kind == kind,
        Alert.cleared_at.is_(None),
    )


async def clear_alert(session: AsyncSession, camera_id: int, kind: str, now: datetime) -> None:
    """Clear the camera's open alert of ``kind``, if any."""
    await session.execute(update(Alert).where(*_open(camera_id, kind)).values(cleared_at=now))


def alert_plan(cameras: Iterable[CameraHealth], now: datetime, delay: float) -> list[AlertStep]:
    """The alerts to raise, update or clear now."""
    plan: list[AlertStep] = []
    for h in cameras:
        bad = h.status in rules.ALERTING
        if bad and not h.offline_alert and h.bad_since is not None:
            if (now - h.bad_since).total_seconds() >= delay:
                plan.append(AlertStep(h, rules.OFFLINE_KIND, "raise"))
        elif h.offline_alert and not bad and h.status != "unknown":
            plan.append(AlertStep(h, rules.OFFLINE_KIND, "clear"))
        if h.tamper is not None and h.tamper != h.tamper_alert:
            action = "update" if h.tamper_alert else "raise"
            plan.append(AlertStep(h, rules.TAMPER_KIND, action))
        elif h.tamper is None and h.tamper_alert and h.status == "online":
            plan.append(AlertStep(h, rules.TAMPER_KIND, "clear"))
    return plan
