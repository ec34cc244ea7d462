"""Jinja2 rendering for the console's server-rendered pages.

Every page gets the same context (language, translator, the signed-in person, their CSRF token,
settings) so templates never reach into the request themselves.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context
from jinja2.runtime import Context

from safezone.auth.roles import ALL_ROLES, EDITORS, Role
from safezone.auth.service import Principal
from safezone.i18n import LANGUAGES, Lang, format_datetime, translate
from safezone.settings import Settings

WEB_DIR = Path(__file__).parent
TEMPLATES_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"
LANG_COOKIE = "sz_lang"


@dataclass(frozen=True)
class NavItem:
    """A link in the console's top bar, shown to the roles that may open it."""

    path: str
    key: str
    roles: frozenset[Role]


_RESPONDERS = frozenset({Role.admin, Role.supervisor, Role.operator})
# New pages add themselves here; a link is only shown to roles its route admits.
NAV: tuple[NavItem, ...] = (
    NavItem("/map", "ui.nav.map", ALL_ROLES),
    NavItem("/cameras", "ui.nav.cameras", ALL_ROLES),
    # Who may watch video (cameras.policy.VIDEO_ROLES): viewers read the map only.
    NavItem("/cameras/wall", "ui.nav.wall", ALL_ROLES - {Role.viewer}),
    NavItem("/cameras/import", "ui.nav.camera_import", EDITORS | {Role.partner}),
    # Who answers alarms (alarms.effects.RESPONDERS).
    NavItem("/console", "ui.nav.console", _RESPONDERS),
    NavItem("/sos-boxes", "ui.nav.sos_boxes", _RESPONDERS),
)


def page_language(request: Request) -> Lang:
    """The console's language: the person's choice (cookie), else the configured default.

    Unlike API messages this ignores Accept-Language on purpose: station PCs often run an
    English OS, and the console is Thai unless someone switches it.
    """
    chosen = request.cookies.get(LANG_COOKIE)
    for lang in LANGUAGES:
        if chosen == lang:
            return lang
    settings: Settings = request.app.state.settings
    return settings.default_language


@lru_cache(maxsize=256)
def _file_digest(path: str, mtime_ns: int) -> str:
    # mtime is part of the cache key so an edited file gets a new URL without a restart.
    del mtime_ns
    return hashlib.sha256((STATIC_DIR / path).read_bytes()).hexdigest()[:12]


def static_url(path: str) -> str:
    """URL of a packaged static file with a content hash, so browsers never run stale JS."""
    file = STATIC_DIR / path
    try:
        version = _file_digest(path, file.stat().st_mtime_ns)
    except OSError:
        return f"/static/{path}"
    return f"/static/{path}?v={version}"


@pass_context
def _dt_filter(context: Context, value: datetime | None, with_time: bool = True) -> str:
    return format_datetime(value, str(context.get("lang", "th")), with_time=with_time)


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["dt"] = _dt_filter
    env.globals["static_url"] = static_url
    return env


templates = Jinja2Templates(env=_environment())


def current_path(request: Request) -> str:
    """Path plus query of this request, for ``next=`` links back to it."""
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def login_url(request: Request) -> str:
    """Where an anonymous browser goes: the login page, coming back here afterwards."""
    if request.method != "GET":
        return "/login"
    return "/login?next=" + quote(current_path(request), safe="/")


def render(
    request: Request,
    name: str,
    *,
    status_code: int = 200,
    principal: Principal | None = None,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """Render a page with the shared context; ``principal`` defaults to the request's."""
    lang = page_language(request)
    settings: Settings = request.app.state.settings
    if principal is None:
        principal = getattr(request.state, "principal", None)

    def t(key: str, **params: Any) -> str:
        return translate(key, lang, **params)

    path = request.url.path
    nav = [
        {"path": item.path, "key": item.key, "active": path == item.path}
        for item in NAV
        if principal is not None and principal.role in item.roles
    ]
    base: dict[str, Any] = {
        "request": request,
        "lang": lang,
        "t": t,
        "principal": principal,
        "csrf_token": principal.csrf_token if principal else None,
        "settings": settings,
        "demo_mode": settings.demo_mode,
        "nav": nav,
        "current_path": current_path(request),
    }
    # Pages carry a CSRF token and personal data: never let a shared cache keep them.
    all_headers = {"Cache-Control": "no-store", **(headers or {})}
    response: HTMLResponse = templates.TemplateResponse(
        request, name, {**base, **context}, status_code=status_code, headers=all_headers
    )
    return response
