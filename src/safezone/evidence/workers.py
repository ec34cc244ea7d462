"""The evidence subsystem's background work: rolling buffers, clip recordings, daily purge."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import datetime
from pathlib import Path

from safezone.db.engine import Database
from safezone.evidence import service
from safezone.evidence.buffer import RollingBuffers
from safezone.evidence.models import Clip
from safezone.evidence.recorder import ClipRecorder
from safezone.settings import Settings

log = logging.getLogger(__name__)
PURGE_EVERY_S = 24 * 3600.0
PURGE_FIRST_DELAY_S = 300.0


async def run_purge(
    db: Database, settings: Settings, *, dry_run: bool = False, now: datetime | None = None
) -> list[Clip]:
    """Purge expired clips: rows and custody entries first (one transaction), then files."""
    async with db.write() as session:
        clips = await service.purge_expired(session, now=now, dry_run=dry_run)
    if not dry_run:
        folder = service.evidence_dir(settings)
        for clip in clips:
            if not clip.path:
                continue
            try:
                (folder / Path(clip.path).name).unlink(missing_ok=True)
            except OSError:
                log.exception("clip %s: purged, but its file could not be deleted", clip.id)
    return clips


def _drop_stale_exports(folder: Path, older_than_s: float = 3600.0) -> None:
    """Bundles are deleted once sent; one left by a dropped download goes after an hour."""
    if not folder.is_dir():
        return
    cutoff = time.time() - older_than_s
    for file in folder.glob("*.zip"):
        with contextlib.suppress(OSError):
            if file.stat().st_mtime < cutoff:
                file.unlink()


class EvidenceWorkers:
    """Started and stopped with the app (see ``safezone.services``)."""

    def __init__(self, *, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self.buffers = RollingBuffers(db=db, settings=settings)
        self.recorder = ClipRecorder(db=db, settings=settings, buffers=self.buffers)
        self._purge: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the buffers, recover unfinished clips, schedule the daily purge."""
        service.evidence_dir(self.settings).mkdir(parents=True, exist_ok=True)
        await self.buffers.start()
        await self.recorder.start()
        self._purge = asyncio.create_task(self._purge_daily(), name="evidence-purge")

    async def stop(self) -> None:
        if self._purge is not None:
            self._purge.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._purge
        await self.recorder.stop()
        await self.buffers.stop()

    async def _purge_daily(self) -> None:
        # The first purge waits a few minutes: start-up is busy enough (migrations, recovery,
        # every service connecting), and a purge holding the write lock then only slows it.
        await asyncio.sleep(PURGE_FIRST_DELAY_S)
        while True:
            try:
                purged = await run_purge(self.db, self.settings)
                if purged:
                    log.info("evidence: purged %d expired clips", len(purged))
                _drop_stale_exports(service.evidence_dir(self.settings) / "exports")
            except Exception:  # noqa: BLE001 - retention must keep running
                log.exception("evidence purge failed; retrying tomorrow")
            await asyncio.sleep(PURGE_EVERY_S)
