"""Token login, throttling of failed logins, token revocation, and account administration."""

from __future__ import annotations

import httpx
import pytest

from safezone.auth.roles import Role
from safezone.db.engine import Database
from tests.conftest import PASSWORD, UserFactory


async def _token(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post(
        "/api/v1/auth/token", data={"username": username, "password": password}
    )


async def test_token_and_me(client: httpx.AsyncClient, make_user: UserFactory) -> None:
    user = await make_user(Role.operator, username="somchai")
    resp = await client.get("/api/v1/auth/me", headers=user["headers"])
    assert resp.status_code == 200
    assert resp.json() == {
        "id": user["id"],
        "username": "somchai",
        "display_name": "somchai",
        "role": "operator",
        "organisation_id": None,
        "via": "bearer",
    }
    # Usernames are case-insensitive at login.
    assert (await _token(client, "SomChai", PASSWORD)).status_code == 200


async def test_wrong_password_is_401_problem(
    client: httpx.AsyncClient, make_user: UserFactory
) -> None:
    await make_user(Role.viewer, username="nid")
    resp = await client.post(
        "/api/v1/auth/token",
        data={"username": "nid", "password": "wrong-password"},
        headers={"Accept-Language": "en"},
    )
    assert resp.status_code == 401
    assert resp.headers["content-type"] == "application/problem+json"
    body = resp.json()
    assert body["code"] == "bad_credentials"
    assert body["detail"] == "Wrong username or password."


async def test_repeated_failures_are_throttled_and_audited(
    client: httpx.AsyncClient, make_user: UserFactory, db: Database
) -> None:
    admin = await make_user(Role.admin, username="boss")
    await make_user(Role.viewer, username="target")
    for _ in range(5):
        assert (await _token(client, "target", "bad-password-x")).status_code == 401
    blocked = await _token(client, "target", "bad-password-x")
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) > 0
    # Even the right password waits out the block: guessing gains nothing.
    assert (await _token(client, "target", PASSWORD)).status_code == 429
    audit = await client.get(
        "/api/v1/audit", params={"action": "auth.login", "limit": 50}, headers=admin["headers"]
    )
    actions = [e["action"] for e in audit.json()["data"] if e["actor"] == "target"]
    assert actions.count("auth.login_failed") == 5
    assert actions.count("auth.login_throttled") == 2


async def test_unknown_user_failures_are_counted(client: httpx.AsyncClient, db: Database) -> None:
    for _ in range(5):
        assert (await _token(client, "ghost", "whatever-123")).status_code == 401
    assert (await _token(client, "ghost", "whatever-123")).status_code == 429


async def test_revoke_ends_token(client: httpx.AsyncClient, make_user: UserFactory) -> None:
    user = await make_user(Role.patrol)
    assert (await client.post("/api/v1/auth/revoke", headers=user["headers"])).status_code == 204
    resp = await client.get("/api/v1/auth/me", headers=user["headers"])
    assert resp.status_code == 401


async def test_admin_manages_users(
    client: httpx.AsyncClient, make_user: UserFactory, partner_org: int
) -> None:
    admin = await make_user(Role.admin)
    h = admin["headers"]
    resp = await client.post(
        "/api/v1/users",
        headers=h,
        json={
            "username": "malee",
            "password": "long-enough-pw",
            "role": "partner",
            "organisation_id": partner_org,
            "display_name": "มาลี",
        },
    )
    assert resp.status_code == 201, resp.text
    malee = resp.json()
    assert "password" not in malee and "password_hash" not in malee
    dup = await client.post(
        "/api/v1/users",
        headers=h,
        json={"username": "MALEE", "password": "long-enough-pw", "role": "viewer"},
    )
    assert dup.status_code == 409
    no_org = await client.post(
        "/api/v1/users",
        headers=h,
        json={"username": "lonely", "password": "long-enough-pw", "role": "partner"},
    )
    assert no_org.status_code == 422 and no_org.json()["code"] == "partner_needs_organisation"
    tok = await _token(client, "malee", "long-enough-pw")
    malee_h = {"Authorization": f"Bearer {tok.json()['access_token']}"}
    assert (await client.get("/api/v1/auth/me", headers=malee_h)).status_code == 200
    off = await client.patch(f"/api/v1/users/{malee['id']}", headers=h, json={"active": False})
    assert off.status_code == 200 and off.json()["active"] is False
    # Deactivation ends live tokens at once and blocks new logins.
    assert (await client.get("/api/v1/auth/me", headers=malee_h)).status_code == 401
    assert (await _token(client, "malee", "long-enough-pw")).status_code == 401


@pytest.mark.parametrize(
    "body,field",
    [
        ({"username": "ab", "password": "long-enough-pw", "role": "viewer"}, "username"),
        ({"username": "abc", "password": "short", "role": "viewer"}, "password"),
        ({"username": "abc", "password": "long-enough-pw", "role": "chief"}, "role"),
        (
            {"username": "abc", "password": "long-enough-pw", "role": "viewer", "is_god": True},
            "is_god",
        ),
    ],
)
async def test_bad_user_input(
    client: httpx.AsyncClient, make_user: UserFactory, body: dict[str, object], field: str
) -> None:
    admin = await make_user(Role.admin)
    resp = await client.post("/api/v1/users", headers=admin["headers"], json=body)
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["field"] == field
