"""Errors are RFC 9457 problem+json in the caller's language."""

from __future__ import annotations

import httpx
import pytest

from safezone.i18n import catalogue, format_datetime, negotiate


def test_catalogues_have_the_same_keys() -> None:
    assert set(catalogue("th")) == set(catalogue("en"))


@pytest.mark.parametrize("header,cookie,expected", [
    (None, None, "th"), ("en-US,en;q=0.9", None, "en"), ("fr, en;q=0.5", None, "en"),
    ("th-TH", None, "th"), ("en", "th", "th"), ("de", None, "th"), ("en;q=oops", None, "th"),
])
def test_negotiate(header: str | None, cookie: str | None, expected: str) -> None:
    assert negotiate(header, cookie=cookie) == expected


def test_buddhist_era_in_thai() -> None:
    from datetime import UTC, datetime

    moment = datetime(2026, 11, 26, 18, 30, tzinfo=UTC)  # 01:30 on the 27th in Bangkok
    assert format_datetime(moment, "th") == "27 พ.ย. 2569 01:30"
    assert format_datetime(moment, "en") == "27 Nov 2026 01:30"


async def test_unknown_route_is_problem(client: httpx.AsyncClient) -> None:
    resp = await client.get("/api/v1/nothing-here", headers={"Accept-Language": "en"})
    assert resp.status_code == 404
    assert resp.headers["content-type"] == "application/problem+json"
    body = resp.json()
    assert body["type"] == "urn:safezone:problem:not_found"
    assert body["status"] == 404 and body["instance"] == "/api/v1/nothing-here"


async def test_malformed_json_body(client: httpx.AsyncClient, make_user: object) -> None:
    admin = await make_user()  # type: ignore[operator]
    resp = await client.post("/api/v1/zones", content=b"{not json",
                             headers={**admin["headers"], "Content-Type": "application/json"})
    assert resp.status_code == 422
    assert resp.json()["code"] == "invalid_input"


async def test_openapi_documents_the_api(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/api/openapi.json")).json()
    assert "/api/v1/layers/{layer}.geojson" in spec["paths"]
    assert "/api/v1/auth/token" in spec["paths"]
    ids = [op["operationId"] for path in spec["paths"].values() for op in path.values()]
    assert len(ids) == len(set(ids))
    assert (await client.get("/api/docs")).status_code == 200


async def test_api_docs_work_offline(client: httpx.AsyncClient) -> None:
    page = (await client.get("/api/docs")).text
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in page
    assert "cdn" not in page.lower()
    assert (await client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js")).status_code == 200
