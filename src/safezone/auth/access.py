"""Route access declarations. Every route depends on exactly one ``Access``; the route-walk
test fails for any route without one. Deny by default: an ``Access`` with no roles lets
nobody in, and only ``Access.public()`` lets anonymous callers through."""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import Request

from safezone.auth import service
from safezone.auth.roles import Role
from safezone.auth.security import same
from safezone.auth.service import Principal
from safezone.db.engine import Database
from safezone.problems import Problem

SESSION_COOKIE = "sz_session"
CSRF_HEADER = "x-csrf-token"
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


async def current_principal(request: Request) -> Principal | None:
    """Resolve the caller from a bearer token or the session cookie (cached per request)."""
    if hasattr(request.state, "principal"):
        cached: Principal | None = request.state.principal
        return cached
    db: Database = request.app.state.db
    client = client_address(request)
    principal: Principal | None = None
    auth = request.headers.get("authorization", "")
    scheme, _, secret = auth.partition(" ")
    async with db.session() as session:
        if scheme.lower() == "bearer" and secret:
            principal = await service.resolve(
                session, secret=secret.strip(), kind="bearer", client=client
            )
            if principal is None:
                raise Problem(401, "bad_token", headers={"WWW-Authenticate": "Bearer"})
        elif cookie := request.cookies.get(SESSION_COOKIE):
            principal = await service.resolve(session, secret=cookie, kind="session", client=client)
    request.state.principal = principal
    return principal


async def check_csrf(request: Request, principal: Principal) -> None:
    """Cookie-authenticated changes must echo the session's CSRF token (header or form)."""
    if principal.via != "session" or request.method not in _UNSAFE:
        return
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get("csrf_token")
        sent = value if isinstance(value, str) else None
    if not same(sent, principal.csrf_token):
        raise Problem(403, "csrf_failed")


class Access:
    """Dependency that admits the listed roles (or anyone, when public)."""

    def __init__(self, roles: Iterable[Role] = (), *, public: bool = False) -> None:
        self.roles = frozenset(roles)
        self.public = public

    @classmethod
    def anyone(cls) -> Access:
        """Public: no login needed (login page, health check, token endpoint)."""
        return cls(public=True)

    def __repr__(self) -> str:
        return "Access(public)" if self.public else f"Access({sorted(self.roles)})"

    async def __call__(self, request: Request) -> Principal | None:
        principal = await current_principal(request)
        if self.public:
            return principal
        if principal is None:
            raise Problem(401, "unauthenticated", headers={"WWW-Authenticate": "Bearer"})
        if principal.role not in self.roles:
            raise Problem(403, "forbidden")
        await check_csrf(request, principal)
        return principal
