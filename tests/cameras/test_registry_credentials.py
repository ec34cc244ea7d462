"""The registry's two tiers and write-only credentials: sealed at rest, never in a response, an
audit entry or a log line; the tier follows the stream URL; only owners set the policy."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from safezone.auth.roles import Role
from safezone.auth.service import Principal
from safezone.cameras.credentials import CredentialBox
from safezone.cameras.models import Camera
from safezone.cameras.registry import prepare_camera
from safezone.db.engine import Database
from safezone.problems import Problem
from safezone.settings import Settings
from tests.cameras.registry_support import SECRET, audit_actions, audit_text, camera_body
from tests.conftest import UserFactory

NEW_SECRET = "n3w-Secr3t-x9"


async def _stored(db: Database, camera_id: int) -> Camera:
    async with db.session() as session:
        camera = await session.get(Camera, camera_id)
    assert camera is not None
    return camera


async def test_credentials_are_sealed_and_never_shown(
    client: httpx.AsyncClient, make_user: UserFactory, db: Database, settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    admin = await make_user(Role.admin)
    h = admin["headers"]
    box = CredentialBox(settings.resolved_credentials_key())
    seen: list[str] = []

    created = await client.post("/api/v1/cameras", headers=h, json=camera_body(
        "CAM-A", stream_url=f"rtsp://viewer:{SECRET}@192.0.2.5:554/main",
        sub_stream_url="rtsp://192.0.2.5:554/sub", sharing_policy="on_alarm",
        alarm_radius_m=150, buffer_seconds=30, height_m=5.5, ptz=True))
    assert created.status_code == 201, created.text
    body = created.json()
    seen.append(created.text)
    assert body["tier"] == "linked" and body["has_credentials"] is True
    assert body["stream_url"] == "rtsp://192.0.2.5:554/main"
    assert body["sub_stream_url"] == "rtsp://192.0.2.5:554/sub"
    assert (body["sharing_policy"], body["alarm_radius_m"], body["buffer_seconds"]) == (
        "on_alarm", 150, 30)
    assert "password" not in body and "username" not in body and "credentials_enc" not in body
    camera = await _stored(db, body["id"])
    assert camera.credentials_enc and SECRET not in camera.credentials_enc
    assert box.open(camera.credentials_enc) == ("viewer", SECRET)

    # Change only the password: the username stays.
    cid = body["id"]
    patched = await client.patch(f"/api/v1/cameras/{cid}", headers=h,
                                 json={"password": NEW_SECRET})
    assert patched.status_code == 200, patched.text
    seen.append(patched.text)
    assert box.open((await _stored(db, cid)).credentials_enc) == ("viewer", NEW_SECRET)
    # The same login again changes nothing and writes no audit entry.
    updates = len(await audit_actions(db, "camera.update"))
    again = await client.patch(f"/api/v1/cameras/{cid}", headers=h,
                               json={"username": "viewer", "password": NEW_SECRET})
    assert again.status_code == 200
    assert len(await audit_actions(db, "camera.update")) == updates

    for path in (f"/api/v1/cameras/{cid}", "/api/v1/cameras", "/api/v1/audit",
                 "/api/v1/layers/cameras.geojson"):
        resp = await client.get(path, headers=h)
        assert resp.status_code == 200, path
        seen.append(resp.text)
    audit = await audit_text(db)
    assert "[redacted]" in audit  # the audit chain records that the login changed
    for text in (*seen, audit, caplog.text):
        assert SECRET not in text and NEW_SECRET not in text

    # Removing the login and the stream: back to a registered pin.
    cleared = (await client.patch(f"/api/v1/cameras/{cid}", headers=h,
                                  json={"username": None, "password": None})).json()
    assert cleared["has_credentials"] is False
    pin = (await client.patch(f"/api/v1/cameras/{cid}", headers=h,
                              json={"stream_url": None})).json()
    assert pin["tier"] == "registered" and pin["stream_url"] is None


async def test_tier_follows_the_stream_url(
    client: httpx.AsyncClient, make_user: UserFactory, db: Database, settings: Settings
) -> None:
    h = (await make_user(Role.supervisor))["headers"]
    pin = (await client.post("/api/v1/cameras", headers=h, json=camera_body("PIN"))).json()
    assert pin["tier"] == "registered" and pin["has_credentials"] is False
    assert pin["sharing_policy"] == "always"
    linked = await client.patch(f"/api/v1/cameras/{pin['id']}", headers=h, json={
        "stream_url": "https://192.0.2.9/live.m3u8", "username": "u", "password": SECRET})
    assert linked.json()["tier"] == "linked" and linked.json()["has_credentials"] is True
    # The tier is derived: clients cannot set it.
    forced = await client.post("/api/v1/cameras", headers=h, json=camera_body("X", tier="linked"))
    assert forced.status_code == 422
    # A login sealed with another key cannot be half-changed, but a whole new one replaces it.
    async with db.write() as session:
        camera = await session.get(Camera, pin["id"])
        assert camera is not None
        camera.credentials_enc = CredentialBox(Fernet.generate_key().decode()).seal("x", "y")
    half = await client.patch(f"/api/v1/cameras/{pin['id']}", headers=h, json={"password": "z"})
    assert half.status_code == 409 and half.json()["code"] == "camera_credentials_unreadable"
    whole = await client.patch(f"/api/v1/cameras/{pin['id']}", headers=h,
                               json={"username": "u2", "password": NEW_SECRET})
    assert whole.status_code == 200
    box = CredentialBox(settings.resolved_credentials_key())
    assert box.open((await _stored(db, pin["id"])).credentials_enc) == ("u2", NEW_SECRET)
    # A null for a column that cannot be empty is refused and changes nothing.
    kept = await client.patch(f"/api/v1/cameras/{pin['id']}", headers=h,
                              json={"buffer_seconds": None, "sharing_policy": None})
    assert kept.status_code == 422
    assert {e["field"] for e in kept.json()["errors"]} == {"buffer_seconds", "sharing_policy"}
    stored = (await client.get(f"/api/v1/cameras/{pin['id']}", headers=h)).json()
    assert stored["sharing_policy"] == "always"


BAD_INPUT: list[tuple[dict[str, Any], str]] = [
    ({"stream_url": f"ftp://u:{SECRET}@192.0.2.1/x"}, "stream_url"),
    ({"stream_url": f"rtsp://u:{SECRET}@/nohost"}, "stream_url"),
    ({"stream_url": f"rtsp://u:{SECRET}@192.0.2.1:99999/x"}, "stream_url"),
    ({"sub_stream_url": "not a url"}, "sub_stream_url"),
    ({"buffer_seconds": 301}, "buffer_seconds"),
    ({"sharing_policy": "sometimes"}, "sharing_policy"),
    ({"bearing_deg": 360}, "bearing_deg"),
    ({"password": "x" * 201}, "password"),
]


async def test_bad_registry_input_is_refused_without_echoing_secrets(
    client: httpx.AsyncClient, make_user: UserFactory
) -> None:
    h = (await make_user(Role.admin))["headers"]
    for over, field in BAD_INPUT:
        resp = await client.post("/api/v1/cameras", headers={**h, "Accept-Language": "en"},
                                 json=camera_body("BAD", **over))
        assert resp.status_code == 422, over
        assert [e["field"] for e in resp.json()["errors"]] == [field]
        assert SECRET not in resp.text
        if field == "stream_url":
            assert resp.json()["errors"][0]["message"].startswith("stream_url: must be an rtsp")


async def test_two_different_logins_in_the_urls_are_refused(
    client: httpx.AsyncClient, make_user: UserFactory, db: Database
) -> None:
    h = (await make_user(Role.admin))["headers"]
    resp = await client.post("/api/v1/cameras", headers=h, json=camera_body(
        "TWO", stream_url=f"rtsp://a:{SECRET}@192.0.2.1/main",
        sub_stream_url="rtsp://b:other@192.0.2.1/sub"))
    assert resp.status_code == 422 and resp.json()["code"] == "camera_credentials_conflict"
    async with db.session() as session:
        assert (await session.scalars(select(Camera))).all() == []


async def test_only_the_owner_side_sets_the_sharing_policy(
    client: httpx.AsyncClient, make_user: UserFactory, partner_org: int, db: Database
) -> None:
    partner = await make_user(Role.partner)
    own = await client.post("/api/v1/cameras", headers=partner["headers"],
                            json=camera_body("SHOP-1", sharing_policy="on_request"))
    assert own.status_code == 201 and own.json()["organisation_id"] == partner_org
    cid = own.json()["id"]
    operator = await make_user(Role.operator)
    refused = await client.patch(f"/api/v1/cameras/{cid}", headers=operator["headers"],
                                 json={"sharing_policy": "always"})
    assert refused.status_code == 403
    changed = await client.patch(f"/api/v1/cameras/{cid}", headers=partner["headers"],
                                 json={"sharing_policy": "off"})
    assert changed.json()["sharing_policy"] == "off"
    sup = await make_user(Role.supervisor)
    assert (await client.patch(f"/api/v1/cameras/{cid}", headers=sup["headers"],
                               json={"sharing_policy": "on_alarm"})).status_code == 200
    # A partner of another organisation cannot even see the camera...
    async with db.write() as session:
        from safezone.orgs.models import Organisation, OrganisationKind
        other = Organisation(name_th="ร้านอื่น", name_en="Other Shop",
                             kind=OrganisationKind.private_business)
        session.add(other)
        await session.flush()
        other_id = other.id
    stranger = await make_user(Role.partner, organisation_id=other_id)
    assert (await client.patch(f"/api/v1/cameras/{cid}", headers=stranger["headers"],
                               json={"sharing_policy": "always"})).status_code == 404
    # ...and the registry's own check refuses them even if a caller got that far.
    camera = await _stored(db, cid)
    who = Principal(user_id=stranger["id"], username=stranger["username"], display_name="x",
                    role=Role.partner, organisation_id=other_id, via="bearer")
    with pytest.raises(Problem) as refused_policy:
        prepare_camera({"sharing_policy": "always"}, who=who, current=camera, settings=None)
    assert refused_policy.value.code == "camera_policy_owner_only"
