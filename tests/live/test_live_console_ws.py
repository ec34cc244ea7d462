"""The console WebSocket against a real server: the snapshot on connect, alarms as they happen,
and who may connect."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin

from safezone.alarms.effects import run_effects_on
from safezone.auth.roles import Role
from safezone.db.engine import Database
from safezone.live.hub import LiveHub
from safezone.settings import Settings
from tests.alarms.support import add_box, deliver, pushes
from tests.conftest import LiveServer, UserFactory


async def _next(ws: ClientConnection, type: str, within: float = 10) -> dict[str, Any]:
    """The next message of ``type`` (others are skipped)."""
    async with asyncio.timeout(within):
        while True:
            message: dict[str, Any] = json.loads(await ws.recv())
            if message["type"] == type:
                return message


def _ws(server: LiveServer) -> str:
    return server.url.replace("http://", "ws://") + "/api/v1/live"


def _server_state(server: LiveServer) -> Any:
    return server.server.config.app.state


async def test_console_gets_open_alarms_then_new_ones(
    live_server: LiveServer, db: Database, settings: Settings, make_user: UserFactory
) -> None:
    operator = await make_user(Role.operator)
    async with db.write() as session:
        first_box = (await add_box(session, "SOS-W1")).id
        second_box = (await add_box(session, "SOS-W2", lat=13.76)).id
    _e, before = await deliver(db, settings, first_box, "sos_pressed")
    open_alarm = pushes(before)[0].payload

    async with connect(_ws(live_server), additional_headers=operator["headers"]) as ws:
        hello = await _next(ws, "hello")
        assert set(hello) == {"id", "type", "time", "payload"}
        assert [a["id"] for a in hello["payload"]["alarms"]] == [open_alarm["id"]]
        assert hello["payload"]["user"]["role"] == "operator"

        # A box is pressed while the console watches: the pipeline commits, then the push
        # goes out through the server's own hub (published from this test's thread).
        _e, effects = await deliver(db, settings, second_box, "sos_pressed")
        await run_effects_on(_server_state(live_server), effects)
        new = await _next(ws, "alarm.new")
        assert new["payload"]["box"]["code"] == "SOS-W2"
        assert new["payload"]["id"] == pushes(effects)[0].payload["id"]

        await ws.send(json.dumps({"type": "ping", "echo": 7}))
        assert (await _next(ws, "pong"))["payload"] == {"echo": 7}
        await ws.send("not json")
        assert (await _next(ws, "error"))["payload"]["code"] == "unknown_message"

    # The console left: the server drops its subscription (the hub runs in the server's
    # thread, so its count is polled rather than awaited).
    hub: LiveHub = _server_state(live_server).live_hub
    async with asyncio.timeout(5):
        while hub.subscriber_count:  # noqa: ASYNC110
            await asyncio.sleep(0.02)


async def test_supervisor_pushes_reach_supervisors_only(
    live_server: LiveServer, make_user: UserFactory
) -> None:
    operator = await make_user(Role.operator)
    supervisor = await make_user(Role.supervisor)
    hub: LiveHub = _server_state(live_server).live_hub
    async with (
        connect(_ws(live_server), additional_headers=operator["headers"]) as op_ws,
        connect(_ws(live_server), additional_headers=supervisor["headers"]) as sup_ws,
    ):
        await _next(op_ws, "hello")
        await _next(sup_ws, "hello")
        hub.publish("supervisor.notify", {"n": 1}, roles=frozenset({Role.supervisor}))
        hub.publish("alert.new", {"n": 2})
        assert (await _next(sup_ws, "supervisor.notify"))["payload"] == {"n": 1}
        assert (await _next(sup_ws, "alert.new"))["payload"] == {"n": 2}
        # The operator's next message is the broadcast: the supervisors' one never came.
        assert json.loads(await op_ws.recv())["type"] == "alert.new"


async def _refusal(url: str, headers: dict[str, str]) -> tuple[int, str]:
    async with connect(url, additional_headers=headers) as ws:
        try:
            async with asyncio.timeout(5):
                await ws.recv()
        except ConnectionClosed as exc:
            assert exc.rcvd is not None
            return exc.rcvd.code, exc.rcvd.reason
    raise AssertionError("the socket was not refused")


async def test_who_may_not_connect(live_server: LiveServer, make_user: UserFactory) -> None:
    url = _ws(live_server)
    assert await _refusal(url, {}) == (4401, "unauthenticated")
    for role in (Role.viewer, Role.partner):
        user = await make_user(role)
        assert await _refusal(url, user["headers"]) == (4403, "role")


async def test_cookie_sessions_need_our_origin(
    live_server: LiveServer, make_user: UserFactory
) -> None:
    user = await make_user(Role.operator, username="cookieop")
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        page = await http.get("/login")
        token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        resp = await http.post(
            "/login",
            data={"username": user["username"], "password": "correct-horse-battery",
                  "csrf_token": token, "next": "/map"},
        )
        assert resp.status_code == 303, resp.text
        session = resp.cookies["sz_session"]
    cookie = {"Cookie": f"sz_session={session}"}
    assert await _refusal(_ws(live_server), {**cookie, "Origin": "http://evil.example"}) == (
        4403, "bad_origin",
    )
    async with connect(_ws(live_server), additional_headers=cookie,
                       origin=Origin(live_server.url)) as ws:
        assert (await _next(ws, "hello"))["payload"]["user"]["role"] == "operator"


async def test_frames_go_uncompressed(live_server: LiveServer, make_user: UserFactory) -> None:
    # The client offers permessage-deflate (websockets does by default); the server declines:
    # compressing every alarm once per console cost more CPU than storing the alarm.
    operator = await make_user(Role.operator)
    async with connect(_ws(live_server), additional_headers=operator["headers"]) as ws:
        assert ws.response is not None
        assert "Sec-WebSocket-Extensions" not in ws.response.headers
        hello = json.loads(await ws.recv())
        assert hello["type"] == "hello"
