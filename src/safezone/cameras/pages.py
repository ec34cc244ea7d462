"""Console pages for cameras: the filtered list, one camera (details, health, live, snapshot,
policy) and the camera wall. Video itself comes from the live WebSocket, checked there."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from safezone.auth.access import Access
from safezone.auth.roles import ALL_ROLES, Role
from safezone.auth.service import Principal
from safezone.cameras.models import Camera
from safezone.cameras.policy import VIDEO_ROLES, can_view
from safezone.db.engine import Database
from safezone.i18n import catalogue, translate
from safezone.orgs.models import Organisation
from safezone.problems import Problem
from safezone.web.templating import page_language, render
from safezone.zones.models import Zone

STATUSES = ("online", "degraded", "no_video", "unauthorized", "offline", "unknown")
PAGE_SIZE = 50
# Strings the player and wall scripts need, picked from the catalogue by prefix.
_JS_PREFIXES = ("ui.live.", "ui.wall.", "ui.status.", "ui.cameras.request_")

router = APIRouter(include_in_schema=False)
Anyone = Annotated[Principal | None, Depends(Access(ALL_ROLES))]
Watcher = Annotated[Principal | None, Depends(Access(VIDEO_ROLES))]


def _person(principal: Principal | None) -> Principal:
    # Access(...) never returns None for a non-public route; this keeps mypy honest.
    if principal is None:
        raise Problem(401, "unauthenticated")
    return principal


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _js_strings(lang: str) -> dict[str, str]:
    return {k: translate(k, lang) for k in sorted(catalogue("en")) if k.startswith(_JS_PREFIXES)}


def scoped_cameras(who: Principal) -> Select[Any]:
    """Cameras the person may see listed (partners: their own organisation's)."""
    query = select(Camera)
    if who.role == Role.partner:
        query = query.where(Camera.organisation_id == who.organisation_id)
    return query


async def _choices(session: AsyncSession, who: Principal) -> dict[str, Any]:
    orgs = select(Organisation.id, Organisation.name_th, Organisation.name_en).order_by(
        Organisation.name_th
    )
    if who.role == Role.partner:
        orgs = orgs.where(Organisation.id == who.organisation_id)
    zones = select(Zone.id, Zone.name_th, Zone.name_en).order_by(Zone.name_th)
    return {
        "organisations": [dict(r._mapping) for r in await session.execute(orgs)],
        "zones": [dict(r._mapping) for r in await session.execute(zones)],
    }


@router.get("/cameras")
async def cameras_page(
    request: Request,
    principal: Anyone,
    status: Annotated[str | None, Query(max_length=16)] = None,
    organisation_id: Annotated[str | None, Query(max_length=12)] = None,
    zone_id: Annotated[str | None, Query(max_length=12)] = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    """Every camera the person may see, filtered by status, owner, zone and a search."""
    who = _person(principal)
    # An empty <select> submits "": treat it as "any", not as a validation error.
    org = int(organisation_id) if organisation_id and organisation_id.isdigit() else None
    zone = int(zone_id) if zone_id and zone_id.isdigit() else None
    state = status if status in STATUSES else None
    query = scoped_cameras(who)
    if state:
        query = query.where(Camera.status == state)
    if org is not None:
        query = query.where(Camera.organisation_id == org)
    if zone is not None:
        query = query.where(Camera.zone_id == zone)
    if q and q.strip():
        like = f"%{q.strip().lower()}%"
        query = query.where(
            func.lower(Camera.name_th).like(like)
            | func.lower(Camera.name_en).like(like)
            | func.lower(Camera.code).like(like)
        )
    async with _db(request).session() as session:
        total = int(await session.scalar(select(func.count()).select_from(query.subquery())) or 0)
        rows = (
            await session.scalars(query.order_by(Camera.code).limit(PAGE_SIZE).offset(offset))
        ).all()
        choices = await _choices(session, who)
    org_names = {o["id"]: o for o in choices["organisations"]}
    zone_names = {z["id"]: z for z in choices["zones"]}
    return render(
        request,
        "cameras_list.html",
        principal=who,
        cameras=rows,
        total=total,
        offset=offset,
        page_size=PAGE_SIZE,
        statuses=STATUSES,
        filters={"status": state, "organisation_id": org, "zone_id": zone, "q": q or ""},
        org_names=org_names,
        zone_names=zone_names,
        **choices,
    )


@router.get("/cameras/wall")
async def wall_page(request: Request, principal: Watcher) -> Response:
    """The camera wall: 2×2, 3×3 or 4×4 live tiles and the person's saved layouts."""
    who = _person(principal)
    lang = page_language(request)
    query = scoped_cameras(who).where(Camera.tier == "linked").order_by(Camera.code)
    async with _db(request).session() as session:
        rows = (await session.scalars(query)).all()
    cameras = [
        {
            "id": c.id,
            "code": c.code,
            "name": (c.name_en or c.name_th) if lang == "en" else c.name_th,
            "status": c.status,
            "policy": c.sharing_policy,
        }
        for c in rows
    ]
    return render(
        request, "camera_wall.html", principal=who,
        wall_config={
            "cameras": cameras,
            "layoutsUrl": "/api/v1/wall-layouts",
            "csrfToken": who.csrf_token,
        },
        js_strings=_js_strings(lang),
    )


@router.get("/cameras/{camera_id}")
async def camera_page(request: Request, camera_id: int, principal: Anyone) -> Response:
    """One camera: details, health, live video, snapshot and why it may (not) be viewed."""
    who = _person(principal)
    lang = page_language(request)
    async with _db(request).session() as session:
        camera = await session.scalar(scoped_cameras(who).where(Camera.id == camera_id))
        if camera is None:
            raise Problem(404, "entity_not_found", entity="camera", id=camera_id)
        decision = await can_view(session, camera=camera, who=who)
        owner = (
            await session.get(Organisation, camera.organisation_id)
            if camera.organisation_id is not None
            else None
        )
        zone = await session.get(Zone, camera.zone_id) if camera.zone_id is not None else None
    return render(
        request,
        "camera.html",
        principal=who,
        camera=camera,
        owner=owner,
        zone=zone,
        decision=decision,
        player_config={
            "cameraId": camera.id,
            "allowed": decision.allowed,
            "reason": decision.reason,
            "snapshotUrl": f"/api/v1/cameras/{camera.id}/snapshot.jpg",
            "accessRequestUrl": f"/api/v1/cameras/{camera.id}/access-requests",
            "csrfToken": who.csrf_token,
        },
        js_strings=_js_strings(lang),
    )
