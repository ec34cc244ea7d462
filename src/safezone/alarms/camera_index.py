"""The cameras in memory, so that a press does not query them.

"Which cameras see the box" costs three queries (the longest range, the candidates, and the
nearest cameras when none sees it) and most of the press path's CPU went into them, while
cameras change rarely. The device link keeps this index: every camera's position, wedge and
view fields, reloaded in the background when the camera table changes (its row count or
newest ``updated_at``, checked every ``refresh_s``). A press checks that version with one
cheap query first and, if the table changed since the last load (a camera added, moved or
gone offline a moment ago), asks the database as before (``correlate.cameras_for``): an
alarm never shows a stale camera list.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from safezone.alarms.views import CameraLike
from safezone.cameras.coverage import FOV_COLUMNS, CameraFov, SeeingCamera, seeing_in
from safezone.cameras.models import Camera
from safezone.cameras.wedges import degree_box
from safezone.db.engine import Database
from safezone.geo.area import distance_m

log = logging.getLogger(__name__)


_VERSION = select(func.count(), func.max(Camera.updated_at))


async def _version(session: AsyncSession) -> tuple[int, object]:
    conn = await session.connection()
    count, newest = (await conn.execute(_VERSION)).one()
    return int(count), newest


class CameraIndex:
    """Every camera as plain values plus numpy columns of their positions."""

    def __init__(self, db: Database, *, refresh_s: float = 2.0) -> None:
        self.db = db
        self.refresh_s = refresh_s
        self.loaded = False
        self._version: tuple[int, object] | None = None
        self._cameras: list[CameraFov] = []
        self._lat = np.empty(0)
        self._lon = np.empty(0)

    async def is_current(self, session: AsyncSession) -> bool:
        """Whether the index holds the camera table as ``session`` sees it now."""
        if not self.loaded:
            return False
        return await _version(session) == self._version

    async def refresh(self) -> bool:
        """Reload if the camera table changed since the last load; True if it reloaded."""
        async with self.db.session() as session:
            version = await _version(session)
            if version == self._version:
                return False
            rows = await session.execute(select(*FOV_COLUMNS).order_by(Camera.id))
            cameras = [CameraFov(**row._asdict()) for row in rows]
        self._cameras = cameras
        self._lat = np.array([c.lat for c in cameras], dtype=np.float64)
        self._lon = np.array([c.lon for c in cameras], dtype=np.float64)
        self._version = version
        self.loaded = True
        return True

    async def run(self) -> None:
        """Keep the index current until cancelled."""
        while True:
            try:
                await self.refresh()
            except Exception:  # noqa: BLE001 - the pipeline falls back to queries meanwhile
                log.exception("camera index refresh failed")
            await asyncio.sleep(self.refresh_s)

    def seeing(self, lat: float, lon: float) -> list[SeeingCamera]:
        """Cameras whose wedge holds the point, nearest first (as ``cameras_seeing``)."""
        return seeing_in(self._cameras, lat, lon)

    def nearest(self, lat: float, lon: float, *, radius_m: float, limit: int) -> list[CameraFov]:
        """Cameras within ``radius_m`` of the point, nearest first (as ``nearest_cameras``)."""
        west, south, east, north = degree_box(lat, lon, radius_m)
        inside = np.flatnonzero(
            (self._lat >= south) & (self._lat <= north)
            & (self._lon >= west) & (self._lon <= east)
        )
        near = []
        for i in inside:
            camera = self._cameras[int(i)]
            dist = distance_m(camera.lon, camera.lat, lon, lat)
            if dist <= radius_m:
                near.append((dist, camera.id, camera))
        near.sort(key=lambda item: (item[0], item[1]))
        return [camera for _dist, _id, camera in near[:limit]]

    def cameras_for(
        self, lat: float, lon: float, *, radius_m: float, limit: int
    ) -> tuple[Sequence[CameraLike], str]:
        """The cameras to show with an alarm at (lat, lon) and how they were matched."""
        seeing = self.seeing(lat, lon)
        if seeing:
            return seeing[:limit], "fov"
        near = self.nearest(lat, lon, radius_m=radius_m, limit=limit)
        return near, ("nearest" if near else "none")
