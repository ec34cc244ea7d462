"""GET /api/v1/cameras/{id}/snapshot.jpg: a real frame from a real RTSP camera, the health
monitor's file when fresh, role and policy checks, and a clear error for a dead camera."""

from __future__ import annotations

import io
import os
import socket
import time
from collections.abc import Iterator

import av
import httpx
import pytest

from safezone.auth.roles import Role
from safezone.cameras.frame_check import snapshot_path
from safezone.db.engine import Database
from safezone.settings import Settings
from tests.cameras.live_support import add_camera, audit_entries
from tests.conftest import UserFactory
from tests.fixtures.rtsp import RtspServer


@pytest.fixture(scope="module")
def rtsp() -> Iterator[RtspServer]:
    with RtspServer(
        [
            {"path": "/shop", "pattern": "smpte"},
            {"path": "/locked", "pattern": "ball", "user": "cam", "password": "s3cret"},
        ]
    ) as server:
        yield server


def jpeg_size(data: bytes) -> tuple[int, int]:
    with av.open(io.BytesIO(data), format="image2pipe") as container:
        frame = next(container.decode(video=0))
        return frame.width, frame.height


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_a_snapshot_is_a_jpeg_of_the_latest_frame(
    db: Database, settings: Settings, client: httpx.AsyncClient, make_user: UserFactory,
    rtsp: RtspServer,
) -> None:
    operator = await make_user(Role.operator)
    camera = await add_camera(db, settings, url=rtsp.url("/locked", "cam", "s3cret"))
    resp = await client.get(f"/api/v1/cameras/{camera}/snapshot.jpg", headers=operator["headers"])
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "image/jpeg"
    assert resp.headers["cache-control"] == "no-store"
    assert resp.headers["x-snapshot-source"] == "camera"
    assert resp.content[:2] == b"\xff\xd8" and resp.content[-2:] == b"\xff\xd9"
    assert jpeg_size(resp.content) == (640, 360)
    entries = await audit_entries(db, "camera.snapshot_view", camera)
    assert [e.actor for e in entries] == [operator["username"]]


async def test_the_monitors_fresh_snapshot_is_served_and_a_stale_one_is_not(
    db: Database, settings: Settings, client: httpx.AsyncClient, make_user: UserFactory,
    rtsp: RtspServer,
) -> None:
    admin = await make_user(Role.admin)
    camera = await add_camera(db, settings, url=rtsp.url("/shop"))
    url = f"/api/v1/cameras/{camera}/snapshot.jpg"
    grabbed = (await client.get(url, headers=admin["headers"])).content
    # The health monitor's file: a real JPEG (the grabbed one), written just now.
    path = snapshot_path(settings, camera)
    path.parent.mkdir(parents=True, exist_ok=True)
    marker = grabbed[:-2] + b"\x00" * 7 + grabbed[-2:]  # still a whole JPEG, but recognisable
    path.write_bytes(marker)
    fresh = await client.get(url, headers=admin["headers"])
    assert fresh.headers["x-snapshot-source"] == "monitor"
    assert fresh.content == marker
    # A minute old is older than live_snapshot_max_age_s: the picture comes from the camera.
    old = time.time() - 60
    os.utime(path, (old, old))
    stale = await client.get(url, headers=admin["headers"])
    assert stale.headers["x-snapshot-source"] == "camera"
    assert stale.content != marker and stale.content[:2] == b"\xff\xd8"


async def test_role_and_policy_are_checked(
    db: Database, settings: Settings, client: httpx.AsyncClient, make_user: UserFactory,
    rtsp: RtspServer,
) -> None:
    viewer = await make_user(Role.viewer)
    operator = await make_user(Role.operator)
    shared = await add_camera(db, settings, url=rtsp.url("/shop"))
    private = await add_camera(db, settings, url=rtsp.url("/shop"), policy="off")
    resp = await client.get(f"/api/v1/cameras/{shared}/snapshot.jpg", headers=viewer["headers"])
    assert resp.status_code == 403
    resp = await client.get(f"/api/v1/cameras/{private}/snapshot.jpg", headers=operator["headers"])
    assert resp.status_code == 403
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert resp.json()["code"] == "camera_view_denied"
    denied = await audit_entries(db, "camera.view_denied", private)
    assert [e.details["reason"] for e in denied] == ["policy_off"]
    resp = await client.get("/api/v1/cameras/999999/snapshot.jpg", headers=operator["headers"])
    assert resp.status_code == 404


async def test_a_dead_camera_gives_a_clear_error(
    db: Database, settings: Settings, client: httpx.AsyncClient, make_user: UserFactory,
    rtsp: RtspServer,
) -> None:
    operator = await make_user(Role.operator)
    dead = await add_camera(db, settings, url=f"rtsp://127.0.0.1:{closed_port()}/nothing")
    wrong = await add_camera(db, settings, url=rtsp.url("/locked", "cam", "wrong"))
    headers = {**operator["headers"], "Accept-Language": "en"}
    resp = await client.get(f"/api/v1/cameras/{dead}/snapshot.jpg", headers=headers)
    assert resp.status_code == 502
    assert resp.json()["code"] == "camera_unavailable"
    assert "offline" in resp.json()["detail"]
    resp = await client.get(f"/api/v1/cameras/{wrong}/snapshot.jpg", headers=headers)
    assert resp.status_code == 502
    assert "unauthorized" in resp.json()["detail"]
    # The camera's password never appears in an error.
    assert "wrong" not in resp.text
