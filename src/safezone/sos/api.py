"""Box health and device-link metrics."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from safezone.auth.access import Access
from safezone.auth.roles import Role
from safezone.auth.service import Principal
from safezone.db.base import utcnow
from safezone.deps import ReadSession, SettingsDep
from safezone.schemas import ListOut, Output, PageDep
from safezone.settings import Settings
from safezone.sos.models import SosBox
from safezone.sos.selftest import last_slot

router = APIRouter(tags=["sos boxes"])
Watchers = Annotated[
    Principal, Depends(Access({Role.admin, Role.supervisor, Role.operator}))
]
Admins = Annotated[Principal, Depends(Access({Role.admin}))]
# A scheduled self-test may take a while to reach every box (offline ones are told later).
SELF_TEST_GRACE = timedelta(hours=1)
PROBLEMS = (
    "not_provisioned",
    "never_seen",
    "offline",
    "on_battery",
    "low_battery",
    "self_test_failed",
    "self_test_overdue",
)


class BoxHealthOut(Output):
    id: int
    code: str
    name_th: str
    name_en: str
    enabled: bool
    status: str
    status_since: datetime | None
    last_seen_at: datetime | None
    battery_pct: float | None
    mains_ok: bool | None
    temperature_c: float | None
    signal_dbm: float | None
    firmware: str | None
    provisioned_at: datetime | None
    last_self_test_at: datetime | None
    self_test_ok: bool | None
    self_test_detail: str | None
    problems: list[str]


def box_problems(box: SosBox, *, now: datetime, settings: Settings) -> list[str]:
    """What is wrong with a box, worst first (empty: healthy)."""
    if box.secret_hash is None:
        return ["not_provisioned"]
    found = []
    if box.status == "unknown" or box.last_seen_at is None:
        found.append("never_seen")
    elif box.status == "offline":
        found.append("offline")
    if box.mains_ok is False:
        found.append("on_battery")
    if box.battery_pct is not None and box.battery_pct < settings.box_low_battery_pct:
        found.append("low_battery")
    if box.self_test_ok is False:
        found.append("self_test_failed")
    slot = last_slot(now, settings.box_self_test_days, settings.box_self_test_time)
    if (
        box.provisioned_at is not None
        and box.provisioned_at < slot
        and now >= slot + SELF_TEST_GRACE
        and (box.last_self_test_at is None or box.last_self_test_at < slot)
    ):
        found.append("self_test_overdue")
    return found


async def box_health(
    session: AsyncSession, *, settings: Settings, failing: bool, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Every enabled box with its health and problems (``failing``: only boxes with some)."""
    now = now or utcnow()
    boxes = await session.scalars(select(SosBox).order_by(SosBox.code))
    out = []
    for box in boxes:
        problems = box_problems(box, now=now, settings=settings)
        if failing and (not problems or not box.enabled):
            continue
        view = BoxHealthOut.model_validate({**_columns(box), "problems": problems})
        out.append(view.model_dump())
    return out


def _columns(box: SosBox) -> dict[str, Any]:
    return {name: getattr(box, name) for name in BoxHealthOut.model_fields if name != "problems"}


@router.get(
    "/sos-boxes/health",
    response_model=ListOut[BoxHealthOut],
    summary="SOS box health: status, power, self-tests; failing=true lists the boxes needing care",
)
async def list_health(
    session: ReadSession,
    settings: SettingsDep,
    _: Watchers,
    page: PageDep,
    failing: Annotated[
        bool, Query(description="Only boxes with a problem (" + ", ".join(PROBLEMS) + ").")
    ] = False,
) -> dict[str, Any]:
    rows = await box_health(session, settings=settings, failing=failing)
    return {
        "data": rows[page.offset : page.offset + page.limit],
        "count": len(rows),
        "limit": page.limit,
        "offset": page.offset,
    }


@router.get("/device-link/stats", summary="Device link counters (messages, rejections, acks)")
async def link_stats(request: Request, _: Admins) -> dict[str, Any]:
    link = getattr(request.app.state, "box_link", None)
    if link is None:
        return {"enabled": False}
    data: dict[str, Any] = link.snapshot()
    data["enabled"] = True
    return data
