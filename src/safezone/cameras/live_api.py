"""Live view over WebSocket and the latest-frame snapshot.

``WS /api/v1/cameras/{id}/live`` sends one JSON text frame ``{"type": "init", "mime": ...}``
(the MIME type with the codec for ``MediaSource.isTypeSupported``), then binary frames: the
fMP4 init segment and one media fragment per video frame; ``{"type": "status", ...}`` text
frames report the upstream's state (connecting, live, reconnecting). Role, Origin and the
owner's sharing policy are checked when a view starts and re-checked while it runs; a refusal
closes the socket with 4401/4403/4404 and a reason code. Every view start and stop goes into
the audit chain with its duration.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from email.utils import formatdate
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response, WebSocket
from sqlalchemy.ext.asyncio import AsyncSession

from safezone.audit.service import record
from safezone.auth.access import Access
from safezone.auth.roles import Role
from safezone.auth.service import Principal
from safezone.auth.ws_access import CLOSE_FORBIDDEN, CLOSE_NOT_FOUND, WebSocketAccess
from safezone.cameras.credentials import CredentialBox, CredentialsError, redact, with_userinfo
from safezone.cameras.live import LiveHub, StreamSource
from safezone.cameras.live_snapshot import SnapshotError, SnapshotGrabber
from safezone.cameras.live_viewer import Viewer, ViewerClosed
from safezone.cameras.models import Camera
from safezone.cameras.policy import VIDEO_ROLES, ViewDecision, can_view
from safezone.db.engine import Database
from safezone.problems import Problem
from safezone.settings import Settings

log = logging.getLogger(__name__)
router = APIRouter(prefix="/cameras", tags=["live view"])
CLOSE_GOING_AWAY = 1001

Watcher = Annotated[Principal, Depends(WebSocketAccess(VIDEO_ROLES))]
Looker = Annotated[Principal, Depends(Access(VIDEO_ROLES))]


class ViewRefused(Exception):
    """The view may not start: ``status`` for HTTP, ``close_code`` for WebSocket."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason

    @property
    def close_code(self) -> int:
        return CLOSE_NOT_FOUND if self.status == 404 else CLOSE_FORBIDDEN


async def check_view(
    session: AsyncSession, *, camera_id: int, who: Principal
) -> tuple[Camera, ViewDecision]:
    """The camera and the policy's yes; raises ``ViewRefused`` otherwise.

    A partner asking for another organisation's camera gets "not found", as everywhere else.
    """
    camera = await session.get(Camera, camera_id, populate_existing=True)
    if camera is None or (
        who.role == Role.partner and camera.organisation_id != who.organisation_id
    ):
        raise ViewRefused(404, "not_found")
    decision = await can_view(session, camera=camera, who=who)
    if not decision.allowed:
        raise ViewRefused(403, decision.reason)
    return camera, decision


def stream_source(camera: Camera, settings: Settings, *, prefer_sub: bool) -> StreamSource:
    """The URL to open (credentials joined in) and a redacted label for logs."""
    use_sub = prefer_sub and bool(camera.sub_stream_url)
    url = (camera.sub_stream_url if use_sub else camera.stream_url) or ""
    try:
        credentials = CredentialBox(settings.resolved_credentials_key()).open(
            camera.credentials_enc
        )
    except CredentialsError as exc:
        raise ViewRefused(409, "credentials_unreadable") from exc
    return StreamSource(
        url=with_userinfo(url, credentials), label=redact(url), which="sub" if use_sub else "main"
    )


def _hub(app: Any) -> LiveHub:
    hub: LiveHub = app.state.services.live_video
    return hub


def _grabber(app: Any) -> SnapshotGrabber:
    grabber: SnapshotGrabber = app.state.services.snapshots
    return grabber


async def _audit(db: Database, who: Principal, action: str, camera_id: int, **details: Any) -> None:
    async with db.write() as session:
        await record(
            session,
            actor=who.actor,
            action=action,
            entity_type="camera",
            entity_id=camera_id,
            details=details,
        )


async def _send(websocket: WebSocket, viewer: Viewer) -> str:
    while True:
        try:
            message = await viewer.next()
        except ViewerClosed:
            return "server"
        if message.kind == "control":
            await websocket.send_text(json.dumps(message.body))
        else:
            await websocket.send_bytes(message.data)


async def _receive(websocket: WebSocket) -> str:
    # Nothing is expected from the page; reading is how a closed tab is noticed.
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return "viewer"


