"""Walk every route of the app: each declares its roles, and wrong roles are refused."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute, APIWebSocketRoute, iter_route_contexts
from starlette.routing import Mount, Route
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from safezone.auth.access import Access
from safezone.auth.roles import Role
from safezone.auth.ws_access import WebSocketAccess
from tests.conftest import LiveServer, UserFactory

# FastAPI's own OpenAPI document: public on purpose (the API is open source).
PUBLIC_FRAMEWORK_ROUTES = {"/api/openapi.json"}
PATH_VALUES = {"layer": "cameras", "code": "en"}
# Routes that end the caller's own session: allowed roles are not called (it would log them out).
ENDS_SESSION = {"/api/v1/auth/revoke", "/logout"}


def _accesses(dependant: Any) -> list[Access | WebSocketAccess]:
    found = []
    for dep in dependant.dependencies:
        if isinstance(dep.call, Access | WebSocketAccess):
            found.append(dep.call)
        found.extend(_accesses(dep))
    return found


def _routes(app: Any) -> list[tuple[str, str, Access | WebSocketAccess]]:
    out = []
    # iter_route_contexts flattens included routers and gives each route its full path.
    for ctx in iter_route_contexts(app.routes):
        route = ctx.original_route
        if isinstance(route, APIRoute):
            accesses = _accesses(route.dependant)
            assert len(accesses) == 1, f"{ctx.path} declares {len(accesses)} Access dependencies"
            for method in sorted(ctx.methods or ()):
                out.append((method, ctx.path, accesses[0]))
        elif isinstance(route, APIWebSocketRoute):
            # Problem responses cannot travel over a WebSocket: these declare WebSocketAccess,
            # which closes refused sockets with a code and reason instead.
            accesses = _accesses(route.dependant)
            assert len(accesses) == 1, f"{ctx.path} declares {len(accesses)} Access dependencies"
            assert isinstance(accesses[0], WebSocketAccess), f"{ctx.path}: use WebSocketAccess"
            out.append(("WEBSOCKET", ctx.path, accesses[0]))
        elif isinstance(route, Mount):
            assert ctx.path == "/static", f"unexpected mount {ctx.path}"
        elif isinstance(route, Route):
            assert ctx.path in PUBLIC_FRAMEWORK_ROUTES, f"{ctx.path} has no access declaration"
        else:
            raise AssertionError(f"unexpected route type {type(route)} at {ctx.path}")
    return out


def _url(path: str) -> str:
    return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: PATH_VALUES.get(m.group(1), "1"), path)


def test_every_route_declares_access(app: Any) -> None:
    routes = _routes(app)
    assert len(routes) > 30
    for method, path, access in routes:
        assert access.public or access.roles, f"{method} {path} admits nobody"


async def test_wrong_roles_are_refused(
    app: Any, client: httpx.AsyncClient, make_user: UserFactory
) -> None:
    users = {role: await make_user(role) for role in Role}
    checked = 0
    for method, path, access in _routes(app):
        if access.public or method == "WEBSOCKET":
            continue
        url = _url(path)
        anon = await client.request(method, url, headers={"Accept": "application/json"})
        assert anon.status_code in (401, 303, 307), f"anonymous {method} {url}: {anon.status_code}"
        for role, user in users.items():
            if role in access.roles and path in ENDS_SESSION:
                continue
            resp = await client.request(method, url, headers=user["headers"])
            if role in access.roles:
                assert resp.status_code not in (401, 403), f"{role} {method} {url}: {resp.text}"
            else:
                assert resp.status_code == 403, (
                    f"{role} let into {method} {url}: {resp.status_code}"
                )
                assert resp.headers["content-type"].startswith("application/problem+json")
            checked += 1
    assert checked > 150


async def _ws_outcome(url: str, headers: dict[str, str]) -> tuple[int, str]:
    """Open a WebSocket: the server's (close code, reason), or (0, "open") if it stays open
    (a message arrives or nothing happens for a few seconds)."""
    async with connect(url, additional_headers=headers, open_timeout=10) as ws:
        try:
            await asyncio.wait_for(ws.recv(), timeout=3)
        except ConnectionClosed as exc:
            assert exc.rcvd is not None, "the server dropped the socket without a close frame"
            return exc.rcvd.code, exc.rcvd.reason
        except TimeoutError:
            pass
        return 0, "open"


async def test_websocket_routes_refuse_wrong_roles(
    app: Any, live_server: LiveServer, make_user: UserFactory
) -> None:
    users = {role: await make_user(role) for role in Role}
    base = live_server.url.replace("http://", "ws://")
    checked = 0
    for method, path, access in _routes(app):
        if method != "WEBSOCKET":
            continue
        url = base + _url(path)
        assert await _ws_outcome(url, {}) == (4401, "unauthenticated"), f"anonymous {url}"
        bad = await _ws_outcome(url, {"Authorization": "Bearer nonsense"})
        assert bad == (4401, "bad_token"), f"bad token {url}"
        for role, user in users.items():
            code, reason = await _ws_outcome(url, user["headers"])
            if role in access.roles:
                assert code != 4401 and reason != "role", f"{role} {url}: {code} {reason}"
            else:
                assert (code, reason) == (4403, "role"), f"{role} let into {url}: {code} {reason}"
            checked += 1
    assert checked >= len(Role)


@pytest.mark.parametrize("header", ["Bearer nonsense", "Bearer ", "Basic abc"])
async def test_bad_credentials_are_refused(client: httpx.AsyncClient, header: str) -> None:
    resp = await client.get("/api/v1/zones", headers={"Authorization": header})
    assert resp.status_code == 401
    assert resp.json()["code"] in {"bad_token", "unauthenticated"}
