"""The health monitor end to end: cameras registered through the API (and imported from CSV)
against the real GStreamer RTSP server, states within seconds, alerts, the map layer and the
health API."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from safezone.alerts.models import Alert
from safezone.audit.models import AuditEntry
from safezone.auth.roles import Role
from safezone.cameras.frame_check import reference_path, snapshot_path
from safezone.cameras.models import CameraStatusChange
from safezone.db.engine import Database
from safezone.settings import Settings
from tests.cameras.health_support import fast, wait_for
from tests.cameras.registry_support import ENGLISH, camera_body, csv_bytes, row
from tests.conftest import UserFactory
from tests.fixtures.rtsp import RtspServer

PASSWORD = "rtsp-Pa55word"
WRONG = "Wr0ng-Guess-77"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return fast(settings)


@pytest.fixture(scope="module")
def basic() -> Iterator[RtspServer]:
    paths = [
        {"path": "/a", "overlay": "clock"},
        {"path": "/b", "overlay": "clock"},
        {"path": "/smpte", "pattern": "smpte"},
        {"path": "/black", "pattern": "black"},
        {"path": "/locked", "user": "viewer", "password": PASSWORD, "overlay": "clock"},
        {"path": "/checkers", "pattern": "checkers-8", "overlay": "clock"},
    ]
    with RtspServer(paths, auth_method="basic") as server:
        yield server


@pytest.fixture(scope="module")
def digest() -> Iterator[RtspServer]:
    paths = [
        {"path": "/d", "overlay": "clock"},
        {"path": "/locked", "user": "viewer", "password": PASSWORD, "overlay": "clock"},
    ]
    with RtspServer(paths, auth_method="digest") as server:
        yield server


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def statuses(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, str]:
    resp = await client.get("/api/v1/cameras", params={"limit": 1000}, headers=headers)
    assert resp.status_code == 200, resp.text
    return {c["code"]: c["status"] for c in resp.json()["data"]}


async def test_imported_cameras_reach_the_right_states(
    client: httpx.AsyncClient, make_user: UserFactory, basic: RtspServer, digest: RtspServer,
    db: Database, settings: Settings,
) -> None:
    admin = await make_user(Role.admin)
    rows = [
        row("OPEN", "เปิด", url=basic.url("/a"), owner="Test Shop"),
        row("SMPTE", "ภาพนิ่ง", url=basic.url("/smpte"), owner="Test Shop"),
        row("BLACK", "ภาพดำ", url=basic.url("/black")),
        row("BASIC-OK", "รหัสถูก", url=basic.url("/locked"), user="viewer", password=PASSWORD),
        row("BASIC-BAD", "รหัสผิด", url=basic.url("/locked"), user="viewer", password=WRONG),
        row("DIGEST-OPEN", "ไดเจสต์", url=digest.url("/d")),
        row("DIGEST-OK", "ไดเจสต์ถูก", url=digest.url("/locked"), user="viewer", password=PASSWORD),
        row("DIGEST-BAD", "ไดเจสต์ผิด", url=digest.url("/locked"), user="viewer", password=WRONG),
        row("CLOSED", "ปิด", url=f"rtsp://127.0.0.1:{closed_port()}/cam"),
        row("PIN", "ไม่มีสตรีม"),  # registered only: the monitor leaves it alone
    ]
    resp = await client.post(
        "/api/v1/cameras/import",
        files={"file": ("cameras.csv", csv_bytes(ENGLISH, rows), "text/csv")},
        headers=admin["headers"],
    )
    assert resp.status_code == 200, resp.text
    expected = {
        "OPEN": "online", "SMPTE": "degraded", "BLACK": "degraded", "BASIC-OK": "online",
        "BASIC-BAD": "unauthorized", "DIGEST-OPEN": "online", "DIGEST-OK": "online",
        "DIGEST-BAD": "unauthorized", "CLOSED": "offline", "PIN": "unknown",
    }

    async def settled() -> dict[str, str] | None:
        now = await statuses(client, admin["headers"])
        return now if now == expected else None

    await wait_for(settled, what=f"states {expected}")

    by_code = {
        c["code"]: c
        for c in (await client.get("/api/v1/cameras", headers=admin["headers"])).json()["data"]
    }

    async def health(code: str) -> dict[str, Any]:
        r = await client.get(f"/api/v1/cameras/{by_code[code]['id']}/health",
                             headers=admin["headers"])
        assert r.status_code == 200, r.text
        return dict(r.json())

    smpte, black, ok = await health("SMPTE"), await health("BLACK"), await health("DIGEST-OK")
    assert (smpte["tamper"], black["tamper"]) == ("frozen", "black")
    assert (ok["codec"], ok["width"], ok["height"], ok["fps"]) == ("h264", 640, 360, 15.0)
    assert ok["status_since"] and ok["last_ok_at"]
    assert [t["status"] for t in ok["transitions"]] == ["online"]
    # SMPTE went online at its first picture, then frozen at its second.
    assert [t["status"] for t in smpte["transitions"]] == ["degraded", "online"]
    bad = await health("BASIC-BAD")
    assert bad["detail"] == "wrong user name or password"
    assert snapshot_path(settings, by_code["OPEN"]["id"]).is_file()

    # The map layer carries the same states.
    layer = await client.get("/api/v1/layers/cameras.geojson", headers=admin["headers"])
    on_map = {f["properties"]["code"]: f["properties"]["status"] for f in layer.json()["features"]}
    assert on_map == expected

    # The headline: 9 linked, 4 online; the shop's two cameras, one of them online.
    summary = (await client.get("/api/v1/cameras/health/summary",
                                headers=admin["headers"])).json()
    assert (summary["linked"], summary["online"]) == (9, 4)
    assert summary["ratio"] == pytest.approx(4 / 9)
    assert summary["by_status"] == {
        "online": 4, "degraded": 2, "no_video": 0, "unauthorized": 2, "offline": 1, "unknown": 0,
    }
    shop = next(o for o in summary["owners"] if o["name_en"] == "Test Shop")
    assert (shop["cameras"], shop["online"]) == (2, 1)
    assert 0 < shop["uptime_24h"] <= 1

    # A tamper alert for the black and the frozen camera, none yet for the refused ones
    # until they have been refused for camera_offline_alert_s.
    async def open_alerts() -> dict[tuple[str, str], Alert] | None:
        async with db.session() as session:
            alerts = (await session.scalars(select(Alert).where(Alert.cleared_at.is_(None)))).all()
        ids = {str(c["id"]): code for code, c in by_code.items()}
        found = {(ids[a.entity_id], a.kind): a for a in alerts}
        wanted = {("BLACK", "camera_tamper"), ("SMPTE", "camera_tamper"),
                  ("CLOSED", "camera_offline"), ("BASIC-BAD", "camera_offline"),
                  ("DIGEST-BAD", "camera_offline")}
        return found if set(found) == wanted else None

    alerts = await wait_for(open_alerts, what="tamper and offline alerts")
    black_alert = alerts[("BLACK", "camera_tamper")]
    assert "มืด" in black_alert.message_th and "black" in black_alert.message_en
    assert alerts[("BASIC-BAD", "camera_offline")].details["status"] == "unauthorized"
    # Credentials never appear in what the monitor wrote.
    async with db.session() as session:
        written = [d or "" for (d,) in await session.execute(select(CameraStatusChange.detail))]
        for a in (await session.scalars(select(Alert))).all():
            written += [a.message_th, a.message_en, str(a.details)]
    assert written and not any(PASSWORD in text or WRONG in text for text in written)


async def test_stream_going_dark_raises_and_clears_the_offline_alert(
    client: httpx.AsyncClient, make_user: UserFactory, basic: RtspServer, db: Database
) -> None:
    admin = await make_user(Role.admin)
    resp = await client.post(
        "/api/v1/cameras", json=camera_body("DARK", stream_url=basic.url("/b")),
        headers=admin["headers"],
    )
    assert resp.status_code == 201, resp.text
    camera_id = resp.json()["id"]

    async def status_is(wanted: str) -> bool:
        r = await client.get(f"/api/v1/cameras/{camera_id}", headers=admin["headers"])
        return bool(r.json()["status"] == wanted)

    async def open_offline_alert() -> Alert | None:
        async with db.session() as session:
            return await session.scalar(
                select(Alert).where(Alert.entity_id == str(camera_id),
                                    Alert.kind == "camera_offline")
            )

    await wait_for(lambda: status_is("online"), what="online")
    basic.remove("/b")
    try:
        await wait_for(lambda: status_is("offline"), what="offline after the stream stopped")
        alert = await wait_for(open_offline_alert, what="offline alert")
        assert alert.cleared_at is None and alert.severity == "warning"
        assert "DARK" in alert.message_en and "offline" in alert.message_en
        assert "ขาดการเชื่อมต่อ" in alert.message_th
    finally:
        basic.add("/b", "ball", "clock")
    await wait_for(lambda: status_is("online"), what="online again")

    async def cleared() -> Alert | None:
        found = await open_offline_alert()
        return found if found is not None and found.cleared_at is not None else None

    await wait_for(cleared, what="the alert cleared")
    async with db.session() as session:
        history = (await session.execute(
            select(CameraStatusChange.status, CameraStatusChange.detail)
            .where(CameraStatusChange.camera_id == camera_id)
            .order_by(CameraStatusChange.at, CameraStatusChange.id)
        )).all()
    assert [h.status for h in history] == ["online", "offline", "online"], history


async def test_moved_camera_and_reference_reset(
    client: httpx.AsyncClient, make_user: UserFactory, basic: RtspServer, db: Database,
    settings: Settings,
) -> None:
    supervisor = await make_user(Role.supervisor)
    resp = await client.post(
        "/api/v1/cameras", json=camera_body("TURN", stream_url=basic.url("/checkers")),
        headers=supervisor["headers"],
    )
    camera_id = resp.json()["id"]

    async def health() -> dict[str, Any]:
        r = await client.get(f"/api/v1/cameras/{camera_id}/health",
                             headers=supervisor["headers"])
        return dict(r.json())

    async def state(status: str, tamper: str | None) -> dict[str, Any] | None:
        now = await health()
        return now if (now["status"], now["tamper"]) == (status, tamper) else None

    async def referenced() -> dict[str, Any] | None:
        now = await state("online", None)
        return now if now is not None and now["reference_at"] else None

    await wait_for(referenced, what="online with a reference view")
    # Someone turns the camera: it now sees another scene.
    patched = await client.patch(f"/api/v1/cameras/{camera_id}",
                                 json={"stream_url": basic.url("/a")},
                                 headers=supervisor["headers"])
    assert patched.status_code == 200, patched.text
    await wait_for(lambda: state("degraded", "moved"), what="moved")

    async def tamper_alert() -> Alert | None:
        async with db.session() as session:
            return await session.scalar(select(Alert).where(
                Alert.entity_id == str(camera_id), Alert.kind == "camera_tamper"))

    alert = await wait_for(tamper_alert, what="tamper alert")
    assert alert.severity == "critical" and alert.details["tamper"] == "moved"
    assert "มุมเดิม" in alert.message_th

    # The turn was on purpose: a supervisor accepts the new view.
    resp = await client.post(f"/api/v1/cameras/{camera_id}/reference-snapshot",
                             headers=supervisor["headers"])
    assert resp.status_code == 200, resp.text
    assert resp.json()["source"] == "snapshot" and resp.json()["reference_at"]
    assert reference_path(settings, camera_id).read_bytes()[:2] == b"\xff\xd8"
    await wait_for(lambda: state("online", None), what="online with the new reference")

    async def cleared() -> Alert | None:
        found = await tamper_alert()
        return found if found is not None and found.cleared_at is not None else None

    await wait_for(cleared, what="tamper alert cleared")
    async with db.session() as session:
        entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "camera.reference_reset")
        )
    assert entry is not None and entry.entity_id == str(camera_id)
    assert entry.actor == supervisor["username"]


async def test_who_may_read_health_and_reset_references(
    client: httpx.AsyncClient, make_user: UserFactory, partner_org: int
) -> None:
    supervisor = await make_user(Role.supervisor)
    shop = await client.post(
        "/api/v1/cameras",
        json=camera_body("SHOP", stream_url="rtsp://192.0.2.10/1", organisation_id=partner_org),
        headers=supervisor["headers"],
    )
    city = await client.post(
        "/api/v1/cameras", json=camera_body("CITY", stream_url="rtsp://192.0.2.11/1"),
        headers=supervisor["headers"],
    )
    shop_id, city_id = shop.json()["id"], city.json()["id"]
    operator, partner, viewer = (
        await make_user(Role.operator), await make_user(Role.partner), await make_user(Role.viewer)
    )
    for who in (operator, partner):
        r = await client.post(f"/api/v1/cameras/{shop_id}/reference-snapshot",
                              headers=who["headers"])
        assert r.status_code == 403
    # No snapshot yet: the reference is dropped and the next good picture becomes it.
    r = await client.post(f"/api/v1/cameras/{city_id}/reference-snapshot",
                          headers=supervisor["headers"])
    assert r.json() == {"camera_id": city_id, "source": "next_picture", "reference_at": None}
    # Staff and partners read health; a partner only for its own organisation's cameras.
    assert (await client.get(f"/api/v1/cameras/{city_id}/health",
                             headers=operator["headers"])).status_code == 200
    assert (await client.get(f"/api/v1/cameras/{shop_id}/health",
                             headers=partner["headers"])).status_code == 200
    assert (await client.get(f"/api/v1/cameras/{city_id}/health",
                             headers=partner["headers"])).status_code == 404
    mine = (await client.get("/api/v1/cameras/health/summary",
                             headers=partner["headers"])).json()
    assert mine["linked"] == 1 and [o["organisation_id"] for o in mine["owners"]] == [partner_org]
    for path in ("/api/v1/cameras/health/summary", f"/api/v1/cameras/{city_id}/health"):
        assert (await client.get(path, headers=viewer["headers"])).status_code == 403
