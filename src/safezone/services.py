"""Background services that live as long as the app (started and stopped by the lifespan)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import delete

from safezone.alarms.escalation import EscalationService
from safezone.auth.models import AuthToken, LoginThrottle
from safezone.calls.signalling import CallService
from safezone.cameras.health import CameraMonitor
from safezone.cameras.live import LiveHub
from safezone.cameras.live_snapshot import SnapshotGrabber
from safezone.db.base import utcnow
from safezone.db.engine import Database
from safezone.evidence.workers import EvidenceWorkers
from safezone.settings import Settings
from safezone.sos.link import BoxLink

log = logging.getLogger(__name__)


class BackgroundServices:
    """Starts periodic jobs; each later subsystem adds its own here."""

    def __init__(self, *, db: Database, settings: Settings, state: Any = None) -> None:
        self.db = db
        self.settings = settings
        # The app's state (live_hub, box_link), for services that push to consoles or boxes.
        self.state = state
        self._tasks: list[asyncio.Task[None]] = []
        # Live video: shared camera upstreams (closed with the app) and snapshot grabs. (Not
        # app.state.live_hub, which is the consoles' message hub.)
        self.live_video = LiveHub(grace_s=settings.live_grace_s)
        self.snapshots = SnapshotGrabber(settings, max_age_s=settings.live_snapshot_max_age_s)
        # Evidence: rolling pre-roll buffers, clip recordings, restart recovery, daily purge.
        self.evidence = EvidenceWorkers(db=db, settings=settings)
        # Alarms: escalate unanswered ones (driven from the database, so it survives restarts).
        self.escalation = EscalationService(db=db, settings=settings, state=state)
        # Camera health: one monitor per deployment (camera_monitor_enabled on one process).
        self.camera_monitor = (
            CameraMonitor(db=db, settings=settings) if settings.camera_monitor_enabled else None
        )
        # SOS boxes: the MQTT device link (and the embedded broker unless one is configured).
        self.box_link = (
            BoxLink(db=db, settings=settings, state=state) if settings.device_link_enabled else None
        )
        # Two-way calls: signalling between consoles and boxes (through the device link).
        self.calls = CallService(db=db, settings=settings, state=state)
        if state is not None:
            state.box_link = self.box_link
            state.calls = self.calls

    async def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._housekeeping(), name="housekeeping"))
        self._tasks.append(asyncio.create_task(self.escalation.run(), name="alarm-escalation"))
        self._tasks.append(asyncio.create_task(self.db.run_checkpoints(), name="wal-checkpoint"))
        await self.evidence.start()
        if self.box_link is not None:
            await self.box_link.start()
        await self.calls.start()
        if self.camera_monitor is not None:
            await self.camera_monitor.start()

    async def stop(self) -> None:
        if self.camera_monitor is not None:
            await self.camera_monitor.stop()
        await self.calls.stop()  # first: its hang-ups go out through the device link
        if self.box_link is not None:
            await self.box_link.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self.evidence.stop()
        await self.live_video.close()

    async def _housekeeping(self, every_s: float = 600.0) -> None:
        """Drop expired sessions/tokens and stale throttle counters."""
        while True:
            try:
                now = utcnow()
                async with self.db.write() as session:
                    await session.execute(delete(AuthToken).where(AuthToken.expires_at < now))
                    await session.execute(
                        delete(LoginThrottle)
                        .where(
                            (LoginThrottle.blocked_until.is_(None))
                            | (LoginThrottle.blocked_until < now)
                        )
                        .where(
                            LoginThrottle.window_start
                            < now - timedelta(seconds=self.settings.login_window_seconds)
                        )
                    )
            except Exception:  # noqa: BLE001 - housekeeping must never die
                log.exception("housekeeping failed; retrying later")
            await asyncio.sleep(every_s)
