"""Recording clips: one asyncio task per clip, each driving PyAV in its own thread.

A clip on a camera with a rolling buffer subscribes to that buffer's feed (pre-roll, then the
live packets of the same connection); any other clip opens its own connection a little before
its window. Restarts never lose a clip silently: every process refreshes a heartbeat on the
clips it records, and a periodic sweep takes over clips whose heartbeat went stale: a clip
whose window has passed is marked failed ("interrupted by restart"), one whose window is still
open is recorded again from now on, with a note.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from safezone.cameras.credentials import CredentialBox, CredentialsError, with_userinfo
from safezone.cameras.models import Camera
from safezone.db.base import utcnow
from safezone.db.engine import Database
from safezone.evidence import service
from safezone.evidence.buffer import RollingBuffers
from safezone.evidence.feed import Feed, Subscription
from safezone.evidence.writer import ClipAborted, NoVideo, Written, write_clip
from safezone.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")

LEAD_S = 3.0  # connect this long before a live window, to catch a key frame before it
HEARTBEAT_S = 10.0
STALE_AFTER = timedelta(seconds=45)  # several missed heartbeats: the recording process is gone
INTERRUPTED = "interrupted by restart"


def in_thread(fn: Callable[[], T], name: str) -> asyncio.Future[T]:
    """Run a long blocking call in a dedicated thread (recordings last minutes: the shared
    executor has only a few threads and must stay free for short jobs)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def target() -> None:
        try:
            result = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting task
            loop.call_soon_threadsafe(settle, None, exc)
        else:
            loop.call_soon_threadsafe(settle, result, None)

    threading.Thread(target=target, name=name, daemon=True).start()
    return future


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


