"""Access declarations for WebSocket routes.

``Access`` answers refusals with problem+json, which a WebSocket cannot carry. This dependency
resolves the caller the same way (bearer token or session cookie, via ``current_principal``),
then *accepts* the connection and closes it with a code and a reason the page can show:

* 4401 ``unauthenticated`` / ``bad_token`` - no or a bad credential
* 4403 ``bad_origin`` - a cookie-authenticated socket opened from another site (CSWSH): the
  browser sends the session cookie with any page's WebSocket, so the Origin must be ours
* 4403 ``role`` - the person's role may not use this route

The route-walk test finds it like ``Access``: every WebSocket route declares exactly one.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from fastapi import Request, WebSocket, WebSocketException

from safezone.auth.access import current_principal
from safezone.auth.roles import Role
from safezone.auth.service import Principal
from safezone.problems import Problem
from safezone.settings import Settings

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404


def origin_allowed(websocket: WebSocket, base_url: str | None) -> bool:
    """The Origin header names this site (the Host asked for, or the configured public URL)."""
    origin = websocket.headers.get("origin")
    if not origin:
        return False
    sent = urlsplit(origin)
    if sent.scheme not in ("http", "https"):
        return False
    host = websocket.headers.get("host", "")
    if host and sent.netloc.lower() == host.lower():
        return True
    if base_url:
        public = urlsplit(base_url)
        return (sent.scheme, sent.netloc.lower()) == (public.scheme, public.netloc.lower())
    return False


class WebSocketAccess:
    """Dependency that admits the listed roles to a WebSocket route (deny by default)."""

    public = False

    def __init__(self, roles: Iterable[Role] = ()) -> None:
        self.roles = frozenset(roles)

    def __repr__(self) -> str:
        return f"WebSocketAccess({sorted(self.roles)})"

    async def __call__(self, websocket: WebSocket) -> Principal:
        # Accept first: a refusal before the handshake reaches the page only as "1006", with
        # no reason to show the person.
        await websocket.accept()
        try:
            # current_principal reads headers, cookies, client and app state: the handshake
            # carries all of them, so it is viewed as the HTTP request it started as.
            principal = await current_principal(Request({**websocket.scope, "type": "http"}))
        except Problem as exc:
            raise WebSocketException(CLOSE_UNAUTHENTICATED, exc.code) from None
        if principal is None:
            raise WebSocketException(CLOSE_UNAUTHENTICATED, "unauthenticated")
        settings: Settings = websocket.app.state.settings
        if principal.via == "session" and not origin_allowed(websocket, settings.base_url):
            raise WebSocketException(CLOSE_FORBIDDEN, "bad_origin")
        if principal.role not in self.roles:
            raise WebSocketException(CLOSE_FORBIDDEN, "role")
        return principal
