"""Security headers for every response, and a Content-Security-Policy for the console's pages.

The policy allows only this origin for scripts, styles and data; the one outside host allowed
is the configured map-tile server, and only for images. Written as plain ASGI middleware so
that streaming responses (and, later, WebSockets) pass through untouched.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_ALWAYS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def tile_source(tile_url: str | None) -> str | None:
    """The CSP source for a tile URL template, e.g. ``https://*.tile.example.org``."""
    if not tile_url:
        return None
    # Leaflet's {s} subdomain placeholder becomes a CSP wildcard; other placeholders cannot
    # appear in a host, so such a template only gets its scheme.
    parts = urlsplit(tile_url.replace("{s}", "sub-domain-placeholder"))
    if parts.scheme not in ("http", "https"):
        return None
    host = parts.netloc.replace("sub-domain-placeholder", "*")
    if not host or "{" in host or "}" in host:
        return f"{parts.scheme}:"
    return f"{parts.scheme}://{host}"


def content_security_policy(tile_url: str | None) -> str:
    """The CSP for HTML pages."""
    images = "'self' data:"
    if source := tile_source(tile_url):
        images += f" {source}"
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src {images}",
            "connect-src 'self'",
            # Live video plays from a MediaSource, which the <video> element loads as blob:.
            "media-src 'self' blob:",
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


class SecurityHeaders:
    """Adds the fixed headers to all responses and the CSP to the console's HTML."""

    def __init__(self, app: ASGIApp, *, tile_url: str | None = None) -> None:
        self.app = app
        self.csp = content_security_policy(tile_url)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # The OpenAPI docs page loads Swagger UI's own scripts; it sets its own rules.
        console_page = not str(scope.get("path", "")).startswith("/api/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in _ALWAYS.items():
                    headers.setdefault(name, value)
                html = headers.get("content-type", "").startswith("text/html")
                if html and console_page:
                    headers.setdefault("Content-Security-Policy", self.csp)
            await send(message)

        await self.app(scope, receive, send_with_headers)
