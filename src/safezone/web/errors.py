"""Errors as a person in a browser should see them.

The API's handlers answer problem+json. For a browser navigating the console (not under
/api/, asking for HTML) a 401 becomes a redirect to the login page and a 403/404 a readable
page; everything else is handed to the handler that was installed before.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from safezone.auth.access import current_principal
from safezone.i18n import translate
from safezone.problems import Problem, problem_response
from safezone.web.templating import login_url, page_language, render

log = logging.getLogger(__name__)

Handler = Callable[[Request, Any], Awaitable[Response]]
_NOT_HTML = ("/api/", "/static/", "/healthz")
_PAGE_STATUSES = frozenset({403, 404})
_STATUS_CODES = {403: "forbidden", 404: "not_found"}


def _quality(accept: str, media: str) -> float:
    """The q-value the Accept header gives ``media`` (exact type, type/*, then */*)."""
    best: tuple[int, float] = (-1, 0.0)
    main = media.split("/")[0]
    for part in accept.split(","):
        kind, *params = (p.strip() for p in part.split(";"))
        specificity = {media: 2, f"{main}/*": 1, "*/*": 0}.get(kind.lower(), -1)
        if specificity <= best[0]:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        best = (specificity, q)
    return best[1]


def wants_html(request: Request) -> bool:
    """True for a browser navigating the console, false for API clients and fetch()."""
    if request.url.path.startswith(_NOT_HTML):
        return False
    accept = request.headers.get("accept", "")
    html = _quality(accept, "text/html")
    return html > 0 and html >= _quality(accept, "application/json") and "text/html" in accept


async def _error_page(request: Request, status: int, code: str, params: dict[str, Any]) -> Response:
    lang = page_language(request)
    # The header shows who is signed in; an error page must still render if that lookup fails.
    try:
        principal = await current_principal(request)
    except Problem:
        principal = None
    except Exception:
        log.warning("error page: could not resolve the session", exc_info=True)
        principal = None
    return render(
        request,
        "error.html",
        status_code=status,
        principal=principal,
        status=status,
        title=translate(f"problem.{code}.title", lang),
        detail=translate(f"problem.{code}", lang, **params),
    )


def install_html_errors(app: FastAPI) -> None:
    """Wrap the Problem and HTTPException handlers with the browser-facing behaviour."""
    previous_problem: Handler | None = app.exception_handlers.get(Problem)  # type: ignore[assignment]
    previous_http: Handler | None = app.exception_handlers.get(StarletteHTTPException)  # type: ignore[assignment]

    @app.exception_handler(Problem)
    async def on_problem(request: Request, exc: Problem) -> Response:
        if wants_html(request):
            if exc.status == 401:
                return RedirectResponse(login_url(request), status_code=303)
            if exc.status in _PAGE_STATUSES:
                return await _error_page(request, exc.status, exc.code, exc.params)
        if previous_problem is not None:
            return await previous_problem(request, exc)
        return problem_response(
            request, exc.status, exc.code, errors=exc.errors, headers=exc.headers, **exc.params
        )

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> Response:
        if wants_html(request) and exc.status_code in _PAGE_STATUSES:
            return await _error_page(request, exc.status_code, _STATUS_CODES[exc.status_code], {})
        if previous_http is not None:
            return await previous_http(request, exc)
        return problem_response(request, exc.status_code, "http_error")
