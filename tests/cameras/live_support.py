"""Helpers shared by the live-view tests: cameras in the database and WebSocket viewing."""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import av
from sqlalchemy import select
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from safezone.audit.models import AuditEntry
from safezone.cameras.credentials import CredentialBox, split_userinfo
from safezone.cameras.fmp4 import iter_boxes
from safezone.cameras.models import Camera
from safezone.db.engine import Database
from safezone.settings import Settings

LAT, LON = 13.7563, 100.5018
_codes = iter(range(1, 1_000_000))


async def add_camera(
    db: Database,
    settings: Settings,
    *,
    url: str | None,
    policy: str = "always",
    organisation_id: int | None = None,
    status: str = "online",
    sub_url: str | None = None,
    name: str | None = None,
    **extra: Any,
) -> int:
    """A camera row as the registry would store it: URL without user-info, login sealed."""
    credentials_enc = None
    clean = None
    if url:
        clean, user, password = split_userinfo(url)
        credentials_enc = CredentialBox(settings.resolved_credentials_key()).seal(user, password)
    number = next(_codes)
    async with db.write() as session:
        camera = Camera(
            code=f"LIVE-{number:04d}",
            name_th=name or f"กล้องทดสอบ {number}",
            name_en=f"Test camera {number}",
            lat=LAT + number * 1e-5,
            lon=LON,
            tier="linked" if url else "registered",
            stream_url=clean,
            sub_stream_url=sub_url,
            credentials_enc=credentials_enc,
            sharing_policy=policy,
            organisation_id=organisation_id,
            status=status,
            **extra,
        )
        session.add(camera)
        await session.flush()
        return camera.id


async def audit_entries(
    db: Database, action: str, entity_id: int | None = None
) -> list[AuditEntry]:
    async with db.session() as session:
        query = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        if entity_id is not None:
            query = query.where(AuditEntry.entity_id == str(entity_id))
        return list((await session.scalars(query)).all())


async def eventually(check: Callable[[], Awaitable[Any]], within_s: float = 10.0) -> Any:
    """Poll ``check`` until it returns something truthy (no fixed sleeps in tests)."""
    deadline = time.monotonic() + within_s
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within_s} s (last: {result!r})")
        await asyncio.sleep(0.05)


@dataclass
class Received:
    controls: list[dict[str, Any]] = field(default_factory=list)
    init: bytes = b""
    media: list[bytes] = field(default_factory=list)
    close: tuple[int, str] | None = None


async def watch(
    url: str, headers: dict[str, str], *, fragments: int, within_s: float = 20.0
) -> Received:
    """View a live socket until ``fragments`` media fragments arrived, or it closed."""
    got = Received()
    async with connect(url, additional_headers=headers, open_timeout=10, max_size=None) as ws:
        await read_socket(ws, got, fragments, within_s)
    return got


async def read_socket(ws: ClientConnection, got: Received, fragments: int, within_s: float) -> None:
    deadline = time.monotonic() + within_s
    try:
        while len(got.media) < fragments:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"only {len(got.media)} fragments in {within_s} s: {got}")
            message = await asyncio.wait_for(ws.recv(), timeout=left)
            if isinstance(message, str):
                got.controls.append(json.loads(message))
            elif not got.init:
                got.init = message
            else:
                got.media.append(message)
    except ConnectionClosed as exc:
        assert exc.rcvd is not None
        got.close = (exc.rcvd.code, exc.rcvd.reason)


def box_types(data: bytes) -> list[str]:
    return [box.type for box in iter_boxes(data)]


def decode_frames(data: bytes) -> list[tuple[int, int]]:
    """Decode an fMP4 byte string with PyAV: (width, height) of every frame."""
    with av.open(io.BytesIO(data), format="mp4") as container:
        return [(f.width, f.height) for f in container.decode(video=0)]
