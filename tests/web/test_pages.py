"""The console's pages without a browser: login CSRF, redirects, headers, errors, language."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from safezone.app import create_app
from safezone.auth.roles import Role
from safezone.settings import Settings
from safezone.web.pages import LOGIN_CSRF_COOKIE, safe_next
from safezone.web.security_headers import content_security_policy, tile_source
from tests.conftest import PASSWORD, UserFactory

HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def _csrf_field(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "no csrf_token field in the page"
    return match.group(1)


async def _login_form(client: httpx.AsyncClient, next_url: str | None = None) -> str:
    resp = await client.get("/login", params={"next": next_url} if next_url else None)
    assert resp.status_code == 200
    return _csrf_field(resp.text)


async def _sign_in(
    client: httpx.AsyncClient, username: str, password: str = PASSWORD, next_url: str = "/map"
) -> httpx.Response:
    token = await _login_form(client)
    return await client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token, "next": next_url},
    )


@pytest.fixture
async def make_client(settings: Settings) -> AsyncIterator[Any]:
    """A client for an app built with some settings changed (tile URL, demo mode)."""
    managers: list[LifespanManager] = []
    clients: list[httpx.AsyncClient] = []

    async def make(**changes: Any) -> httpx.AsyncClient:
        app = create_app(settings.model_copy(update=changes), migrate=False)
        manager = LifespanManager(app, startup_timeout=60, shutdown_timeout=60)
        await manager.__aenter__()
        managers.append(manager)
        c = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
        clients.append(c)
        return c

    yield make
    for c in clients:
        await c.aclose()
    for manager in reversed(managers):
        await manager.__aexit__(None, None, None)


async def test_login_page_is_thai_by_default_and_sets_the_csrf_cookie(
    client: httpx.AsyncClient,
) -> None:
    # An English browser still gets Thai: the console follows its setting, not Accept-Language.
    resp = await client.get("/login", headers={**HTML, "Accept-Language": "en-US,en;q=0.9"})
    assert resp.status_code == 200
    assert '<html lang="th">' in resp.text
    assert "เข้าสู่ระบบ" in resp.text
    cookie = resp.headers["set-cookie"]
    assert cookie.startswith(f"{LOGIN_CSRF_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/login" in cookie
    assert resp.headers["cache-control"] == "no-store"


async def test_login_post_without_csrf_is_refused(
    client: httpx.AsyncClient, make_user: UserFactory
) -> None:
    user = await make_user(Role.operator)
    form = {"username": user["username"], "password": PASSWORD, "next": "/map"}
    # No cookie, no field.
    fresh = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
    async with fresh:
        resp = await fresh.post("/login", data=form)
        assert resp.status_code == 403
        assert "sz_session" not in resp.headers.get("set-cookie", "")
        # A field with no matching cookie (what a cross-site form would send).
        resp = await fresh.post("/login", data={**form, "csrf_token": "x" * 43})
        assert resp.status_code == 403
    # A cookie but a wrong field.
    await _login_form(client)
    resp = await client.post("/login", data={**form, "csrf_token": "y" * 43})
    assert resp.status_code == 403
    assert "แบบฟอร์มหมดอายุ" in resp.text


async def test_login_success_sets_a_strict_session_cookie(
    client: httpx.AsyncClient, make_user: UserFactory
) -> None:
    user = await make_user(Role.patrol)
    resp = await _sign_in(client, user["username"], next_url="/map?focus=1")
    assert resp.status_code == 303
    assert resp.headers["location"] == "/map?focus=1"
    session_cookie = next(
        c for c in resp.headers.get_list("set-cookie") if c.startswith("sz_session=")
    )
    for part in ("HttpOnly", "SameSite=lax", "Path=/", "Max-Age=43200"):
        assert part in session_cookie
    assert "Secure" not in session_cookie
    page = await client.get("/map", headers=HTML)
    assert page.status_code == 200
    assert user["username"] in page.text
    assert 'id="i18n"' in page.text and "/static/vendor/leaflet/leaflet.js" in page.text


@pytest.mark.parametrize(
    "target",
    ["//evil.example", "//evil.example/map", "https://evil.example/", "/\\evil.example",
     "/\t/evil.example", "javascript:alert(1)", "evil.example", "\\\\evil.example"],
)
async def test_open_redirect_attempts_are_ignored(
    client: httpx.AsyncClient, make_user: UserFactory, target: str
) -> None:
    user = await make_user(Role.viewer)
    resp = await _sign_in(client, user["username"], next_url=target)
    assert resp.status_code == 303
    assert resp.headers["location"] == "/map"
    page = await client.get("/login", params={"next": target})
    assert page.headers["location"] == "/map"  # signed in already: straight on, but safely


def test_safe_next_keeps_local_paths() -> None:
    assert safe_next("/map?layer=cameras#x") == "/map?layer=cameras#x"
    assert safe_next(None) == "/map"
    assert safe_next("//evil.example") == "/map"
    assert safe_next("/%2F%2Fevil.example") == "/%2F%2Fevil.example"  # stays on this site


async def test_login_form_keeps_only_a_safe_next(client: httpx.AsyncClient) -> None:
    resp = await client.get("/login", params={"next": "//evil.example"})
    assert 'name="next" value="/map"' in resp.text


async def test_wrong_password_then_throttling(
    client: httpx.AsyncClient, make_user: UserFactory
) -> None:
    user = await make_user(Role.operator)
    resp = await _sign_in(client, user["username"], password="wrong-password-1")
    assert resp.status_code == 401
    assert "ชื่อผู้ใช้หรือรหัสผ่านไม่ถูกต้อง" in resp.text
    for _ in range(4):
        resp = await _sign_in(client, user["username"], password="wrong-password-1")
    # The fifth failure starts the block; the person is told at once, with the wait.
    assert resp.status_code == 429
    assert int(resp.headers["retry-after"]) > 0
    assert "กรุณารอ" in resp.text
    # Even the right password is refused while blocked.
    resp = await _sign_in(client, user["username"])
    assert resp.status_code == 429


async def test_security_headers(client: httpx.AsyncClient) -> None:
    resp = await client.get("/login", headers=HTML)
    csp = resp.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "http" not in csp  # no outside host at all without a tile URL
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert resp.headers["referrer-policy"] == "same-origin"
    assert resp.headers["x-frame-options"] == "DENY"
    static = await client.get("/static/js/map.js")
    assert static.status_code == 200
    assert static.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" not in static.headers


async def test_tile_host_is_allowed_for_images_only(make_client: Any) -> None:
    c = await make_client(tile_url="https://{s}.tile.example.org/{z}/{x}/{y}.png")
    csp = (await c.get("/login")).headers["content-security-policy"]
    assert "img-src 'self' data: https://*.tile.example.org" in csp
    assert "connect-src 'self';" in csp and "script-src 'self';" in csp


def test_tile_source() -> None:
    assert tile_source(None) is None
    assert tile_source("https://tile.openstreetmap.org/{z}/{x}/{y}.png") == (
        "https://tile.openstreetmap.org"
    )
    assert tile_source("http://10.0.0.5:8081/tiles/{z}/{x}/{y}.png") == "http://10.0.0.5:8081"
    assert tile_source("file:///etc/passwd") is None
    assert "https://a.example" in content_security_policy("https://a.example/{z}/{x}/{y}.png")


async def test_anonymous_pages_redirect_to_login_but_the_api_answers_401(
    client: httpx.AsyncClient,
) -> None:
    resp = await client.get("/map", headers=HTML)
    assert resp.status_code == 303
    assert resp.headers["location"] == "/login?next=/map"
    resp = await client.get("/map?x=1", headers=HTML)
    assert resp.headers["location"] == "/login?next=/map%3Fx%3D1"
    api = await client.get("/api/v1/layers", headers=HTML)
    assert api.status_code == 401
    assert api.headers["content-type"].startswith("application/problem+json")
    fetch = await client.get("/map", headers={"Accept": "*/*"})
    assert fetch.status_code == 401
    root = await client.get("/")
    assert root.status_code == 303 and root.headers["location"] == "/map"


async def test_html_404_is_a_page_and_api_404_is_problem_json(client: httpx.AsyncClient) -> None:
    resp = await client.get("/no-such-page", headers=HTML)
    assert resp.status_code == 404
    assert resp.headers["content-type"].startswith("text/html")
    assert "ไม่พบ" in resp.text
    resp = await client.get("/no-such-page", headers={"Accept": "application/json"})
    assert resp.headers["content-type"].startswith("application/problem+json")
    resp = await client.get("/api/v1/no-such-thing", headers=HTML)
    assert resp.headers["content-type"].startswith("application/problem+json")


async def test_logout_needs_the_csrf_token_and_ends_the_session(
    client: httpx.AsyncClient, make_user: UserFactory
) -> None:
    user = await make_user(Role.supervisor)
    await _sign_in(client, user["username"])
    page = await client.get("/map", headers=HTML)
    token = _csrf_field(page.text)
    refused = await client.post("/logout", data={"csrf_token": "wrong"}, headers=HTML)
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("text/html")
    assert (await client.get("/map", headers=HTML)).status_code == 200
    resp = await client.post("/logout", data={"csrf_token": token}, headers=HTML)
    assert resp.status_code == 303 and resp.headers["location"] == "/login"
    cleared = resp.headers["set-cookie"]
    assert cleared.startswith("sz_session=") and "Max-Age=0" in cleared
    assert (await client.get("/map", headers=HTML)).status_code == 303


async def test_language_switch(client: httpx.AsyncClient) -> None:
    resp = await client.get("/lang/en", params={"next": "/login"})
    assert resp.status_code == 303 and resp.headers["location"] == "/login"
    assert "sz_lang=en" in resp.headers["set-cookie"]
    page = await client.get("/login")
    assert '<html lang="en">' in page.text and "Sign in" in page.text
    bad = await client.get("/lang/en", params={"next": "//evil.example"})
    assert bad.headers["location"] == "/"
    assert (await client.get("/lang/xx", headers=HTML)).status_code == 404


async def test_demo_banner_only_in_demo_mode(client: httpx.AsyncClient, make_client: Any) -> None:
    assert "Synthetic demo data" not in (await client.get("/login")).text
    demo = await make_client(demo_mode=True)
    assert "ข้อมูลสังเคราะห์สำหรับสาธิต / Synthetic demo data" in (await demo.get("/login")).text


async def test_ui_catalogues_have_the_same_keys() -> None:
    from safezone.i18n import catalogue

    th = {k for k in catalogue("th") if k.startswith("ui.")}
    en = {k for k in catalogue("en") if k.startswith("ui.")}
    assert th == en
    assert all(f"ui.role.{role.value}" in th for role in Role)
