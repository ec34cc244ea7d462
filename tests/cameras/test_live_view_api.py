"""Live view over a real WebSocket (uvicorn) from a real RTSP camera: it plays, it is audited
with its duration, and role, policy and Origin are enforced with close codes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from websockets.asyncio.client import connect

from safezone.auth.models import User
from safezone.auth.roles import Role
from safezone.auth.service import issue_token
from safezone.cameras.fmp4 import Box, fragment_is_keyframe
from safezone.cameras.models import Camera
from safezone.db.engine import Database
from safezone.incidents.models import Incident
from safezone.orgs.models import Organisation, OrganisationKind
from safezone.settings import Settings
from tests.cameras.live_support import (
    Received,
    add_camera,
    audit_entries,
    box_types,
    decode_frames,
    eventually,
    read_socket,
    watch,
)
from tests.conftest import LiveServer, UserFactory
from tests.fixtures.rtsp import RtspServer


@pytest.fixture(scope="module")
def rtsp() -> Iterator[RtspServer]:
    with RtspServer(
        [
            {"path": "/main", "pattern": "ball"},
            {"path": "/sub", "pattern": "smpte", "width": 320, "height": 180},
            {"path": "/locked", "pattern": "ball", "user": "cam", "password": "s3cret"},
        ]
    ) as server:
        yield server


def ws_url(server: LiveServer, camera_id: int) -> str:
    return server.url.replace("http://", "ws://") + f"/api/v1/cameras/{camera_id}/live"


async def test_live_view_plays_and_is_audited_with_its_duration(
    db: Database, settings: Settings, live_server: LiveServer, make_user: UserFactory,
    rtsp: RtspServer,
) -> None:
    operator = await make_user(Role.operator)
    # Credentials come from the sealed column; the sub stream is preferred when there is one.
    camera = await add_camera(
        db, settings, url=rtsp.url("/locked", "cam", "s3cret"),
    )
    got = await watch(ws_url(live_server, camera), operator["headers"], fragments=20)
    assert got.close is None
    init = next(c for c in got.controls if c["type"] == "init")
    assert init["mime"] == 'video/mp4; codecs="avc1.42C016"'
    assert box_types(got.init) == ["ftyp", "moov"]
    assert all(box_types(m) == ["moof", "mdat"] for m in got.media)
    first = got.media[0]
    assert fragment_is_keyframe(Box("moof", first[: int.from_bytes(first[:4], "big")]))
    assert decode_frames(got.init + b"".join(got.media)) == [(640, 360)] * 20

    stops = await eventually(lambda: audit_entries(db, "camera.view_stop", camera))
    starts = await audit_entries(db, "camera.view_start", camera)
    assert len(starts) == len(stops) == 1
    start, stop = starts[0].details, stops[0].details
    assert starts[0].actor == stops[0].actor == operator["username"]
    assert start["view_id"] == stop["view_id"]
    assert start["stream"] == "main" and start["basis"] == "always"
    # 20 frames at 15 fps: the view lasted over a second, and the bytes were counted.
    assert 1.0 < stop["duration_s"] < 30
    assert stop["ended_by"] == "viewer"
    assert stop["bytes"] >= len(got.init) + sum(map(len, got.media))
    # The password never reaches the audit chain.
    assert "s3cret" not in repr(start) + repr(stop)


async def test_the_sub_stream_is_used_when_present(
    db: Database, settings: Settings, live_server: LiveServer, make_user: UserFactory,
    rtsp: RtspServer,
) -> None:
    admin = await make_user(Role.admin)
    camera = await add_camera(db, settings, url=rtsp.url("/main"), sub_url=rtsp.url("/sub"))
    got = await watch(ws_url(live_server, camera), admin["headers"], fragments=3)
    assert decode_frames(got.init + b"".join(got.media)) == [(320, 180)] * 3
    start = (await audit_entries(db, "camera.view_start", camera))[0]
    assert start.details["stream"] == "sub"


@pytest.mark.parametrize(
    ("policy", "reason"),
    [("off", "policy_off"), ("on_request", "needs_request"), ("on_alarm", "no_alarm_nearby")],
)
async def test_the_owners_policy_refuses_the_view(
    db: Database, settings: Settings, live_server: LiveServer, make_user: UserFactory,
    rtsp: RtspServer, policy: str, reason: str,
) -> None:
    operator = await make_user(Role.operator)
    camera = await add_camera(db, settings, url=rtsp.url("/main"), policy=policy)
    got = await watch(ws_url(live_server, camera), operator["headers"], fragments=1)
    assert got.close == (4403, reason)
    assert got.media == [] and got.init == b""
    denied = await audit_entries(db, "camera.view_denied", camera)
    assert [d.details["reason"] for d in denied] == [reason]
    assert await audit_entries(db, "camera.view_start", camera) == []


async def test_roles_partners_and_unlinked_cameras_are_refused(
    db: Database, settings: Settings, live_server: LiveServer, make_user: UserFactory,
    rtsp: RtspServer,
) -> None:
    async with db.write() as session:
        other = Organisation(name_th="ร้านอื่น", name_en="Other shop",
                             kind=OrganisationKind.private_business)
        session.add(other)
        await session.flush()
        other_id = other.id
    viewer = await make_user(Role.viewer)
    partner = await make_user(Role.partner)
    operator = await make_user(Role.operator)
    theirs = await add_camera(db, settings, url=rtsp.url("/main"), organisation_id=other_id)
    own = await add_camera(
        db, settings, url=rtsp.url("/main"), organisation_id=partner["organisation_id"],
        policy="off",
    )
    registered = await add_camera(db, settings, url=None)
    url = lambda camera: ws_url(live_server, camera)  # noqa: E731
    assert (await watch(url(own), viewer["headers"], fragments=1)).close == (4403, "role")
    assert (await watch(url(theirs), {}, fragments=1)).close == (4401, "unauthenticated")
    # A partner cannot even learn that another organisation's camera exists...
    assert (await watch(url(theirs), partner["headers"], fragments=1)).close == (4404, "not_found")
    # ...but always sees its own, whatever the policy it set for the centre.
    got = await watch(url(own), partner["headers"], fragments=2)
    assert got.close is None and len(got.media) == 2
    assert (await audit_entries(db, "camera.view_start", own))[0].details["basis"] == "owner"
    assert (await watch(url(registered), operator["headers"], fragments=1)).close == (
        4403, "not_linked",
    )
    assert (await watch(url(999_999), operator["headers"], fragments=1)).close == (
        4404, "not_found",
    )


async def _session_cookie(db: Database, user_id: int) -> str:
    async with db.write() as session:
        user = await session.get(User, user_id)
        assert user is not None
        secret, _row = await issue_token(
            session, user=user, kind="session", lifetime=timedelta(hours=1), client=None
        )
    return secret


async def test_cookie_sockets_must_come_from_this_site(
    db: Database, settings: Settings, live_server: LiveServer, make_user: UserFactory,
    rtsp: RtspServer,
) -> None:
    operator = await make_user(Role.operator)
    cookie = f"sz_session={await _session_cookie(db, operator['id'])}"
    camera = await add_camera(db, settings, url=rtsp.url("/main"))
    url = ws_url(live_server, camera)
    evil = await watch(url, {"Cookie": cookie, "Origin": "https://evil.example"}, fragments=1)
    assert evil.close == (4403, "bad_origin")
    missing = await watch(url, {"Cookie": cookie}, fragments=1)
    assert missing.close == (4403, "bad_origin")
    got = Received()
    async with connect(url, additional_headers={"Cookie": cookie}, origin=live_server.url,
                       open_timeout=10, max_size=None) as ws:  # type: ignore[arg-type]
        await read_socket(ws, got, 2, 20)
    assert got.close is None and len(got.media) == 2


async def test_a_running_view_ends_when_the_alarm_that_allowed_it_closes(
    db: Database, settings: Settings, make_user: UserFactory, rtsp: RtspServer
) -> None:
    quick = settings.model_copy(update={"live_policy_recheck_s": 0.3})
    operator = await make_user(Role.operator)
    camera_id = await add_camera(db, quick, url=rtsp.url("/main"), policy="on_alarm")
    async with db.write() as session:
        camera = await session.get(Camera, camera_id)
        assert camera is not None
        incident = Incident(kind="sos", title="SOS near the camera", status="open",
                            lat=camera.lat + 0.0005, lon=camera.lon)  # ~55 m away
        session.add(incident)
        await session.flush()
        incident_id = incident.id
    got = Received()
    with LiveServer(quick) as server:
        async with connect(ws_url(server, camera_id), additional_headers=operator["headers"],
                           open_timeout=10, max_size=None) as ws:
            await read_socket(ws, got, 2, 20)
            assert got.close is None
            async with db.write() as session:
                row = await session.get(Incident, incident_id)
                assert row is not None
                row.status = "closed"
            # Keep reading: the next policy check closes the socket.
            await read_socket(ws, got, 10_000, 20)
    assert got.close == (4403, "no_alarm_nearby")
    start = (await audit_entries(db, "camera.view_start", camera_id))[0]
    stop = (await eventually(lambda: audit_entries(db, "camera.view_stop", camera_id)))[0]
    assert start.details["basis"] == "alarm_nearby"
    assert stop.details["ended_by"] == "policy:no_alarm_nearby"
