"""Saved camera-wall layouts (per person) and the camera console pages."""

from __future__ import annotations

import httpx

from safezone.auth.roles import Role
from safezone.db.engine import Database
from safezone.settings import Settings
from tests.cameras.live_support import add_camera
from tests.conftest import UserFactory

LAYOUTS = "/api/v1/wall-layouts"


async def test_layouts_are_saved_per_person(
    db: Database, settings: Settings, client: httpx.AsyncClient, make_user: UserFactory
) -> None:
    me = await make_user(Role.operator)
    other = await make_user(Role.supervisor)
    cams = [await add_camera(db, settings, url=f"rtsp://127.0.0.1:9/c{i}") for i in range(3)]
    body = {"name": "ประตูหน้า", "grid": 2, "camera_ids": [cams[0], None, cams[1]]}
    resp = await client.post(LAYOUTS, json=body, headers=me["headers"])
    assert resp.status_code == 201, resp.text
    layout = resp.json()
    assert layout["camera_ids"] == [cams[0], None, cams[1]] and layout["grid"] == 2

    mine = (await client.get(LAYOUTS, headers=me["headers"])).json()
    assert mine["count"] == 1 and mine["data"][0]["name"] == "ประตูหน้า"
    assert {"data", "count", "limit", "offset"} <= set(mine)
    theirs = (await client.get(LAYOUTS, headers=other["headers"])).json()
    assert theirs["count"] == 0
    url = f"{LAYOUTS}/{layout['id']}"
    assert (await client.get(url, headers=other["headers"])).status_code == 404
    assert (await client.put(url, json=body, headers=other["headers"])).status_code == 404
    assert (await client.delete(url, headers=other["headers"])).status_code == 404

    changed = {"name": "ประตูหน้า 3×3", "grid": 3, "camera_ids": [None] * 8 + [cams[2]]}
    resp = await client.put(url, json=changed, headers=me["headers"])
    assert resp.status_code == 200 and resp.json()["camera_ids"][8] == cams[2]
    assert (await client.get(url, headers=me["headers"])).json()["grid"] == 3
    assert (await client.delete(url, headers=me["headers"])).status_code == 204
    assert (await client.get(url, headers=me["headers"])).status_code == 404


async def test_layouts_are_validated(
    db: Database, settings: Settings, client: httpx.AsyncClient, make_user: UserFactory
) -> None:
    me = await make_user(Role.operator)
    cam = await add_camera(db, settings, url="rtsp://127.0.0.1:9/c")
    ok = {"name": "Wall", "grid": 2, "camera_ids": [cam]}
    assert (await client.post(LAYOUTS, json=ok, headers=me["headers"])).status_code == 201
    dup = await client.post(LAYOUTS, json={**ok, "name": "wall"}, headers=me["headers"])
    assert dup.status_code == 409 and dup.json()["code"] == "wall_layout_name_taken"
    bad = [
        {**ok, "name": "a", "grid": 5},
        {**ok, "name": "b", "camera_ids": [cam] * 5},  # 5 tiles do not fit 2×2
        {**ok, "name": ""},
        {**ok, "name": "c", "owner": 1},  # unknown field
    ]
    for body in bad:
        resp = await client.post(LAYOUTS, json=body, headers=me["headers"])
        assert resp.status_code == 422, body
    unknown = await client.post(
        LAYOUTS, json={**ok, "name": "d", "camera_ids": [999999]}, headers=me["headers"]
    )
    assert unknown.status_code == 422 and unknown.json()["code"] == "unknown_camera"


async def test_partners_can_only_put_their_own_cameras_on_a_wall(
    db: Database, settings: Settings, client: httpx.AsyncClient, make_user: UserFactory,
    partner_org: int,
) -> None:
    partner = await make_user(Role.partner)
    own = await add_camera(db, settings, url="rtsp://127.0.0.1:9/a", organisation_id=partner_org)
    city = await add_camera(db, settings, url="rtsp://127.0.0.1:9/b")
    ok = await client.post(
        LAYOUTS, json={"name": "shop", "grid": 2, "camera_ids": [own]}, headers=partner["headers"]
    )
    assert ok.status_code == 201
    refused = await client.post(
        LAYOUTS, json={"name": "city", "grid": 2, "camera_ids": [city]}, headers=partner["headers"]
    )
    assert refused.status_code == 422


async def test_the_camera_list_filters(
    db: Database, settings: Settings, client: httpx.AsyncClient, make_user: UserFactory,
    partner_org: int,
) -> None:
    operator = await make_user(Role.operator)
    up = await add_camera(db, settings, url="rtsp://127.0.0.1:9/u", name="ตลาดเช้า")
    down = await add_camera(db, settings, url="rtsp://127.0.0.1:9/d", status="offline",
                            organisation_id=partner_org)
    headers = {**operator["headers"], "Accept": "text/html"}

    async def listed(query: str) -> set[int]:
        resp = await client.get(f"/cameras?{query}", headers=headers)
        assert resp.status_code == 200
        return {cam for cam in (up, down) if f'data-camera-id="{cam}"' in resp.text}

    assert await listed("") == {up, down}
    assert await listed("status=offline") == {down}
    assert await listed(f"organisation_id={partner_org}") == {down}
    assert await listed("q=ตลาด") == {up}
    # Empty selects (the form's "any") are no filter at all.
    assert await listed("status=&organisation_id=&zone_id=&q=") == {up, down}


async def test_the_camera_page_explains_the_policy(
    db: Database, settings: Settings, client: httpx.AsyncClient, make_user: UserFactory
) -> None:
    operator = await make_user(Role.operator)
    viewer = await make_user(Role.viewer)
    open_cam = await add_camera(db, settings, url="rtsp://127.0.0.1:9/o")
    asked = await add_camera(db, settings, url="rtsp://127.0.0.1:9/r", policy="on_request")
    page = await client.get(f"/cameras/{open_cam}", headers=operator["headers"])
    assert page.status_code == 200
    assert 'data-testid="live-video"' in page.text
    assert "เจ้าของแบ่งปันภาพกล้องนี้ให้ศูนย์ตลอดเวลา" in page.text
    page = await client.get(f"/cameras/{asked}", headers=operator["headers"])
    assert 'data-testid="request-access"' in page.text
    # A viewer sees the camera's details but is told the role cannot watch video.
    page = await client.get(f"/cameras/{open_cam}", headers=viewer["headers"])
    assert page.status_code == 200 and "บทบาทของคุณดูภาพจากกล้องไม่ได้" in page.text
    wall = await client.get("/cameras/wall", headers={**viewer["headers"], "Accept": "text/html"})
    assert wall.status_code == 403
    # The CSP lets the player load its MediaSource (blob:) and nothing else from outside.
    csp = page.headers["content-security-policy"]
    assert "media-src 'self' blob:" in csp