async def _recheck(db: Database, camera_id: int, who: Principal, every_s: float) -> str:
    # A view that was allowed can stop being allowed (the alarm closes, the request expires,
    # the owner turns sharing off): check again while it runs.
    while True:
        await asyncio.sleep(every_s)
        try:
            async with db.session() as session:
                await check_view(session, camera_id=camera_id, who=who)
        except ViewRefused as exc:
            return exc.reason


async def _stream(
    websocket: WebSocket, viewer: Viewer, db: Database, camera_id: int, who: Principal,
    recheck_s: float,
) -> str:
    """Pump the viewer's queue into the socket until someone stops; says who stopped."""
    tasks = {
        asyncio.create_task(_send(websocket, viewer), name="live-send"): "send",
        asyncio.create_task(_receive(websocket), name="live-receive"): "receive",
        asyncio.create_task(_recheck(db, camera_id, who, recheck_s), name="live-policy"): "policy",
    }
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
    finished = next(iter(done))
    try:
        outcome = finished.result()
    except Exception:  # noqa: BLE001 - any send failure means the page is gone
        log.debug("live: camera %s: send failed", camera_id, exc_info=True)
        return "viewer"
    if tasks[finished] == "policy":
        with contextlib.suppress(RuntimeError, OSError):
            await websocket.close(CLOSE_FORBIDDEN, outcome)
        return f"policy:{outcome}"
    if outcome == "server":
        with contextlib.suppress(RuntimeError, OSError):
            await websocket.close(CLOSE_GOING_AWAY, "server_shutdown")
    return str(outcome)


@router.websocket("/{camera_id}/live", name="camera_live")
async def camera_live(websocket: WebSocket, camera_id: int, who: Watcher) -> None:
    """Live video of one camera as fragmented MP4 (MSE), shared upstream, audited."""
    app = websocket.app
    db: Database = app.state.db
    settings: Settings = app.state.settings
    try:
        async with db.session() as session:
            camera, decision = await check_view(session, camera_id=camera_id, who=who)
            source = stream_source(camera, settings, prefer_sub=True)
    except ViewRefused as exc:
        if exc.status == 403:
            await _audit(db, who, "camera.view_denied", camera_id, reason=exc.reason)
        await websocket.close(exc.close_code, exc.reason)
        return
    view_id = uuid.uuid4().hex[:16]
    await _audit(
        db, who, "camera.view_start", camera.id,
        view_id=view_id, code=camera.code, stream=source.which, basis=decision.reason,
    )
    began = time.monotonic()
    ended_by = "server"
    viewer: Viewer | None = None
    try:
        async with _hub(app).watch(camera.id, source) as viewer:
            ended_by = await _stream(
                websocket, viewer, db, camera.id, who, settings.live_policy_recheck_s
            )
    finally:
        # Shielded: a server shutting down must still write how long the view lasted.
        await asyncio.shield(
            _audit(
                db, who, "camera.view_stop", camera.id,
                view_id=view_id,
                duration_s=round(time.monotonic() - began, 2),
                ended_by=ended_by,
                bytes=viewer.sent_bytes if viewer else 0,
                dropped=viewer.dropped if viewer else 0,
            )
        )


@router.get(
    "/{camera_id}/snapshot.jpg",
    summary="The camera's latest frame (JPEG)",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}, "description": "JPEG image"}},
)
async def camera_snapshot(request: Request, camera_id: int, who: Looker) -> Response:
    """The health monitor's snapshot when fresh, else one frame grabbed from the camera now."""
    db: Database = request.app.state.db
    settings: Settings = request.app.state.settings
    try:
        async with db.session() as session:
            camera, _decision = await check_view(session, camera_id=camera_id, who=who)
            source = stream_source(camera, settings, prefer_sub=False)
    except ViewRefused as exc:
        if exc.status == 404:
            raise Problem(404, "entity_not_found", entity="camera", id=camera_id) from None
        if exc.status == 409:
            raise Problem(409, "camera_credentials_unreadable", id=camera_id) from None
        await _audit(db, who, "camera.view_denied", camera_id, reason=exc.reason, what="snapshot")
        raise Problem(403, "camera_view_denied", reason=exc.reason) from None
    try:
        snap = await _grabber(request.app).latest(camera.id, source.url)
    except SnapshotError as exc:
        log.info("snapshot of camera %s (%s) failed: %s", camera.id, source.label, exc.reason)
        raise Problem(502, "camera_unavailable", reason=exc.reason) from None
    await _audit(db, who, "camera.snapshot_view", camera.id, code=camera.code, source=snap.source)
    return Response(
        snap.jpeg,
        media_type="image/jpeg",
        headers={
            "Cache-Control": "no-store",
            "Last-Modified": formatdate(snap.taken_at, usegmt=True),
            "X-Snapshot-Source": snap.source,
        },
    )
