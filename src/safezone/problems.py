"""RFC 9457 problem details, with a message a person understands in Thai or English."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from safezone.i18n import Lang, negotiate, translate

log = logging.getLogger(__name__)
MEDIA_TYPE = "application/problem+json"

_STATUS_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media",
    422: "invalid_input",
    429: "too_many_requests",
    500: "internal_error",
}


class Problem(Exception):
    """An error to send as problem+json. ``code`` picks the message from the catalogues."""

    def __init__(
        self,
        status: int,
        code: str,
        /,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        **params: Any,
    ) -> None:
        super().__init__(f"{status} {code} {params}")
        self.status = status
        self.code = code
        self.params = params
        self.errors = errors
        self.headers = headers


def request_language(request: Request) -> str:
    """The language for messages to this request (cookie, then Accept-Language)."""
    default: Lang = "en" if getattr(request.app.state, "default_language", "th") == "en" else "th"
    return negotiate(
        request.headers.get("accept-language"),
        cookie=request.cookies.get("sz_lang"),
        default=default,
    )


def problem_response(
    request: Request,
    status: int,
    code: str,
    /,
    *,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    **params: Any,
) -> JSONResponse:
    """Build the problem+json response for ``code``."""
    lang = request_language(request)
    body: dict[str, Any] = {
        "type": f"urn:safezone:problem:{code}",
        "title": translate(f"problem.{code}.title", lang),
        "status": status,
        "detail": translate(f"problem.{code}", lang, **params),
        "instance": request.url.path,
        "code": code,
    }
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _field_path(loc: tuple[Any, ...]) -> str:
    # Drop the leading "body"/"query" and FastAPI's union-branch noise, keep the field path.
    parts = [str(p) for p in loc[1:] if not (isinstance(p, str) and p.startswith("function-"))]
    return ".".join(parts) or str(loc[0] if loc else "")


def validation_errors(exc: RequestValidationError, lang: str) -> list[dict[str, Any]]:
    """Each pydantic error as {field, code, message} in the person's language."""
    out = []
    for err in exc.errors():
        ctx = {k: v for k, v in (err.get("ctx") or {}).items() if isinstance(v, str | int | float)}
        field = _field_path(tuple(err.get("loc", ())))
        kind = str(err.get("type", "invalid"))
        text = translate(f"validation.{kind}", lang, field=field, **ctx)
        if text == f"validation.{kind}":
            text = f"{field}: {err.get('msg', kind)}"
        out.append({"field": field, "code": kind, "message": text})
    return out


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into problem+json."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(
            request, exc.status, exc.code, errors=exc.errors, headers=exc.headers, **exc.params
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = validation_errors(exc, request_language(request))
        first = errors[0]["message"] if errors else ""
        return problem_response(
            request, 422, "invalid_input", errors=errors, first=first, count=len(errors)
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, "http_error")
        headers = dict(exc.headers) if exc.headers else None
        return problem_response(request, exc.status_code, code, headers=headers)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(request, 500, "internal_error")
