"""Rolling pre-roll buffers: for each camera with ``buffer_seconds`` > 0, the last N seconds of
its main stream kept in memory, so a clip can start in the recent past.

Each buffered camera has its own upstream connection (a ``Feed``), reconnecting with back-off
(1 s → 5 s → 10 s → 60 s, jittered). Memory is capped: the budget in settings is split evenly
between the buffered cameras and each buffer drops its oldest GOPs to stay within its share.
Cameras whose owner set the sharing policy to ``off`` are never buffered: the centre must not
pull video it may not see.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

from sqlalchemy import select

from safezone.cameras.credentials import CredentialBox, CredentialsError, with_userinfo
from safezone.cameras.models import Camera
from safezone.db.engine import Database
from safezone.evidence.feed import Feed
from safezone.settings import Settings

log = logging.getLogger(__name__)
REFRESH_S = 30.0  # how often the set of buffered cameras is re-read from the database


@dataclass(frozen=True)
class _Wanted:
    url: str
    keep_s: float
    code: str


class RollingBuffers:
    """The background service that keeps one buffering ``Feed`` per configured camera."""

    def __init__(self, *, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self._feeds: dict[int, tuple[_Wanted, Feed]] = {}
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        """Start buffering now and keep following configuration changes."""
        await self.refresh()
        self._task = asyncio.create_task(self._follow(), name="evidence-buffers")

    async def stop(self) -> None:
        """Stop every feed and wait (briefly) for their threads."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        feeds = [feed for _, feed in self._feeds.values()]
        self._feeds.clear()
        await _stop_all(feeds)

    def feed(self, camera_id: int) -> Feed | None:
        """The camera's buffering feed, if it has one."""
        entry = self._feeds.get(camera_id)
        return entry[1] if entry else None

    def buffered_since(self, camera_id: int) -> float | None:
        """Epoch seconds of the oldest picture the camera's buffer holds now (None: nothing)."""
        feed = self.feed(camera_id)
        return feed.oldest_wall if feed is not None else None

    async def _follow(self) -> None:
        while True:
            await asyncio.sleep(REFRESH_S)
            try:
                await self.refresh()
            except Exception:  # noqa: BLE001 - the buffers must outlive a database hiccup
                log.exception("rolling buffers: refresh failed; retrying later")

    async def refresh(self) -> None:
        """Match the running feeds to the cameras configured for buffering."""
        async with self._lock:
            wanted = await self._wanted()
            stale = [
                cam for cam, (conf, feed) in self._feeds.items()
                if wanted.get(cam) != conf or not feed.alive
            ]
            stopping = [self._feeds.pop(cam)[1] for cam in stale]
            share = self.settings.evidence_buffer_memory_mb * 1024 * 1024 // max(1, len(wanted))
            for cam, conf in wanted.items():
                if cam not in self._feeds:
                    feed = Feed(url=conf.url, label=conf.code, keep_s=conf.keep_s)
                    feed.start()
                    self._feeds[cam] = (conf, feed)
                self._feeds[cam][1].max_bytes = share
        if stopping:
            await _stop_all(stopping)

    async def _wanted(self) -> dict[int, _Wanted]:
        cap = self.settings.evidence_buffer_max_seconds
        if cap <= 0:
            return {}
        async with self.db.session() as session:
            rows = (
                await session.scalars(
                    select(Camera).where(
                        Camera.buffer_seconds > 0,
                        Camera.tier == "linked",
                        Camera.stream_url.is_not(None),
                        Camera.sharing_policy != "off",
                    )
                )
            ).all()
        box = CredentialBox(self.settings.resolved_credentials_key()) if rows else None
        out: dict[int, _Wanted] = {}
        for cam in rows:
            assert cam.stream_url is not None and box is not None  # noqa: S101 - filtered above
            try:
                url = with_userinfo(cam.stream_url, box.open(cam.credentials_enc))
            except CredentialsError:
                log.warning("camera %s: credentials unreadable; not buffered", cam.code)
                continue
            out[cam.id] = _Wanted(url, float(min(cam.buffer_seconds, cap)), cam.code)
        return out


async def _stop_all(feeds: list[Feed], timeout_s: float = 2.0) -> None:
    """Stop feeds and wait up to ``timeout_s`` in all; a reader stuck in a network read ends
    on its own at its read timeout (the threads are daemons), so shutdown need not wait."""
    for feed in feeds:
        feed.stop()

    def join() -> None:
        deadline = time.monotonic() + timeout_s
        for feed in feeds:
            feed.join(max(0.0, deadline - time.monotonic()))

    await asyncio.to_thread(join)
