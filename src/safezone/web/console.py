"""The operator console (``/console``: alarm queue, map, alarm panel) and the SOS-box health
page (``/sos-boxes``). Both are for the people who answer alarms.

The console's data comes over the console WebSocket (``/api/v1/live``) and the alarm API; the
page itself carries only its strings and settings. The health page is rendered from the
``sos_boxes`` health columns that the device link keeps up to date (heartbeats, last will,
self-tests), failing boxes first; its script refreshes the table in place.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import select

from safezone.alarms.effects import RESPONDERS
from safezone.auth.access import Access
from safezone.auth.service import Principal
from safezone.db.base import utcnow
from safezone.db.engine import Database
from safezone.i18n import catalogue, translate
from safezone.problems import Problem
from safezone.sos.models import SosBox
from safezone.web.templating import STATIC_DIR, page_language, render

router = APIRouter(include_in_schema=False)
Responder = Annotated[Principal | None, Depends(Access(RESPONDERS))]
_JS_PREFIXES = ("ui.map.", "ui.status.", "ui.console.", "ui.live.")
# Below this a box may not last a night without mains power.
LOW_BATTERY_PCT = 20.0
# Heartbeats come every 30 s by default; three missed in a row is worth a look.
HEARTBEAT_STALE = timedelta(seconds=90)


def _person(principal: Principal | None) -> Principal:
    if principal is None:  # Access(...) never returns None here; keeps mypy honest
        raise Problem(401, "unauthenticated")
    return principal


def _strings(lang: str) -> dict[str, str]:
    return {k: translate(k, lang) for k in sorted(catalogue("en")) if k.startswith(_JS_PREFIXES)}


@router.get("/console")
async def console_page(request: Request, principal: Responder) -> Response:
    """The operator console: alarms as they come, on the map, with sound."""
    who = _person(principal)
    settings = request.app.state.settings
    map_config: dict[str, Any] = {
        "layersUrl": "/api/v1/layers",
        "coverageUrl": "/api/v1/coverage",
        "tileUrl": settings.tile_url or None,
        "tileAttribution": settings.tile_attribution,
    }
    console_config: dict[str, Any] = {
        "liveUrl": "/api/v1/live",
        "alarmsUrl": "/api/v1/alarms",
        "incidentsUrl": "/api/v1/incidents",
        "csrf": who.csrf_token,
        "role": who.role.value,
        "ackTimeoutS": settings.alarm_ack_timeout_s,
        # The two-way call lands with its own module; until then Answer stays disabled.
        "callModule": "/static/js/call.js" if (STATIC_DIR / "js" / "call.js").exists() else None,
    }
    return render(
        request, "console.html", principal=who, js_strings=_strings(page_language(request)),
        map_config=map_config, console_config=console_config,
    )


@dataclass(frozen=True)
class BoxHealth:
    box: SosBox
    problems: list[str]

    @property
    def failing(self) -> bool:
        return bool(self.problems)


def box_problems(box: SosBox, now: datetime) -> list[str]:
    """What is wrong with a box, as catalogue keys (``ui.boxes.problem.*``)."""
    problems = []
    if not box.enabled:
        problems.append("disabled")
    if box.status == "offline":
        problems.append("offline")
    elif box.last_heartbeat_at is None or now - box.last_heartbeat_at > HEARTBEAT_STALE:
        problems.append("no_heartbeat")
    if box.self_test_ok is False:
        problems.append("self_test_failed")
    elif box.last_self_test_at is None:
        problems.append("never_tested")
    if box.mains_ok is False:
        problems.append("mains_lost")
    if box.battery_pct is not None and box.battery_pct < LOW_BATTERY_PCT:
        problems.append("low_battery")
    return problems


async def box_health(db: Database) -> list[BoxHealth]:
    """Every box with its problems, failing boxes first (most problems first), then by code."""
    now = utcnow()
    async with db.session() as session:
        boxes = list(await session.scalars(select(SosBox).order_by(SosBox.code)))
    rows = [BoxHealth(box, box_problems(box, now)) for box in boxes]
    rows.sort(key=lambda r: (not r.failing, -len(r.problems), r.box.code))
    return rows


@router.get("/sos-boxes")
async def sos_boxes_page(request: Request, principal: Responder) -> Response:
    """SOS-box health: status, battery, last heartbeat, self-test; failing boxes first."""
    who = _person(principal)
    rows = await box_health(request.app.state.db)
    return render(
        request, "sos_boxes.html", principal=who, rows=rows,
        failing=sum(1 for r in rows if r.failing), low_battery_pct=LOW_BATTERY_PCT,
    )
