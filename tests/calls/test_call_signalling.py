"""Call signalling through the real server (uvicorn, its embedded broker): who may call, one call
per box, the checks on what the console and the box send, the time limits, and the records.

The box here is a raw MQTT client holding the box's own credentials (it is a box as far as the
broker and the server can tell); media-level tests with the real agent are in
test_call_box.py and test_call_browser.py.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import aiomqtt
import httpx
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from pydantic import SecretStr
from sqlalchemy import select
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from safezone.alarms.models import Alarm
from safezone.auth.roles import Role
from safezone.calls.signalling import CallService
from safezone.db.base import utcnow
from safezone.db.engine import Database
from safezone.incidents.models import Call, IncidentEvent
from safezone.settings import Settings
from safezone.sos.models import SosBox
from safezone.sos.protocol import IceServer
from tests.alarms.support import add_box, deliver
from tests.calls.conftest import link_ready, provision, server_state, until
from tests.conftest import LiveServer, UserFactory
from tests.sos.conftest import link_settings

STUN = "stun:stun.example.org:3478"  # configured only: nothing here ever contacts it
TURN = "turn:turn.example.org:3478"  # likewise (tests/calls/test_turn.py uses a real coturn)


def servers_for(who: str, given: list[dict[str, Any]]) -> None:
    """``given`` is the STUN server and the TURN server with ``who``'s own credentials."""
    assert given[0] == {"urls": STUN}
    assert given[1]["urls"] == [TURN] and given[1]["username"].endswith(f":{who}")
    assert len(given) == 2 and given[1]["credential"]


@pytest.fixture
def app_settings(settings: Settings, topic_root: str) -> Settings:
    return link_settings(settings, topic_root=topic_root, mqtt_url=None,
                         call_answer_timeout_s=1.5,
                         webrtc_ice_servers=[IceServer(urls=STUN)],
                         webrtc_turn_urls=[TURN], webrtc_turn_secret=SecretStr("s"))


@pytest.fixture
async def server(app_settings: Settings) -> AsyncIterator[LiveServer]:
    with LiveServer(app_settings) as live:
        await link_ready(live)
        yield live


class RawBox:
    """A box speaking the protocol by hand: reads its commands, publishes call signals."""

    def __init__(self, client: aiomqtt.Client, root: str, code: str) -> None:
        self.client, self.root, self.code = client, root, code
        self.messages = aiter(client.messages)

    async def command(self, within: float = 5.0) -> dict[str, Any]:
        message = await asyncio.wait_for(anext(self.messages), within)
        body: dict[str, Any] = json.loads(message.payload)  # type: ignore[arg-type]
        return body

    async def signal(self, type: str, call_id: str, **fields: Any) -> None:
        body = {"box_id": self.code, "type": type, "call_id": call_id, **fields}
        await self.client.publish(f"{self.root}/box/{self.code}/call", json.dumps(body), qos=1)


@asynccontextmanager
async def raw_box(server: LiveServer, code: str, secret: str) -> AsyncIterator[RawBox]:
    link = server_state(server).box_link
    client = aiomqtt.Client("127.0.0.1", link.broker.port, username=code, password=secret,
                            identifier=f"raw-{uuid.uuid4().hex[:10]}")
    async with client:
        await client.subscribe(f"{link.root}/box/{code}/cmd", qos=1)
        yield RawBox(client, link.root, code)


def ws_url(server: LiveServer, path: str) -> str:
    return server.url.replace("http://", "ws://") + path


async def next_message(ws: ClientConnection, within: float = 5.0) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), within))
    return message


async def refusal(url: str, headers: dict[str, str]) -> tuple[int, str]:
    async with connect(url, additional_headers=headers) as ws:
        try:
            await asyncio.wait_for(ws.recv(), 5)
        except ConnectionClosed as exc:
            assert exc.rcvd is not None
            return exc.rcvd.code, exc.rcvd.reason
    raise AssertionError("the socket was not refused")


