"""Walk every route of the app: each declares its roles, and wrong roles are refused."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import Mount, Route

from safezone.auth.access import Access
from safezone.auth.roles import Role
from tests.conftest import UserFactory

# FastAPI's own OpenAPI document: public on purpose (the API is open source).
PUBLIC_FRAMEWORK_ROUTES = {"/api/openapi.json"}
PATH_VALUES = {"layer": "cameras", "code": "en"}
# Routes that end the caller's own session: allowed roles are not called (it would log them out).
ENDS_SESSION = {"/api/v1/auth/revoke", "/logout"}


def _accesses(dependant: Any) -> list[Access]:
    found = []
    for dep in dependant.dependencies:
        if isinstance(dep.call, Access):
            found.append(dep.call)
        found.extend(_accesses(dep))
    return found


def _routes(app: Any) -> list[tuple[str, str, Access]]:
    out = []
    # iter_route_contexts flattens included routers and gives each route its full path.
    for ctx in iter_route_contexts(app.routes):
        route = ctx.original_route
        if isinstance(route, APIRoute):
            accesses = _accesses(route.dependant)
            assert len(accesses) == 1, f"{ctx.path} declares {len(accesses)} Access dependencies"
            for method in sorted(ctx.methods or ()):
                out.append((method, ctx.path, accesses[0]))
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
        if access.public:
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


@pytest.mark.parametrize("header", ["Bearer nonsense", "Bearer ", "Basic abc"])
async def test_bad_credentials_are_refused(client: httpx.AsyncClient, header: str) -> None:
    resp = await client.get("/api/v1/zones", headers={"Authorization": header})
    assert resp.status_code == 401
    assert resp.json()["code"] in {"bad_token", "unauthenticated"}
