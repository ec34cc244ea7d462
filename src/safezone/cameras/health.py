"""The camera health monitor: a background service that watches every linked camera.

Each linked camera gets one small asyncio task that probes it (RTSP OPTIONS + DESCRIBE, at
most ``camera_probes_in_flight`` at once), now and then decodes one picture (snapshot and
tamper check), and sleeps: ``camera_probe_interval_s`` when healthy, the back-off
(1 s → 5 s → 10 s → 60 s, ±20 %) when failing. Results stay in memory; a flush loop writes only
what changed, in one transaction per ``camera_health_flush_s``: the camera's health columns,
one ``CameraStatusChange`` row per transition (uptime is computed from these), and the alerts
(offline/unauthorized for ``camera_offline_alert_s``; tamper at once).

The camera list is re-read every ``camera_monitor_refresh_s``, so cameras added, changed or
unlinked by any process (the API, ``safezone camera import``) are picked up.

One monitor per deployment: with several app processes set ``camera_monitor_enabled=false`` on
all but one. On stop every camera is marked ``unknown`` (nobody is watching), so uptime leaves
the gap out rather than guessing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from datetime import datetime
from typing import Any, cast
from urllib.parse import urlsplit

from sqlalchemy import Table, bindparam, select, update

from safezone.alerts.models import Alert
from safezone.cameras import health_rules as rules
from safezone.cameras.credentials import CredentialBox, CredentialsError, with_userinfo
from safezone.cameras.frame_check import FrameCheck, FrameChecker
from safezone.cameras.health_state import CameraHealth, Target, alert_plan, clear_alert
from safezone.cameras.models import Camera, CameraStatusChange
from safezone.cameras.rtsp_probe import ProbeResult, RtspProber
from safezone.db.base import utcnow
from safezone.db.engine import Database
from safezone.settings import Settings

log = logging.getLogger(__name__)
# Timestamps (last probe, last ok, snapshot) are written at least this often even when nothing
# else changed: fresh enough for "last checked" in the console, and no write per probe.
TOUCH_EVERY_S = 300.0
_CAMERAS = cast(Table, Camera.__table__)
_WRITTEN = (
    "status", "status_since", "status_detail", "tamper", "codec", "width", "height", "fps",
    "last_probe_at", "last_ok_at", "snapshot_at",
)
# reference_at is also set by people (the reference-snapshot route): the monitor writes it only
# when it took a reference itself, so it never overwrites theirs with a stale value.
_HEALTH_COLUMNS = (*_WRITTEN, "reference_at")
_WRITE = (
    update(_CAMERAS)
    .where(_CAMERAS.c.id == bindparam("b_id"))
    # Setting updated_at to itself keeps its onupdate from firing: health is not an edit.
    .values(updated_at=_CAMERAS.c.updated_at, **{c: bindparam(f"b_{c}") for c in _WRITTEN})
)
_WRITE_REFERENCE = (
    update(_CAMERAS)
    .where(_CAMERAS.c.id == bindparam("b_id"))
    .values(updated_at=_CAMERAS.c.updated_at, reference_at=bindparam("b_reference_at"))
)


class CameraMonitor:
    """Start with ``start()``, stop with ``stop()`` (both from the app's lifespan)."""

    def __init__(self, *, db: Database, settings: Settings, seed: int | None = None) -> None:
        self.db = db
        self.settings = settings
        self.prober = RtspProber(
            max_in_flight=settings.camera_probes_in_flight,
            timeout_s=settings.camera_probe_timeout_s,
        )
        self.frames = FrameChecker(
            settings,
            max_in_flight=settings.camera_frame_checks_in_flight,
            timeout_s=settings.camera_probe_timeout_s,
        )
        self.cameras: dict[int, CameraHealth] = {}
        self._box = CredentialBox(settings.resolved_credentials_key())
        self._rng = random.Random(seed)  # noqa: S311 - jitter, not security
        self._changes: list[dict[str, Any]] = []
        self._orphans: list[tuple[int, str]] = []  # (camera id, kind) of alerts to clear
        self._open_alerts: dict[int, dict[str, str | None]] = {}
        self._loop_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Read the open alerts and the cameras, start watching."""
        async with self.db.session() as session:
            rows = await session.execute(
                select(Alert.entity_id, Alert.kind, Alert.details).where(
                    Alert.entity_type == "camera",
                    Alert.kind.in_((rules.OFFLINE_KIND, rules.TAMPER_KIND)),
                    Alert.cleared_at.is_(None),
                )
            )
            for entity_id, kind, details in rows:
                if entity_id.isdigit():
                    tamper = (details or {}).get("tamper") if kind == rules.TAMPER_KIND else None
                    self._open_alerts.setdefault(int(entity_id), {})[kind] = tamper
        await self._reload()
        self._loop_task = asyncio.create_task(self._housekeeping(), name="camera-monitor")

    async def stop(self) -> None:
        """Stop watching, mark every camera ``unknown`` and write what is pending."""
        tasks = [t for t in (self._loop_task, *(h.task for h in self.cameras.values())) if t]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.frames.drain()
        now = utcnow()
        for h in self.cameras.values():
            self._set(h, "unknown", "monitor stopped", None, now)
        try:
            await self.flush()
        except Exception:  # noqa: BLE001 - shutting down: log it, do not block the shutdown
            log.exception("camera health: the last write on stop failed")

    # --- watching one camera -------------------------------------------------------------

    async def _watch(self, h: CameraHealth) -> None:
        settings = self.settings
        while True:
            try:
                await self._check(h)
            except Exception:  # noqa: BLE001 - one camera's surprise must not stop its watch
                log.exception("camera %s: health check failed", h.target.code)
                h.failures += 1
            delay = rules.next_delay(
                h.failures,
                interval=settings.camera_probe_interval_s,
                backoff=settings.camera_backoff_s,
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(h.wake.wait(), rules.jittered(delay, self._rng))
            h.wake.clear()

    def _credentials(self, target: Target) -> tuple[str, str] | None:
        return self._box.open(target.credentials_enc)

    async def _check(self, h: CameraHealth) -> None:
        target = h.target
        try:
            creds = self._credentials(target)
        except CredentialsError:
            probe = ProbeResult("unauthorized", "stored credentials cannot be decrypted")
            self._after_probe(h, probe, utcnow())
            return
        rtsp = urlsplit(target.stream_url).scheme.lower() == "rtsp"
        if rtsp:
            probe = await self.prober.probe(target.stream_url, creds)
            now = utcnow()
            if probe.state == "online" and time.monotonic() >= h.frame_due:
                # Sub-stream first: same scene, far cheaper to decode.
                urls = [u for u in (target.sub_stream_url, target.stream_url) if u]
                h.frame = await self.frames.check(
                    target.id, [with_userinfo(u, creds) for u in urls]
                )
                self._after_frame(h)
        else:
            # rtsps:// and http(s):// streams: a decoded picture is the probe.
            h.frame = await self.frames.check(target.id, [with_userinfo(target.stream_url, creds)])
            probe, now = _probe_from_frame(h.frame), utcnow()
            self._after_frame(h)
        if probe.state != "online":
            # Look at the picture as soon as it is back; a repeat after an outage is not a
            # frozen picture.
            h.frame, h.frame_due = None, 0.0
            self.frames.forget(target.id)
        self._after_probe(h, probe, now)

    def _after_frame(self, h: CameraHealth) -> None:
        if h.frame is None or h.frame.reason is not None:
            h.frame_due = 0.0  # no picture: try again at the next probe
            return
        h.snapshot_at = utcnow()
        h.frame_due = time.monotonic() + self.settings.camera_frame_check_interval_s
        if h.frame.reference_set:
            h.reference_at, h.reference_pending, h.dirty = h.snapshot_at, True, True

    def _after_probe(self, h: CameraHealth, probe: ProbeResult, now: datetime) -> None:
        h.last_probe_at = now
        status, detail, found = rules.combine(probe, h.frame)
        if probe.state == "online":
            h.last_ok_at = now
            if probe.codec is not None or probe.width is not None:
                media = (probe.codec, probe.width, probe.height, probe.fps)
                if media != (h.codec, h.width, h.height, h.fps):
                    h.codec, h.width, h.height, h.fps = media
                    h.dirty = True
        h.failures = 0 if status in ("online", "degraded") else h.failures + 1
        self._set(h, status, detail, found, now)

    def _set(
        self, h: CameraHealth, status: str, detail: str | None, found: str | None, now: datetime
    ) -> None:
        detail = detail[:300] if detail else None
        if status != h.status:
            # The first state of every camera at start-up is routine; later changes are news.
            level = logging.DEBUG if "unknown" in (h.status, status) else logging.INFO
            log.log(level, "camera %s: %s → %s (%s)", h.target.code, h.status, status, detail)
            self._changes.append(
                {"camera_id": h.target.id, "at": now, "status": status, "detail": detail}
            )
            if status in rules.ALERTING:
                h.bad_since = h.bad_since if h.status in rules.ALERTING else now
            else:
                h.bad_since = None
            h.status, h.status_since, h.dirty = status, now, True
        if (detail, found) != (h.status_detail, h.tamper):
            h.status_detail, h.tamper, h.dirty = detail, found, True

    # --- the camera list -------------------------------------------------------------------

    async def _reload(self) -> None:
        async with self.db.session() as session:
            rows = (
                await session.execute(
                    select(
                        Camera.id, Camera.code, Camera.name_th, Camera.name_en,
                        Camera.stream_url, Camera.sub_stream_url, Camera.credentials_enc,
                        *(getattr(Camera, c) for c in _HEALTH_COLUMNS),
                    ).where(Camera.tier == "linked", Camera.stream_url.is_not(None))
                )
            ).all()
        seen: set[int] = set()
        for row in rows:
            target = Target(*row[:7])
            seen.add(target.id)
            h = self.cameras.get(target.id)
            if h is None:
                self._watch_new(target, dict(zip(_HEALTH_COLUMNS, row[7:], strict=True)))
                continue
            if h.target != target:  # new URL or credentials: start over, probe now
                h.target, h.failures, h.frame, h.frame_due = target, 0, None, 0.0
                self.frames.forget(target.id)
                h.wake.set()
            if row.reference_at != h.reference_seen:  # a person reset the reference view
                h.reference_at = h.reference_seen = row.reference_at
                h.frame_due = 0.0
                h.wake.set()
        for camera_id in set(self.cameras) - seen:
            h = self.cameras.pop(camera_id)
            if h.task is not None:
                h.task.cancel()
            self.frames.forget(camera_id)
            if h.offline_alert:
                self._orphans.append((camera_id, rules.OFFLINE_KIND))
            if h.tamper_alert:
                self._orphans.append((camera_id, rules.TAMPER_KIND))

    def _watch_new(self, target: Target, stored: dict[str, Any]) -> None:
        h = CameraHealth(target=target)
        for column, value in stored.items():
            setattr(h, column, value)
        h.reference_seen = h.reference_at
        if h.status in rules.ALERTING:
            h.bad_since = h.status_since
        alerts = self._open_alerts.pop(target.id, {})
        h.offline_alert = rules.OFFLINE_KIND in alerts
        if rules.TAMPER_KIND in alerts:
            h.tamper_alert = alerts[rules.TAMPER_KIND] or "unknown"
        self.cameras[target.id] = h
        h.task = asyncio.create_task(self._watch(h), name=f"camera-health-{target.id}")

    # --- writing -------------------------------------------------------------------------------

    async def _housekeeping(self) -> None:
        next_reload = time.monotonic() + self.settings.camera_monitor_refresh_s
        while True:
            await asyncio.sleep(self.settings.camera_health_flush_s)
            try:
                if time.monotonic() >= next_reload:
                    next_reload = time.monotonic() + self.settings.camera_monitor_refresh_s
                    await self._reload()
                await self.flush()
            except Exception:  # noqa: BLE001 - the monitor must outlive a database hiccup
                log.exception("camera health: writing or reloading failed; retrying")

    async def flush(self) -> None:
        """Write pending health changes, transitions and alerts in one transaction."""
        now, mono = utcnow(), time.monotonic()
        # Values are taken now: camera tasks keep changing their state while this awaits.
        rows = {
            h.target.id: (h, _values(h), h.reference_at if h.reference_pending else None)
            for h in self.cameras.values()
            if h.dirty or (h.last_probe_at is not None and mono - h.persisted > TOUCH_EVERY_S)
        }
        alerts = alert_plan(self.cameras.values(), now, self.settings.camera_offline_alert_s)
        changes, orphans = self._changes, self._orphans
        if not (rows or alerts or changes or orphans):
            return
        self._changes, self._orphans = [], []
        try:
            async with self.db.write() as session:
                ids = set(rows) | {c["camera_id"] for c in changes}
                alive = set(await session.scalars(select(Camera.id).where(Camera.id.in_(ids))))
                params = [{"b_id": i, **v} for i, (_, v, _) in rows.items() if i in alive]
                references = [
                    {"b_id": i, "b_reference_at": ref}
                    for i, (_, _, ref) in rows.items() if ref is not None and i in alive
                ]
                connection = await session.connection()
                if params:
                    await connection.execute(_WRITE, params)
                if references:
                    await connection.execute(_WRITE_REFERENCE, references)
                session.add_all(
                    CameraStatusChange(**c) for c in changes if c["camera_id"] in alive
                )
                for camera_id, kind in orphans:
                    await clear_alert(session, camera_id, kind, now)
                for step in alerts:
                    await step.run(session, now)
        except BaseException:  # cancelled too: what was not written is written next time
            self._changes, self._orphans = changes + self._changes, orphans + self._orphans
            raise
        for h, values, reference in rows.values():
            h.persisted = mono
            if _values(h) == values:  # nothing changed while we were writing
                h.dirty = False
            if reference is not None and h.reference_at == reference:
                h.reference_seen, h.reference_pending = reference, False
        for step in alerts:
            step.commit()


def _values(h: CameraHealth) -> dict[str, Any]:
    return {f"b_{c}": getattr(h, c) for c in _WRITTEN}


def _probe_from_frame(frame: FrameCheck) -> ProbeResult:
    if frame.reason is None:
        return ProbeResult("online", "picture decoded", width=frame.width, height=frame.height)
    state = frame.reason if frame.reason in ("offline", "unauthorized") else "no_video"
    return ProbeResult(state, frame.detail or state)  # type: ignore[arg-type]
