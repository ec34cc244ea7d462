"""Evidence clips recorded from a real RTSP server: length, stream copy, pre-roll, policy."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from safezone.audit.models import AuditEntry
from safezone.auth.roles import Role
from safezone.db.engine import Database
from safezone.settings import Settings
from tests.cameras.evidence_support import (
    PASSWORD,
    PATHS,
    USER,
    add_camera,
    duration,
    ffprobe,
    finished,
    request_clip,
)
from tests.conftest import UserFactory
from tests.fixtures.rtsp import RtspServer

CODEC_FIELDS = "stream=codec_name,profile,level,width,height,pix_fmt,has_b_frames,extradata"


@pytest.fixture(scope="module")
def rtsp() -> Iterator[RtspServer]:
    with RtspServer(PATHS) as server:
        yield server


async def test_future_window_is_a_stream_copied_mp4_of_the_asked_length(
    app: Any, client: httpx.AsyncClient, db: Database, settings: Settings,
    make_user: UserFactory, rtsp: RtspServer,
) -> None:
    cam = await add_camera(db, settings, code="EV-1", url=rtsp.url("/ev-secure"),
                           credentials=(USER, PASSWORD))
    operator = await make_user(Role.operator)
    # Starts 2.5 s ahead: the test server builds its encoder pipeline on the first connection,
    # which a loaded test machine makes slow (a real camera is always streaming).
    resp = await request_clip(client, operator, cam, 2.5, 5.5)
    assert resp.status_code == 202, resp.text
    booked = resp.json()
    assert booked["status"] in ("pending", "recording") and booked["note"] is None

    clip = await finished(app, client, operator, booked["id"])
    assert clip["status"] == "complete", clip
    path = settings.data_dir / "evidence" / f"{clip['id']}.mp4"
    assert abs(duration(path) - 3.0) <= 1.0
    assert not list(path.parent.glob("*.part"))
    data = path.read_bytes()
    assert clip["sha256"] == hashlib.sha256(data).hexdigest()
    assert clip["size_bytes"] == len(data)
    assert clip["unavailable_s"] is not None and clip["unavailable_s"] < 1.0

    # Stream copy: the clip carries the camera's own H.264 parameter sets (SPS/PPS), which a
    # re-encode would have replaced, at the camera's resolution and profile.
    source = ffprobe(rtsp.url("/ev-secure", USER, PASSWORD), CODEC_FIELDS)["streams"][0]
    copied = ffprobe(path, CODEC_FIELDS)["streams"][0]
    assert copied["codec_name"] == "h264"
    for key in ("profile", "level", "width", "height", "pix_fmt", "has_b_frames"):
        assert copied[key] == source[key], key
    assert _parameter_sets(copied["extradata"]) == _parameter_sets(source["extradata"])

    async with db.session() as session:
        actions = (await session.scalars(
            select(AuditEntry.action).where(AuditEntry.entity_id == clip["id"])
            .order_by(AuditEntry.id)
        )).all()
    assert actions == ["clip.create", "clip.complete"]


def _parameter_sets(extradata: str) -> bytes:
    """The SPS and PPS bytes, whether the extradata is avcC (MP4) or Annex B (RTSP)."""
    raw = bytes.fromhex("".join(
        part for line in extradata.splitlines()
        for part in line.split(":", 1)[-1].split("  ")[0].split()
    ))
    if raw[:1] == b"\x01":  # avcC: version, profile, compat, level, lengthSize, SPS count ...
        nals, i = [], 5
        for count_at in ("sps", "pps"):
            count = raw[i] & (0x1F if count_at == "sps" else 0xFF)
            i += 1
            for _ in range(count):
                size = int.from_bytes(raw[i:i + 2], "big")
                nals.append(raw[i + 2:i + 2 + size])
                i += 2 + size
        return b"|".join(nals)
    nals = (n.rstrip(b"\x00") for n in raw.split(b"\x00\x00\x01"))
    return b"|".join(n for n in nals if n)


async def test_preroll_comes_from_the_rolling_buffer(
    app: Any, client: httpx.AsyncClient, db: Database, settings: Settings,
    make_user: UserFactory, rtsp: RtspServer,
) -> None:
    cam = await add_camera(db, settings, code="EV-BUF", url=rtsp.url("/ev-open"),
                           buffer_seconds=5)
    buffers = app.state.services.evidence.buffers
    await buffers.refresh()
    deadline = time.monotonic() + 20
    while (since := buffers.buffered_since(cam)) is None or since > time.time() - 3.5:
        assert time.monotonic() < deadline, "buffer did not fill"
        await asyncio.sleep(0.1)

    supervisor = await make_user(Role.supervisor)
    resp = await request_clip(client, supervisor, cam, -3.0, 0.5)
    assert resp.status_code == 202, resp.text
    assert resp.json()["note"] is None  # the buffer reaches back far enough

    clip = await finished(app, client, supervisor, resp.json()["id"])
    assert clip["status"] == "complete", clip
    path = settings.data_dir / "evidence" / f"{clip['id']}.mp4"
    assert abs(duration(path) - 3.5) <= 1.0
    assert clip["unavailable_s"] < 1.0
    # The recorded window starts in the past, where the request asked.
    assert clip["recorded_start_at"] < clip["created_at"]
    # Buffered and live packets joined without a gap or a repeat: constant frame spacing.
    frames = ffprobe(path, "packet=pts_time")["packets"]
    times = [float(p["pts_time"]) for p in frames]
    steps = {round(b - a, 3) for a, b in zip(times, times[1:], strict=False)}
    assert steps == {round(1 / 15, 3)}, steps


async def test_preroll_without_a_buffer_is_reported_not_pretended(
    app: Any, client: httpx.AsyncClient, db: Database, settings: Settings,
    make_user: UserFactory, rtsp: RtspServer,
) -> None:
    cam = await add_camera(db, settings, code="EV-NOBUF", url=rtsp.url("/ev-open"))
    admin = await make_user(Role.admin)
    resp = await client.post(
        f"/api/v1/cameras/{cam}/clips",
        json={**_body(-5.0, 3.0), "reason": "pre-roll asked, none kept"},
        headers={**admin["headers"], "Accept-Language": "en"},
    )
    assert resp.status_code == 202, resp.text
    booked = resp.json()
    assert booked["note"] == "preroll_unavailable"
    assert 4.0 <= booked["unavailable_s"] <= 6.0
    assert "no rolling buffer" in booked["note_text"]

    clip = await finished(app, client, admin, booked["id"])
    assert clip["status"] == "complete", clip
    assert clip["note"] == "preroll_unavailable"
    # What was recorded plus what is reported missing is the asked 8 s: nothing pretended.
    recorded = duration(settings.data_dir / "evidence" / f"{clip['id']}.mp4")
    assert recorded > 0.5
    assert clip["unavailable_s"] >= 5.0
    assert abs(recorded + clip["unavailable_s"] - 8.0) <= 1.0


def _body(start_s: float, end_s: float) -> dict[str, str]:
    from tests.cameras.evidence_support import window

    start, end = window(start_s, end_s)
    return {"start": start, "end": end}


@pytest.mark.parametrize(
    ("policy", "role", "status", "code"),
    [
        ("off", Role.operator, 403, "clip_denied.policy_off"),
        ("on_request", Role.supervisor, 403, "clip_denied.needs_request"),
        ("on_alarm", Role.admin, 403, "clip_denied.no_alarm_nearby"),
        ("always", Role.patrol, 403, "forbidden"),
        ("always", Role.partner, 403, "forbidden"),
    ],
)
async def test_role_and_sharing_policy_are_enforced(
    client: httpx.AsyncClient, db: Database, settings: Settings, make_user: UserFactory,
    policy: str, role: Role, status: int, code: str,
) -> None:
    cam = await add_camera(db, settings, code="EV-POL", url="rtsp://127.0.0.1:9/none",
                           sharing_policy=policy)
    user = await make_user(role)
    resp = await client.post(
        f"/api/v1/cameras/{cam}/clips",
        json={**_body(1, 3), "reason": "policy check"},
        headers={**user["headers"], "Accept-Language": "th"},
    )
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    assert resp.json()["code"] == code
    assert resp.json()["detail"] and resp.json()["title"]
    async with db.session() as session:
        assert await session.scalar(select(AuditEntry.id).where(
            AuditEntry.action == "clip.create")) is None


@pytest.mark.parametrize(
    ("start_s", "end_s", "code"),
    [
        (5, 2, "clip_window_order"),
        (1, 31 * 60, "clip_too_long"),
        (2 * 3600, 2 * 3600 + 5, "clip_too_far_ahead"),
        (-120, -60, "clip_window_gone"),
    ],
)
async def test_impossible_windows_are_refused(
    client: httpx.AsyncClient, db: Database, settings: Settings, make_user: UserFactory,
    start_s: float, end_s: float, code: str,
) -> None:
    cam = await add_camera(db, settings, code="EV-WIN", url="rtsp://127.0.0.1:9/none")
    operator = await make_user(Role.operator)
    resp = await client.post(
        f"/api/v1/cameras/{cam}/clips",
        json={**_body(start_s, end_s), "reason": "window check"},
        headers={**operator["headers"], "Accept-Language": "en"},
    )
    assert resp.status_code == 422, resp.text
    assert resp.json()["code"] == code


async def test_unreachable_camera_fails_with_a_reason(
    app: Any, client: httpx.AsyncClient, db: Database, settings: Settings,
    make_user: UserFactory, rtsp: RtspServer,
) -> None:
    cam = await add_camera(db, settings, code="EV-GONE", url=rtsp.url("/no-such-path"))
    operator = await make_user(Role.operator)
    resp = await request_clip(client, operator, cam, 0.0, 1.0)
    assert resp.status_code == 202, resp.text
    clip = await finished(app, client, operator, resp.json()["id"])
    assert clip["status"] == "failed"
    assert clip["error"] and clip["sha256"] is None
    assert not list((settings.data_dir / "evidence").glob(f"{clip['id']}*"))


async def test_clips_at_once_are_capped(
    app: Any, client: httpx.AsyncClient, db: Database, settings: Settings,
    make_user: UserFactory,
) -> None:
    app.state.settings.evidence_max_active_clips = 1
    cam = await add_camera(db, settings, code="EV-CAP", url="rtsp://127.0.0.1:9/none")
    operator = await make_user(Role.operator)
    first = await request_clip(client, operator, cam, 50 * 60, 50 * 60 + 5)
    assert first.status_code == 202 and first.json()["status"] == "pending"
    second = await request_clip(client, operator, cam, 50 * 60, 50 * 60 + 5)
    assert second.status_code == 429 and second.json()["code"] == "clip_too_many"