class ClipRecorder:
    """Records this process's clips and recovers the clips of processes that went away."""

    def __init__(self, *, db: Database, settings: Settings, buffers: RollingBuffers) -> None:
        self.db = db
        self.settings = settings
        self.buffers = buffers
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._stops: dict[str, threading.Event] = {}
        self._sweeper: asyncio.Task[None] | None = None

    @property
    def active(self) -> set[str]:
        """Ids of the clips this process is looking after."""
        return set(self._tasks)

    async def start(self) -> None:
        """Recover orphaned clips now, then keep heartbeats and the sweep going."""
        await self.sweep()
        self._sweeper = asyncio.create_task(self._maintain(), name="evidence-clips")

    async def stop(self) -> None:
        """Stop every recording; unfinished clips stay pending/recording for the next start."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        for stop in self._stops.values():
            stop.set()
        ids = sorted(self._tasks)
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if ids:
            # Let go of them at once: the next start (or another process) takes them over
            # without waiting for the heartbeat to go stale.
            with contextlib.suppress(Exception):
                async with self.db.write() as session:
                    await service.release(session, clip_ids=ids)

    def schedule(self, clip_id: str, *, resumed: bool = False) -> None:
        """Record a clip that was just booked (the row must be committed)."""
        if clip_id in self._tasks:
            return
        task = asyncio.create_task(self._record(clip_id, resumed), name=f"clip-{clip_id}")
        self._tasks[clip_id] = task
        task.add_done_callback(lambda _t: self._tasks.pop(clip_id, None))

    async def wait(self, clip_id: str) -> None:
        """Wait for a clip's recording task, if this process runs one."""
        task = self._tasks.get(clip_id)
        if task is not None:
            await asyncio.wait({task})

    async def _maintain(self) -> None:
        last_sweep = time.monotonic()
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            try:
                async with self.db.write() as session:
                    await service.beat(session, clip_ids=sorted(self._tasks), now=utcnow())
                if time.monotonic() - last_sweep >= STALE_AFTER.total_seconds() / 2:
                    last_sweep = time.monotonic()
                    await self.sweep()
            except Exception:  # noqa: BLE001 - recovery must keep running
                log.exception("evidence: heartbeat/sweep failed; retrying")

    async def sweep(self) -> None:
        """Fail or take over clips whose recording process went away."""
        now = utcnow()
        async with self.db.session() as session:
            orphans = await service.orphaned(
                session, active=self.active, stale_before=now - STALE_AFTER
            )
        for clip in orphans:
            async with self.db.write() as session:
                if not await service.claim(session, clip=clip, now=now):
                    continue
                if clip.end_at <= now:
                    await service.fail_clip(session, clip_id=clip.id, error=INTERRUPTED)
                    resume = False
                else:
                    resume = True
            part = service.clip_path(self.settings, clip.id).with_suffix(".mp4.part")
            part.unlink(missing_ok=True)
            if resume:
                log.warning("clip %s: resuming after an interruption", clip.id)
                self.schedule(clip.id, resumed=True)
            else:
                log.warning("clip %s: %s", clip.id, INTERRUPTED)

    async def _record(self, clip_id: str, resumed: bool) -> None:
        stop = threading.Event()
        self._stops[clip_id] = stop
        own: Feed | None = None
        feed: Feed | None = None
        sub: Subscription | None = None
        try:
            async with self.db.session() as session:
                clip = await service.get_clip(session, clip_id=clip_id)
                camera = await session.get(Camera, clip.camera_id) if clip.camera_id else None
            url = self._url(camera)
            start, end = clip.start_at.timestamp(), clip.end_at.timestamp()
            if resumed:
                start = max(start, time.time())
            feed = self.buffers.feed(camera.id) if camera is not None else None
            if feed is not None and feed.alive:
                # Subscribe shortly before the window so no long queue builds up.
                await asyncio.sleep(max(0.0, start - time.time() - 1.0))
                sub = feed.subscribe(since=start)
            else:
                await asyncio.sleep(max(0.0, start - time.time() - LEAD_S))
                own = feed = Feed(url=url, label=clip.camera_code, keep_s=0.0)
                sub = own.subscribe()
                own.start()
            await self._set_recording(clip_id, resumed)
            dest = service.clip_path(self.settings, clip_id)
            subscription = sub
            written = await self._write(
                lambda: write_clip(subscription, start=start, end=end, dest=dest, stop=stop),
                stop,
                clip_id,
            )
            await self._complete(clip_id, written)
        except asyncio.CancelledError:
            raise
        except (NoVideo, _Unrecordable) as exc:
            await self._fail(clip_id, str(exc))
        except Exception as exc:  # noqa: BLE001 - a clip that cannot be recorded says why
            log.exception("clip %s failed", clip_id)
            await self._fail(clip_id, f"recording failed: {type(exc).__name__}: {exc}")
        finally:
            self._stops.pop(clip_id, None)
            if feed is not None and sub is not None:
                feed.unsubscribe(sub)
            if own is not None:
                own.stop()

    def _url(self, camera: Camera | None) -> str:
        if camera is None or camera.tier != "linked" or not camera.stream_url:
            raise _Unrecordable("camera is no longer linked")
        box = CredentialBox(self.settings.resolved_credentials_key())
        try:
            return with_userinfo(camera.stream_url, box.open(camera.credentials_enc))
        except CredentialsError as exc:
            raise _Unrecordable(str(exc)) from None

    async def _write(
        self, job: Callable[[], Written], stop: threading.Event, clip_id: str
    ) -> Written:
        future = in_thread(job, f"clip-{clip_id[:8]}")
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            # Shutting down: let the writer remove its partial file before we go.
            stop.set()
            with contextlib.suppress(ClipAborted, NoVideo, Exception, asyncio.CancelledError):
                await asyncio.wait_for(future, timeout=2.0)
            raise

    async def _set_recording(self, clip_id: str, resumed: bool) -> None:
        async with self.db.write() as session:
            clip = await service.get_clip(session, clip_id=clip_id)
            clip.status = "recording"
            clip.heartbeat_at = utcnow()
            if resumed:
                clip.note = "resumed"

    async def _complete(self, clip_id: str, written: Written) -> None:
        async with self.db.write() as session:
            await service.complete_clip(
                session,
                clip_id=clip_id,
                path=written.path,
                size=written.size,
                sha256=written.sha256,
                duration_s=written.duration_s,
                recorded_start=_utc(written.first_wall),
                recorded_end=_utc(written.end_wall),
                stopped_early=written.stopped_early,
            )
        log.info("clip %s complete: %.1f s, %d bytes", clip_id, written.duration_s, written.size)

    async def _fail(self, clip_id: str, error: str) -> None:
        try:
            async with self.db.write() as session:
                await service.fail_clip(session, clip_id=clip_id, error=error)
        except Exception:  # noqa: BLE001 - the sweep will mark it later
            log.exception("clip %s: could not record the failure", clip_id)


class _Unrecordable(Exception):
    """The clip cannot be recorded at all (camera unlinked, credentials unreadable)."""

