"""The owner's sharing policy end to end through the API: always, off, on_alarm (an open
incident near or far), on_request (request → decision → view → expiry), owner partners against
other partners, and the viewer role."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from safezone.auth.roles import Role
from safezone.cameras.models import CameraAccessRequest
from safezone.db.base import utcnow
from safezone.db.engine import Database
from safezone.incidents.models import Incident
from safezone.orgs.models import Organisation, OrganisationKind
from tests.cameras.registry_support import LAT0, LON0, audit_actions, camera_body
from tests.conftest import UserFactory

METRE_LAT = 1 / 111_000  # degrees of latitude per metre, near enough


class People:
    """Users made on first use (each login hashes a password: only make the ones a test needs).
    ``stranger`` is a partner of another organisation; ``patrol2`` a second patrol officer."""

    def __init__(self, make_user: UserFactory, db: Database) -> None:
        self.make_user, self.db = make_user, db
        self.made: dict[str, dict[str, Any]] = {}

    async def __call__(self, name: str) -> dict[str, Any]:
        if name not in self.made:
            if name == "stranger":
                async with self.db.write() as session:
                    other = Organisation(name_th="ร้านอื่น", name_en="Other Shop",
                                         kind=OrganisationKind.private_business)
                    session.add(other)
                    await session.flush()
                    org_id = other.id
                self.made[name] = await self.make_user(Role.partner, organisation_id=org_id)
            else:
                self.made[name] = await self.make_user(Role(name.rstrip("2")))
        return self.made[name]


@pytest.fixture
def people(make_user: UserFactory, db: Database) -> People:
    return People(make_user, db)


async def _camera(client: httpx.AsyncClient, people: People, partner_org: int,
                  policy: str, code: str) -> int:
    resp = await client.post("/api/v1/cameras", headers=(await people("admin"))["headers"],
                             json=camera_body(code, organisation_id=partner_org,
                                              sharing_policy=policy, alarm_radius_m=200,
                                              stream_url=f"rtsp://192.0.2.7/{code}"))
    assert resp.status_code == 201, resp.text
    return int(resp.json()["id"])


async def _decision(client: httpx.AsyncClient, who: dict[str, Any], cid: int) -> dict[str, Any]:
    resp = await client.get(f"/api/v1/cameras/{cid}/view-decision", headers=who["headers"])
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


async def test_always_and_off(
    client: httpx.AsyncClient, people: People, partner_org: int
) -> None:
    always = await _camera(client, people, partner_org, "always", "ALWAYS")
    off = await _camera(client, people, partner_org, "off", "OFF")
    operator = await people("operator")
    assert (await _decision(client, operator, always))["reason"] == "always"
    assert (await _decision(client, await people("patrol"), always))["allowed"] is True
    viewer = await _decision(client, await people("viewer"), always)
    assert (viewer["allowed"], viewer["reason"], viewer["can_request"]) == (False, "role", False)
    denied = await _decision(client, await people("operator"), off)
    assert (denied["allowed"], denied["reason"], denied["can_request"]) == (
        False, "policy_off", False)
    # The owner's own people always see their own cameras, whatever the policy.
    owner = await _decision(client, await people("partner"), off)
    assert (owner["allowed"], owner["reason"]) == (True, "owner")
    # Another organisation's partner does not even find the camera.
    resp = await client.get(f"/api/v1/cameras/{off}/view-decision",
                            headers=(await people("stranger"))["headers"])
    assert resp.status_code == 404
    # A registered pin (no stream) is never viewable.
    pin = (await client.post("/api/v1/cameras", headers=(await people("admin"))["headers"],
                             json=camera_body("PIN"))).json()["id"]
    assert (await _decision(client, await people("admin"), pin))["reason"] == "not_linked"


async def test_on_alarm_follows_open_incidents_nearby(
    client: httpx.AsyncClient, people: People, partner_org: int, db: Database
) -> None:
    cid = await _camera(client, people, partner_org, "on_alarm", "ALARM")
    op = await people("operator")
    assert (await _decision(client, op, cid))["reason"] == "no_alarm_nearby"
    async with db.write() as session:
        session.add(Incident(kind="sos", title="far away", status="open",
                             lat=LAT0 + 1000 * METRE_LAT, lon=LON0))
        session.add(Incident(kind="sos", title="closed nearby", status="closed",
                             lat=LAT0 + 20 * METRE_LAT, lon=LON0))
    assert (await _decision(client, op, cid))["allowed"] is False
    async with db.write() as session:
        near = Incident(kind="sos", title="nearby", status="open",
                        lat=LAT0 + 120 * METRE_LAT, lon=LON0)
        session.add(near)
    now = await _decision(client, op, cid)
    assert (now["allowed"], now["reason"]) == (True, "alarm_nearby")
    async with db.write() as session:
        await session.execute(update(Incident).where(Incident.title == "nearby")
                              .values(status="closed"))
    assert (await _decision(client, op, cid))["reason"] == "no_alarm_nearby"


async def test_on_request_request_decide_view_expire(
    client: httpx.AsyncClient, people: People, partner_org: int, db: Database
) -> None:
    cid = await _camera(client, people, partner_org, "on_request", "REQ")
    op, owner, admin = [await people(n) for n in ("operator", "partner", "admin")]
    first = await _decision(client, op, cid)
    assert (first["allowed"], first["reason"], first["can_request"]) == (
        False, "needs_request", True)
    url = f"/api/v1/cameras/{cid}/access-requests"
    asked = await client.post(url, headers=op["headers"], json={"reason": "ติดตามคนร้ายหนีไปทางนี้"})
    assert asked.status_code == 201, asked.text
    request = asked.json()
    assert (request["status"], request["active"], request["valid_until"]) == (
        "pending", False, None)
    pending = await _decision(client, op, cid)
    assert pending["can_request"] is False and pending["pending_request_id"] == request["id"]
    again = await client.post(url, headers=op["headers"], json={"reason": "again please"})
    assert again.status_code == 409 and again.json()["code"] == "camera_request_pending"
    # Viewers, partners and other organisations cannot ask or decide.
    assert (await client.post(url, headers=(await people("viewer"))["headers"],
                              json={"reason": "let me see"})).status_code == 403
    decide = f"/api/v1/camera-access-requests/{request['id']}/decision"
    assert (await client.post(decide, headers=op["headers"],
                              json={"approve": True})).status_code == 403
    assert (await client.post(decide, headers=(await people("stranger"))["headers"],
                              json={"approve": True})).status_code == 404
    assert (await client.post(decide, headers=owner["headers"],
                              json={"approve": True, "hours": 73})).status_code == 422
    # Who sees which requests.
    def ids(resp: httpx.Response) -> list[int]:
        return [r["id"] for r in resp.json()["data"]]
    listing = "/api/v1/camera-access-requests"
    assert ids(await client.get(listing, headers=owner["headers"])) == [request["id"]]
    assert ids(await client.get(listing, headers=op["headers"])) == [request["id"]]
    assert ids(await client.get(listing, headers=admin["headers"])) == [request["id"]]
    assert ids(await client.get(listing, headers=(await people("stranger"))["headers"])) == []
    assert ids(await client.get(listing, headers=(await people("patrol2"))["headers"])) == []

    approved = await client.post(decide, headers=owner["headers"],
                                 json={"approve": True, "hours": 2})
    assert approved.status_code == 200, approved.text
    body = approved.json()
    assert body["status"] == "approved" and body["active"] is True
    assert body["decided_by"] == owner["id"]
    view = await _decision(client, op, cid)
    assert (view["allowed"], view["reason"]) == (True, "approved_request")
    assert view["valid_until"] is not None
    # The approval is the requester's alone.
    patrol2 = await _decision(client, await people("patrol2"), cid)
    assert patrol2["reason"] == "needs_request"
    twice = await client.post(decide, headers=admin["headers"], json={"approve": False})
    assert twice.status_code == 409 and twice.json()["code"] == "camera_request_decided"

    # Time passes: the approval runs out and the camera is closed again.
    async with db.write() as session:
        await session.execute(update(CameraAccessRequest)
                              .where(CameraAccessRequest.id == request["id"])
                              .values(valid_until=utcnow() - timedelta(seconds=1)))
    expired = await _decision(client, op, cid)
    assert (expired["allowed"], expired["reason"], expired["can_request"]) == (
        False, "needs_request", True)
    listed = (await client.get(listing, headers=op["headers"],
                               params={"status": "approved"})).json()["data"]
    assert listed[0]["active"] is False

    # A second request, refused by an admin.
    second = (await client.post(url, headers=op["headers"], json={"reason": "once more"})).json()
    refused = await client.post(f"/api/v1/camera-access-requests/{second['id']}/decision",
                                headers=admin["headers"], json={"approve": False})
    assert refused.json()["status"] == "denied" and refused.json()["valid_until"] is None
    assert (await _decision(client, op, cid))["allowed"] is False
    assert await audit_actions(db, "camera_access.") == [
        "camera_access.request", "camera_access.approve", "camera_access.request",
        "camera_access.deny",
    ]


async def test_requests_only_for_on_request_cameras(
    client: httpx.AsyncClient, people: People, partner_org: int
) -> None:
    cid = await _camera(client, people, partner_org, "always", "OPEN")
    resp = await client.post(f"/api/v1/cameras/{cid}/access-requests",
                             headers=(await people("supervisor"))["headers"],
                             json={"reason": "why not"})
    assert resp.status_code == 409 and resp.json()["code"] == "camera_not_on_request"
    missing = await client.post("/api/v1/cameras/99999/access-requests",
                                headers=(await people("operator"))["headers"],
                                json={"reason": "x" * 5})
    assert missing.status_code == 404