async def real_offer() -> tuple[RTCPeerConnection, str]:
    """A genuine WebRTC offer (aiortc), audio and receive-only video, as a console makes."""
    pc = RTCPeerConnection()
    pc.addTransceiver("audio", direction="sendrecv")
    pc.addTransceiver("video", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    return pc, pc.localDescription.sdp


async def real_answer(offer: str) -> tuple[RTCPeerConnection, str]:
    pc = RTCPeerConnection()
    await pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
    await pc.setLocalDescription(await pc.createAnswer())
    return pc, pc.localDescription.sdp


async def sos_alarm(db: Database, settings: Settings, code: str) -> int:
    async with db.write() as session:
        box_id = (await add_box(session, code)).id
    await deliver(db, settings, box_id, "sos_pressed")
    async with db.session() as session:
        alarm_id = await session.scalar(select(Alarm.id).where(Alarm.box_id == box_id))
    assert alarm_id is not None
    return alarm_id


async def start(http: httpx.AsyncClient, alarm_id: int, headers: dict[str, str]) -> httpx.Response:
    return await http.post(f"/api/v1/alarms/{alarm_id}/call", headers=headers)


async def test_who_may_call_and_one_call_per_box(
    server: LiveServer, app_settings: Settings, db: Database, make_user: UserFactory,
) -> None:
    alarm_id = await sos_alarm(db, app_settings, "SOS-S1")
    operator = await make_user(Role.operator, username="op_one")
    other = await make_user(Role.supervisor)
    async with httpx.AsyncClient(base_url=server.url) as http:
        for role in (Role.patrol, Role.viewer, Role.partner):
            user = await make_user(role)
            assert (await start(http, alarm_id, user["headers"])).status_code == 403
        assert (await start(http, 999_999, operator["headers"])).json()["code"] == \
            "alarm_not_found"
        first = await start(http, alarm_id, operator["headers"])
        assert first.status_code == 201, first.text
        body = first.json()
        call_id = body["call"]["id"]
        assert body["call"]["state"] == "requested" and body["call"]["box_code"] == "SOS-S1"
        assert body["signal_url"] == f"/api/v1/calls/{call_id}/signal"
        servers_for(f"op{operator['id']}", body["ice_servers"])
        busy = await start(http, alarm_id, {**other["headers"], "Accept-Language": "th"})
        assert busy.status_code == 409
        assert busy.headers["content-type"].startswith("application/problem+json")
        assert busy.json()["code"] == "call_box_busy"
        assert busy.json()["detail"] == "ตู้ SOS-S1 กำลังสนทนาอยู่กับ op_one"
        listed = (await http.get("/api/v1/calls", params={"state": "active"},
                                 headers=other["headers"])).json()
        assert listed["count"] == 1 and listed["data"][0]["operator"] == "op_one"

        # Only the caller, a supervisor or an admin may hang up through the REST route.
        third = await make_user(Role.operator)
        end = f"/api/v1/calls/{call_id}/end"
        assert (await http.post(end, headers=third["headers"])).status_code == 403
        ended = await http.post(end, headers=other["headers"], json={"reason": "operator_hangup"})
        assert ended.status_code == 200 and ended.json()["state"] == "ended"
        again = await http.post(end, headers=other["headers"])
        assert again.json()["ended_at"] == ended.json()["ended_at"]  # once only
        assert (await start(http, alarm_id, operator["headers"])).status_code == 201


async def test_alarms_whose_box_cannot_be_called(
    server: LiveServer, app_settings: Settings, db: Database, make_user: UserFactory,
) -> None:
    operator = await make_user(Role.operator)
    async with db.write() as session:
        alarm = Alarm(event_id=str(uuid.uuid4()), kind="power_area", box_id=None)
        session.add(alarm)
        await session.flush()
        no_box = alarm.id
    offline = await sos_alarm(db, app_settings, "SOS-OFF")
    disabled = await sos_alarm(db, app_settings, "SOS-DIS")
    async with db.write() as session:
        for alarm_id, column, value in ((offline, "status", "offline"),
                                        (disabled, "enabled", False)):
            alarm = await session.get(Alarm, alarm_id)
            box = await session.get(SosBox, alarm.box_id)
            setattr(box, column, value)
    async with httpx.AsyncClient(base_url=server.url) as http:
        codes = [(await start(http, alarm_id, operator["headers"])).json()
                 for alarm_id in (no_box, offline, disabled)]
    assert [(c["status"], c["code"]) for c in codes] == [
        (409, "call_no_box"), (409, "call_box_offline"), (409, "call_box_disabled")]
    assert codes[1]["detail"] == "ตู้ SOS-OFF ออฟไลน์อยู่ จึงโทรหาไม่ได้"


async def test_signalling_refuses_what_does_not_belong(
    server: LiveServer, app_settings: Settings, db: Database, make_user: UserFactory,
) -> None:
    alarm_id = await sos_alarm(db, app_settings, "SOS-S2")
    secret = await provision(db, app_settings, "SOS-S2")
    async with db.write() as session:
        await add_box(session, "SOS-S3")
    other_secret = await provision(db, app_settings, "SOS-S3")
    operator = await make_user(Role.operator)
    colleague = await make_user(Role.operator)
    calls = server_state(server).calls
    async with httpx.AsyncClient(base_url=server.url) as http:
        call_id = (await start(http, alarm_id, operator["headers"])).json()["call"]["id"]
    url = ws_url(server, f"/api/v1/calls/{call_id}/signal")
    assert await refusal(ws_url(server, "/api/v1/calls/no-such-call/signal"),
                         operator["headers"]) == (4404, "call_not_found")
    assert await refusal(url, colleague["headers"]) == (4403, "call_not_yours")
    assert await refusal(url, {}) == (4401, "unauthenticated")
    pc, offer = await real_offer()
    try:
        async with (
            raw_box(server, "SOS-S2", secret) as box,
            raw_box(server, "SOS-S3", other_secret) as stranger,
            connect(url, additional_headers={**operator["headers"],
                                             "Accept-Language": "en"}) as ws,
        ):
            ready = await next_message(ws)
            assert ready["type"] == "ready"
            servers_for(f"op{operator['id']}", ready["ice_servers"])
            assert await refusal(url, operator["headers"]) == (4409, "call_taken")

            async def refused(message: Any) -> dict[str, Any]:
                await ws.send(message if isinstance(message, str) else json.dumps(message))
                reply = await next_message(ws)
                assert reply["type"] == "error", reply
                return reply

            assert (await refused({"type": "ice", "candidate": None}))["code"] == \
                "call_signal_out_of_order"
            bad = await refused({"type": "offer", "sdp": "hello"})
            assert (bad["code"], bad["reason"]) == ("call_bad_sdp", "not_sdp")
            assert bad["detail"] == "The media description (SDP) is not usable: not_sdp."
            no_dtls = "\r\n".join(line for line in offer.split("\r\n")
                                  if not line.startswith("a=fingerprint"))
            assert (await refused({"type": "offer", "sdp": no_dtls}))["reason"] == "no_dtls"
            plain = offer.replace("UDP/TLS/RTP/SAVPF", "RTP/AVP")
            assert (await refused({"type": "offer", "sdp": plain}))["reason"] == "unencrypted"
            assert (await refused("not json"))["code"] == "call_unknown_message"
            assert (await refused({"type": "connected"}))["code"] == "call_signal_out_of_order"

            # A good offer reaches the box with the ICE servers; the call goes on.
            await ws.send(json.dumps({"type": "offer", "sdp": offer}))
            command = await box.command()
            assert command["type"] == "call_offer" and command["call_id"] == call_id
            assert command["sdp"] == offer
            servers_for("SOS-S2", command["ice_servers"])
            bad_ice = await refused({"type": "ice", "candidate": {"candidate": "x"}})
            assert bad_ice["code"] == "call_bad_candidate"
            candidate = {"candidate": "candidate:1 1 udp 2122260223 10.0.0.5 50000 typ host",
                         "sdpMid": "0", "sdpMLineIndex": 0}
            await ws.send(json.dumps({"type": "ice", "candidate": candidate}))
            assert (await box.command())["candidate"] == candidate

            # Another box answering for this call, and an answer for no call: counted, ignored.
            await stranger.signal("call_answer", call_id, sdp=offer)
            await box.signal("call_answer", str(uuid.uuid4()), sdp=offer)
            await until(lambda: calls.stats["wrong_box"] == 1 and calls.stats["unknown_call"] == 1)
            # The box trickles a candidate to the console.
            await box.signal("call_ice", call_id, candidate=candidate)
            assert await next_message(ws) == {"type": "ice", "candidate": candidate}
            # An answer that is no SDP ends the call: the console and the box are told.
            await box.signal("call_answer", call_id, sdp="v=0\r\nnonsense")
            ended = await next_message(ws)
            assert ended["type"] == "ended" and ended["reason"] == "bad_answer"
            assert ended["call"]["state"] == "ended" and ended["duration_s"] is None
            end = await box.command()
            assert (end["type"], end["call_id"], end["reason"]) == ("call_end", call_id,
                                                                   "bad_answer")
            with pytest.raises(ConnectionClosed):
                await next_message(ws)
            assert calls.stats["bad_answer"] == 1
            assert ws.close_code == 1000
    finally:
        await pc.close()


async def test_unanswered_then_connected_calls_are_recorded(
    server: LiveServer, app_settings: Settings, db: Database, make_user: UserFactory,
) -> None:
    alarm_id = await sos_alarm(db, app_settings, "SOS-S4")
    secret = await provision(db, app_settings, "SOS-S4")
    operator = await make_user(Role.operator, username="op_rec")
    peers: list[RTCPeerConnection] = []
    try:
        async with raw_box(server, "SOS-S4", secret) as box, \
                httpx.AsyncClient(base_url=server.url) as http:
            # 1. The box never answers: after call_answer_timeout_s the call ends, both told.
            call_id = (await start(http, alarm_id, operator["headers"])).json()["call"]["id"]
            url = ws_url(server, f"/api/v1/calls/{call_id}/signal")
            pc, offer = await real_offer()
            peers.append(pc)
            async with connect(url, additional_headers=operator["headers"]) as ws:
                await next_message(ws)
                await ws.send(json.dumps({"type": "offer", "sdp": offer}))
                assert (await box.command())["type"] == "call_offer"
                ended = await next_message(ws, within=10)
                assert (ended["type"], ended["reason"]) == ("ended", "no_answer")
                assert (await box.command())["type"] == "call_end"

            # 2. Answered and connected; the console's socket then drops: operator_left.
            call_id = (await start(http, alarm_id, operator["headers"])).json()["call"]["id"]
            url = ws_url(server, f"/api/v1/calls/{call_id}/signal")
            pc, offer = await real_offer()
            peers.append(pc)
            async with connect(url, additional_headers=operator["headers"]) as ws:
                await next_message(ws)
                await ws.send(json.dumps({"type": "offer", "sdp": offer}))
                command = await box.command()
                answerer, answer = await real_answer(command["sdp"])
                peers.append(answerer)
                await box.signal("call_answer", call_id, sdp=answer)
                assert await next_message(ws) == {"type": "answer", "sdp": answer}
                await ws.send(json.dumps({"type": "connected"}))
                connected = await next_message(ws)
                assert connected["type"] == "connected"
                assert connected["call"]["state"] == "connected"
                await asyncio.sleep(0.3)  # a call with a length
            end = await box.command()
            assert (end["type"], end["reason"]) == ("call_end", "operator_left")
    finally:
        for peer in peers:
            await peer.close()

    async def ended() -> bool:
        async with db.session() as session:
            call = await session.get(Call, call_id)
            return call is not None and call.ended_at is not None

    await until(ended)
    async with db.session() as session:
        calls = list(await session.scalars(
            select(Call).where(Call.alarm_id == alarm_id).order_by(Call.requested_at)))
        events = list(await session.scalars(
            select(IncidentEvent).where(IncidentEvent.incident_id == calls[0].incident_id,
                                        IncidentEvent.kind.like("call_%"))
            .order_by(IncidentEvent.id)))
    first, second = calls
    assert (first.end_reason, first.connected_at, first.duration_s) == ("no_answer", None, None)
    assert second.end_reason == "operator_left" and second.duration_s is not None
    assert second.duration_s >= 0.3
    assert [(e.kind, e.data.get("call_id")) for e in events] == [
        ("call_ended", first.id), ("call_started", second.id), ("call_ended", second.id)]
    assert events[0].data["connected"] is False and events[0].actor == "system"
    assert events[2].data["duration_s"] == second.duration_s and events[2].actor == "op_rec"


async def test_a_call_nobody_carries_is_ended_as_lost(
    server: LiveServer, app_settings: Settings, db: Database, make_user: UserFactory,
) -> None:
    """A process that carried a call died: the call stops being refreshed and is ended, so the
    box can be called again (at once when someone calls it, or by the periodic sweep)."""
    alarm_id = await sos_alarm(db, app_settings, "SOS-S5")
    operator = await make_user(Role.operator)
    long_ago = utcnow() - timedelta(minutes=5)
    async with db.write() as session:
        alarm = await session.get(Alarm, alarm_id)
        box_id = alarm.box_id
        session.add(Call(id=str(uuid.uuid4()), alarm_id=alarm_id, box_id=box_id,
                         incident_id=alarm.incident_id, operator_id=operator["id"],
                         requested_at=long_ago, connected_at=long_ago + timedelta(seconds=3),
                         alive_at=long_ago + timedelta(seconds=63)))
    async with httpx.AsyncClient(base_url=server.url) as http:
        response = await start(http, alarm_id, operator["headers"])
    assert response.status_code == 201, response.text
    async with db.session() as session:
        lost = await session.scalar(select(Call).where(Call.end_reason == "lost"))
    assert lost is not None and lost.duration_s == 60.0  # up to its last sign of life

    # The periodic sweep does the same without waiting for a caller.
    async with db.write() as session:
        session.add(Call(id=str(uuid.uuid4()), alarm_id=None, box_id=None,
                         operator_id=operator["id"], requested_at=long_ago, alive_at=long_ago))
    # (A service of this test's own: the server's runs on its own thread and event loop.)
    await CallService(db=db, settings=app_settings).sweep()
    async with db.session() as session:
        ended = list(await session.scalars(select(Call).where(Call.end_reason == "lost")))
    assert len(ended) == 2
