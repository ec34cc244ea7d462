"""The operator console (``/console``: alarm queue, map, alarm panel) and the SOS-box health
page (``/sos-boxes``). Both are for the people who answer alarms.

The console's data comes over the console WebSocket (``/api/v1/live``) and the alarm API; the
page itself carries only its strings and settings. The health page is rendered from the device
link's own health view (``safezone.sos.api.box_health``, the data of
``GET /api/v1/sos-boxes/health``: the same problems everywhere), failing boxes first; its
script refreshes the table in place.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from safezone.alarms.effects import RESPONDERS
from safezone.auth.access import Access
from safezone.auth.service import Principal
from safezone.db.engine import Database
from safezone.i18n import catalogue, translate
from safezone.problems import Problem
from safezone.sos.api import box_health
from safezone.web.templating import STATIC_DIR, page_language, render

router = APIRouter(include_in_schema=False)
Responder = Annotated[Principal | None, Depends(Access(RESPONDERS))]
_JS_PREFIXES = ("ui.map.", "ui.status.", "ui.console.", "ui.live.")


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


@router.get("/sos-boxes")
async def sos_boxes_page(request: Request, principal: Responder) -> Response:
    """SOS-box health: status, battery, last heartbeat, self-test; failing boxes first."""
    who = _person(principal)
    settings = request.app.state.settings
    db: Database = request.app.state.db
    async with db.session() as session:
        rows = await box_health(session, settings=settings, failing=False)
    # Boxes that need care first (the most problems first), then by code.
    rows.sort(key=lambda r: (not r["problems"], -len(r["problems"]), r["code"]))
    return render(
        request, "sos_boxes.html", principal=who, rows=rows,
        failing=sum(1 for r in rows if r["problems"]),
        low_battery_pct=settings.box_low_battery_pct,
    )
