"""Camera health routes: the zone's "linked and online" headline, one camera's health, and
resetting a camera's tamper reference view."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from safezone.assets.kinds import BY_PATH
from safezone.assets.service import get_asset
from safezone.audit.service import record
from safezone.auth.access import Access
from safezone.auth.roles import EDITORS, STAFF, Role
from safezone.auth.service import Principal
from safezone.cameras import health_report
from safezone.cameras.frame_check import reference_path, snapshot_path, write_atomic
from safezone.cameras.health_schemas import CameraHealthOut, HealthSummaryOut, ReferenceResetOut
from safezone.cameras.models import Camera
from safezone.db.base import utcnow
from safezone.deps import DatabaseDep, ReadSession, SettingsDep

router = APIRouter(prefix="/cameras", tags=["camera health"])
CAMERAS = BY_PATH["cameras"]
# Station staff, and partners for their own organisation's cameras.
Reader = Annotated[Principal, Depends(Access(STAFF | {Role.partner}))]
Editor = Annotated[Principal, Depends(Access(EDITORS))]


@router.get(
    "/health/summary",
    response_model=HealthSummaryOut,
    summary="Linked and online: the zone's headline, by status and by owner",
)
async def health_summary(
    session: ReadSession,
    who: Reader,
    zone_id: Annotated[int | None, Query(description="Only this zone's cameras.")] = None,
) -> dict[str, Any]:
    return await health_report.summary(session, who=who, zone_id=zone_id, now=utcnow())


@router.get(
    "/{camera_id}/health",
    response_model=CameraHealthOut,
    summary="One camera's health, uptime and latest status changes",
)
async def camera_health(session: ReadSession, who: Reader, camera_id: int) -> dict[str, Any]:
    camera = await get_asset(session, kind=CAMERAS, who=who, asset_id=camera_id)
    assert isinstance(camera, Camera)  # noqa: S101 - the camera kind's model
    return await health_report.camera_health(session, camera=camera, now=utcnow())


@router.post(
    "/{camera_id}/reference-snapshot",
    response_model=ReferenceResetOut,
    summary="Make the latest snapshot the camera's tamper reference view",
)
async def reset_reference(
    db: DatabaseDep, settings: SettingsDep, who: Editor, camera_id: int
) -> dict[str, Any]:
    """Accept the camera's current view (e.g. after it was re-aimed on purpose). Without a
    snapshot yet, the reference is dropped and the next good picture becomes it."""
    async with db.write() as session:
        camera = await get_asset(session, kind=CAMERAS, who=who, asset_id=camera_id)
        assert isinstance(camera, Camera)  # noqa: S101
        snapshot = snapshot_path(settings, camera.id)
        source = "snapshot" if snapshot.is_file() else "next_picture"
        camera.reference_at = utcnow() if source == "snapshot" else None
        await record(
            session,
            actor=who.actor,
            action="camera.reference_reset",
            entity_type="camera",
            entity_id=camera.id,
            details={"source": source, "code": camera.code},
        )
        # The file changes last: if it fails, the transaction (and its audit entry) rolls back.
        if source == "snapshot":
            write_atomic(reference_path(settings, camera.id), snapshot.read_bytes())
        else:
            reference_path(settings, camera.id).unlink(missing_ok=True)
        return {"camera_id": camera.id, "source": source, "reference_at": camera.reference_at}
