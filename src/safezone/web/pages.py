"""The web console's pages: login, logout, language switch and the map.

Routes declare their access with ``Access`` like the API does. A browser that opens a page
without a session is sent to the login page (not shown a JSON 401), and HTML 403/404 get a
readable page; API clients keep getting problem+json.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import FormData

from safezone.auth import service, throttle
from safezone.auth.access import SESSION_COOKIE, Access, client_address
from safezone.auth.api import throttle_policy
from safezone.auth.roles import ALL_ROLES
from safezone.auth.security import same
from safezone.auth.service import LoginOutcome, Principal
from safezone.cameras.import_page import router as camera_import_pages
from safezone.cameras.pages import router as camera_pages
from safezone.db.base import utcnow
from safezone.db.engine import Database
from safezone.i18n import LANGUAGES, catalogue, translate
from safezone.problems import Problem
from safezone.settings import Settings
from safezone.web.console import router as console_pages
from safezone.web.errors import install_html_errors
from safezone.web.security_headers import SecurityHeaders
from safezone.web.templating import LANG_COOKIE, STATIC_DIR, page_language, render

LOGIN_CSRF_COOKIE = "sz_login_csrf"
DEFAULT_PAGE = "/map"
_ONE_YEAR = 365 * 24 * 3600
_MAX_USERNAME = 150
_MAX_PASSWORD = 256  # as the token endpoint
# Strings map.js needs, picked from the catalogue by prefix.
_JS_PREFIXES = ("ui.map.", "ui.status.")

router = APIRouter(include_in_schema=False)
AnyonePrincipal = Annotated[Principal | None, Depends(Access.anyone())]
SignedIn = Annotated[Principal | None, Depends(Access(ALL_ROLES))]


def safe_next(value: str | None, default: str = DEFAULT_PAGE) -> str:
    """``value`` if it is a path on this site, else ``default`` (no open redirects).

    Browsers read ``//host`` and ``/\\host`` as another site, and drop tabs and newlines
    before parsing, so all of those are refused.
    """
    if not value or len(value) > 2000 or not value.startswith("/"):
        return default
    if value.startswith(("//", "/\\")) or "\\" in value:
        return default
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _signed_in(principal: Principal | None) -> Principal:
    # Access(ALL_ROLES) never returns None; this keeps the type checker honest without assert.
    if principal is None:
        raise Problem(401, "unauthenticated")
    return principal


def _field(form: FormData, name: str, limit: int) -> str:
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""


def _login_page(
    request: Request,
    *,
    next_url: str,
    status_code: int = 200,
    error: str | None = None,
    username: str = "",
    headers: dict[str, str] | None = None,
) -> Response:
    """The login form, with the double-submit CSRF token in a cookie and a hidden field."""
    settings = _settings(request)
    token = request.cookies.get(LOGIN_CSRF_COOKIE)
    # Reuse a well-formed existing token so two open login tabs do not invalidate each other.
    if not token or len(token) != 43:
        token = secrets.token_urlsafe(32)
    response = render(
        request,
        "login.html",
        status_code=status_code,
        principal=None,
        login_csrf=token,
        next_url=next_url,
        error=error,
        username=username,
        headers=headers,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=settings.cookie_secure,
        path="/login",
    )
    return response


@router.get("/")
async def home(_: AnyonePrincipal) -> RedirectResponse:
    """The console opens on the map."""
    return RedirectResponse(DEFAULT_PAGE, status_code=303)


@router.get("/login")
async def login_form(
    request: Request,
    principal: AnyonePrincipal,
    next_url: Annotated[str | None, Query(alias="next")] = None,
) -> Response:
    """The sign-in form; someone already signed in goes straight on."""
    target = safe_next(next_url)
    if principal is not None:
        return RedirectResponse(target, status_code=303)
    return _login_page(request, next_url=target)


@router.post("/login")
async def login_submit(request: Request, _: AnyonePrincipal) -> Response:
    """Check the password; on success start a cookie session and go to ``next``."""
    lang = page_language(request)
    settings = _settings(request)
    form = await request.form()
    username = _field(form, "username", _MAX_USERNAME).strip()
    password = _field(form, "password", _MAX_PASSWORD + 1)
    next_url = safe_next(_field(form, "next", 2001))
    if not same(_field(form, "csrf_token", 100) or None, request.cookies.get(LOGIN_CSRF_COOKIE)):
        return _login_page(
            request, next_url=next_url, status_code=403, username=username,
            error=translate("ui.login.csrf_failed", lang),
        )
    if not username or not password or len(password) > _MAX_PASSWORD:
        key = "ui.login.bad_credentials" if username and password else "ui.login.missing"
        return _login_page(
            request, next_url=next_url, status_code=400, username=username,
            error=translate(key, lang),
        )
    client = client_address(request)
    policy = throttle_policy(settings)
    secret: str | None = None
    wait = 0
    # Nothing in this block raises for a refused login, so the failure count is committed.
    async with _db(request).write() as session:
        result = await service.login(
            session, username=username, password=password, client=client, policy=policy, via="web"
        )
        if result.outcome is LoginOutcome.ok and result.user is not None:
            secret, _row = await service.issue_token(
                session,
                user=result.user,
                kind="session",
                lifetime=timedelta(hours=settings.session_hours),
                client=client,
            )
        elif result.outcome is LoginOutcome.throttled:
            wait = result.retry_after
        else:
            # Tell the person now when this failure was the one that triggered the block.
            keys = throttle.keys_for(username, client)
            wait = await throttle.blocked_for(session, keys, utcnow())
    if secret is not None:
        response = RedirectResponse(next_url, status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            secret,
            max_age=int(settings.session_hours * 3600),
            httponly=True,
            samesite="lax",
            secure=settings.cookie_secure,
            path="/",
        )
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
        return response
    if wait:
        return _login_page(
            request, next_url=next_url, status_code=429, username=username,
            error=translate("ui.login.throttled", lang, seconds=wait),
            headers={"Retry-After": str(wait)},
        )
    return _login_page(
        request, next_url=next_url, status_code=401, username=username,
        error=translate("ui.login.bad_credentials", lang),
    )


@router.post("/logout")
async def logout(request: Request, principal: SignedIn) -> RedirectResponse:
    """End this browser's session (Access has already checked the form's CSRF token)."""
    person = _signed_in(principal)
    secret = request.cookies.get(SESSION_COOKIE)
    if secret and person.via == "session":
        async with _db(request).write() as session:
            await service.revoke(session, secret=secret, actor=person.actor)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="lax",
        secure=_settings(request).cookie_secure,
    )
    return response


@router.get("/lang/{code}")
async def switch_language(
    request: Request,
    code: str,
    _: AnyonePrincipal,
    next_url: Annotated[str | None, Query(alias="next")] = None,
) -> RedirectResponse:
    """Remember the chosen language (th or en) for a year and go back."""
    if code not in LANGUAGES:
        raise Problem(404, "not_found")
    response = RedirectResponse(safe_next(next_url, "/"), status_code=303)
    response.set_cookie(
        LANG_COOKIE, code, max_age=_ONE_YEAR, httponly=True, samesite="lax",
        secure=_settings(request).cookie_secure, path="/",
    )
    return response


@router.get("/map")
async def map_page(request: Request, principal: SignedIn) -> Response:
    """The zone and every layer on one map."""
    lang = page_language(request)
    settings = _settings(request)
    strings = {
        key: translate(key, lang)
        for key in sorted(catalogue("en"))
        if key.startswith(_JS_PREFIXES)
    }
    map_config: dict[str, Any] = {
        "layersUrl": "/api/v1/layers",
        "coverageUrl": "/api/v1/coverage",
        "tileUrl": settings.tile_url or None,
        "tileAttribution": settings.tile_attribution,
    }
    return render(
        request, "map.html", principal=_signed_in(principal),
        js_strings=strings, map_config=map_config,
    )


def mount_web(app: FastAPI) -> None:
    """Add the console: static files, pages, HTML error pages and security headers."""
    settings: Settings = app.state.settings
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # Before any /cameras/{camera_id} page, which would otherwise take /cameras/import.
    app.include_router(camera_import_pages)
    app.include_router(camera_pages)
    app.include_router(console_pages)
    app.include_router(router)
    install_html_errors(app)
    app.add_middleware(SecurityHeaders, tile_url=settings.tile_url)
