"""The app starts, migrates and answers its health check."""

from __future__ import annotations

import httpx


async def test_healthz(client: httpx.AsyncClient) -> None:
    resp = await client.get("/healthz")
    assert resp.status_code == 200
    assert resp.json()["database"] == "up"
