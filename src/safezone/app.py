"""FastAPI application factory and the lifespan that starts and stops background services."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy import text

from safezone import __version__, problems
from safezone.auth.access import Access
from safezone.db.engine import Database
from safezone.db.migrate import upgrade
from safezone.live.hub import LiveHub as ConsoleHub
from safezone.services import BackgroundServices
from safezone.settings import Settings, get_settings

log = logging.getLogger(__name__)

health = APIRouter(tags=["health"])


@health.get("/healthz", summary="Liveness and database check")
async def healthz(request: Request, _: Annotated[object, Depends(Access.anyone())]) -> JSONResponse:
    """200 when the app and its database answer; 503 otherwise."""
    db: Database = request.app.state.db
    try:
        async with db.session() as session:
            await asyncio.wait_for(session.execute(text("SELECT 1")), timeout=5)
    except Exception:  # noqa: BLE001 - any failure means "not healthy"
        log.warning("health check: database unreachable", exc_info=True)
        return JSONResponse({"status": "unhealthy", "database": "down"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "up", "version": __version__})


docs = APIRouter(include_in_schema=False)
Public = Annotated[object, Depends(Access.anyone())]


@docs.get("/api/docs")
async def api_docs(_: Public) -> HTMLResponse:
    """Swagger UI for the OpenAPI document, from vendored files (works offline)."""
    return get_swagger_ui_html(
        openapi_url="/api/openapi.json",
        title="SafeZone API",
        swagger_js_url="/static/vendor/swagger-ui/swagger-ui-bundle.js",
        swagger_css_url="/static/vendor/swagger-ui/swagger-ui.css",
        swagger_favicon_url="/static/vendor/swagger-ui/favicon-32x32.png",
        oauth2_redirect_url="/api/docs/oauth2-redirect",
    )


@docs.get("/api/docs/oauth2-redirect")
async def api_docs_redirect(_: Public) -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()


# How uvicorn serves the app (``safezone serve``, the demo, the tests' live server): no
# per-message deflate, because the consoles' frames are small JSON and live view's are H.264,
# which does not compress. Deflating every alarm once per connected console cost more CPU than
# storing the alarm.
UVICORN_OPTIONS: dict[str, Any] = {"ws_per_message_deflate": False}


# Set on ``app.state`` by the serving commands (not by tests, which build many apps in one
# process and must not pin each one's garbage).
FREEZE_AFTER_START = "freeze_heap_after_start"


def freeze_heap() -> None:
    """Move everything built so far (modules, classes, ORM mappers, the app) out of the cyclic
    garbage collector's sight, in a serving process before it serves (``safezone serve`` and
    the demo call it before uvicorn starts and, through ``FREEZE_AFTER_START``, once the
    background services are up).

    A full collection walked all of it: 90-130 ms with the event loop stopped, a few times a
    minute under a fleet of boxes, which was the largest single delay an SOS press could meet.
    These objects live as long as the process, so nothing is lost by not scanning them.
    """
    gc.collect()
    gc.freeze()


def create_app(settings: Settings | None = None, *, migrate: bool = True) -> FastAPI:
    """Build the app. ``migrate`` applies pending migrations at start-up."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        db = app.state.db
        if migrate:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            await upgrade(db)
        services = BackgroundServices(db=db, settings=settings, state=app.state)
        app.state.services = services  # routes reach the live hub and other services here
        await services.start()
        if getattr(app.state, FREEZE_AFTER_START, False):
            freeze_heap()
        try:
            yield {}
        finally:
            await services.stop()
            await db.dispose()

    app = FastAPI(
        title="SafeZone",
        version=__version__,
        description="Command platform for a police station's Smart Safety Zone.",
        # Served by ``docs`` below from vendored files: the CDN default fails offline.
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=lifespan,
    )
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    app.state.settings = settings
    app.state.default_language = settings.default_language
    app.state.db = Database(settings.resolved_database_url)
    # The consoles' pub/sub (alarms, alerts); the device link and services publish to it.
    app.state.live_hub = ConsoleHub()
    problems.install(app)
    _mount_routes(app)
    return app


def _mount_routes(app: FastAPI) -> None:
    from safezone.api import api_router
    from safezone.web.pages import mount_web

    app.include_router(health)
    app.include_router(docs)
    app.include_router(api_router, prefix="/api/v1")
    mount_web(app)
