"""Background services that live as long as the app (started and stopped by the lifespan)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from sqlalchemy import delete

from safezone.auth.models import AuthToken, LoginThrottle
from safezone.db.base import utcnow
from safezone.db.engine import Database
from safezone.settings import Settings

log = logging.getLogger(__name__)


class BackgroundServices:
    """Starts periodic jobs; each later subsystem adds its own here."""

    def __init__(self, *, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._housekeeping(), name="housekeeping"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

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
