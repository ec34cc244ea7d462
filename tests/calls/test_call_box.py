"""The box's side of a call: the real agent (``WebRtcCalls``, aiortc) on Mosquitto, signalled by
hand as the server would, with an aiortc peer in the operator's place. Media is counted at both
ends; bad offers, a second offer, a call that never connects and an agent that stops all end
with ``call_end`` and a reason the server records."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiomqtt
import av
import numpy as np
import pytest
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from safezone.box.agent import BoxAgent
from safezone.box.audio import SYSTEM_ALSA_CONFIG
from safezone.box.call import WebRtcCalls
from safezone.box.call_media import AudioSink, PatternTrack, ToneTrack, draw_text, open_camera
from safezone.sos.protocol import COMMANDS
from tests.calls.conftest import agent_config, running, until
from tests.fixtures.rtsp import RtspServer


class Server:
    """The server's part, by hand: sends ``cmd`` to the box, reads its ``call`` topic."""

    def __init__(self, client: aiomqtt.Client, root: str, code: str) -> None:
        self.client, self.root, self.code = client, root, code
        self.messages = aiter(client.messages)

    async def command(self, type: str, call_id: str, **fields: Any) -> None:
        body = {"type": type, "call_id": call_id, "cmd_id": str(uuid.uuid4()),
                "time": datetime.now(UTC), **fields}
        await self.client.publish(f"{self.root}/box/{self.code}/cmd",
                                  COMMANDS.validate_python(body).encode(), qos=1)

    async def signal(self, within: float = 10.0) -> dict[str, Any]:
        message = await asyncio.wait_for(anext(self.messages), within)
        body: dict[str, Any] = json.loads(message.payload)  # type: ignore[arg-type]
        return body


@asynccontextmanager
async def box_and_server(
    mosquitto_url: str, topic_root: str, tmp: Path, **handler: Any
) -> AsyncIterator[tuple[BoxAgent, WebRtcCalls, Server]]:
    code = "SOS-AGENT"
    agent = BoxAgent(agent_config(code, "anonymous-ok", broker=mosquitto_url,
                                  topic_root=topic_root, tmp=tmp), console=lambda line: None)
    if handler:
        agent.call_handler = WebRtcCalls(video_size="320x240", **handler)
    calls = agent.call_handler
    assert isinstance(calls, WebRtcCalls)
    host, port = mosquitto_url.removeprefix("mqtt://").split(":")
    client = aiomqtt.Client(host, int(port), identifier=f"server-{uuid.uuid4().hex[:10]}")
    async with client:
        await client.subscribe(f"{topic_root}/box/{code}/call", qos=1)
        async with running(agent):
            yield agent, calls, Server(client, topic_root, code)


class Operator:
    """The operator's end: receive-only video, a 1 kHz tone as the voice; counts what comes."""

    def __init__(self) -> None:
        self.pc = RTCPeerConnection()
        self.pc.addTransceiver("video", direction="recvonly")
        self.pc.addTrack(ToneTrack(frequency=1000.0))
        self.video_frames: list[av.VideoFrame] = []
        self.heard = AudioSink()
        self.tasks: list[asyncio.Task[None]] = []
        self.pc.on("track", self._on_track)

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "video":
            self.tasks.append(asyncio.ensure_future(self._video(track)))
        else:
            self.tasks.append(asyncio.ensure_future(self.heard.consume(track)))

    async def _video(self, track: MediaStreamTrack) -> None:
        try:
            while True:
                frame = await track.recv()
                assert isinstance(frame, av.VideoFrame)
                self.video_frames.append(frame)
        except MediaStreamError:
            return

    async def offer(self) -> str:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return str(self.pc.localDescription.sdp)

    async def close(self) -> None:
        await self.pc.close()
        for task in self.tasks:
            task.cancel()


def split_candidates(sdp: str) -> tuple[str, list[dict[str, Any]]]:
    """The SDP without its candidates, and those candidates as a browser would trickle them."""
    kept, candidates, index = [], [], -1
    for line in sdp.split("\r\n"):
        if line.startswith("m="):
            index += 1
        if line.startswith("a=candidate:"):
            candidates.append({"candidate": line[2:], "sdpMid": str(index),
                               "sdpMLineIndex": index})
        elif line != "a=end-of-candidates":
            kept.append(line)
    return "\r\n".join(kept), candidates


async def test_box_sends_camera_and_voice_and_hears_the_operator(
    mosquitto_url: str, topic_root: str, call_network: str, tmp_path: Path,
) -> None:
    operator = Operator()
    try:
        async with box_and_server(mosquitto_url, topic_root, tmp_path) as (_agent, calls, server):
            offer, candidates = split_candidates(await operator.offer())
            assert candidates, "no local candidates: see call_network"
            # Trickled candidates may arrive before their offer: the box keeps them.
            for candidate in candidates:
                await server.command("call_ice", "c-1", candidate=candidate)
            await server.command("call_ice", "c-1")  # end of candidates
            await server.command("call_offer", "c-1", sdp=offer, ice_servers=[])
            answer = await server.signal()
            assert (answer["type"], answer["call_id"], answer["box_id"]) == (
                "call_answer", "c-1", "SOS-AGENT")
            assert "a=candidate:" in answer["sdp"]  # gathered before answering: no trickle
            await operator.pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
            record = calls.record("c-1")
            assert record is not None
            await until(lambda: record.connected_at is not None, what="connected")
            await until(lambda: len(operator.video_frames) > 20
                        and operator.heard.counts.loud_frames > 5
                        and record.sink.counts.loud_frames > 5, within=15, what="media")

            # The picture is the live test pattern: the bar moves, the label is drawn.
            first, last = (f.to_ndarray(format="rgb24") for f in
                           (operator.video_frames[0], operator.video_frames[-1]))
            assert first.shape == (240, 320, 3)
            assert np.abs(first.astype(int) - last.astype(int)).mean() > 1.0
            assert first[4:14, 4:40].max() > 200  # white glyphs of "SOS-AGENT"
            assert record.video_frames_sent >= len(operator.video_frames)

            await server.command("call_end", "c-1", reason="operator_hangup")
            await until(lambda: record.end_reason is not None, what="hang-up")
            assert record.end_reason == "operator_hangup" and record.duration_s
            assert calls.calls == {}
    finally:
        await operator.close()


@pytest.mark.skipif(not SYSTEM_ALSA_CONFIG.is_file(), reason="no system ALSA configuration")
async def test_a_box_with_alsa_microphone_and_speaker(
    mosquitto_url: str, topic_root: str, call_network: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The configured devices carry the call: the caller's voice is captured from ALSA and the
    operator's is played to ALSA (its ``null`` device: no sound card needed)."""
    monkeypatch.delenv("ALSA_CONFIG_PATH", raising=False)
    operator = Operator()
    try:
        async with box_and_server(mosquitto_url, topic_root, tmp_path, microphone="null",
                                  speaker="null") as (_agent, calls, server):
            await server.command("call_offer", "c-alsa", sdp=await operator.offer(),
                                 ice_servers=[])
            answer = await server.signal()
            assert answer["type"] == "call_answer"
            await operator.pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
            record = calls.record("c-alsa")
            assert record is not None
            await until(lambda: record.connected_at is not None, what="connected")
            await until(lambda: operator.heard.counts.frames > 50
                        and record.sink.counts.played_samples > 48_000, within=15,
                        what="ALSA capture at the operator, operator's voice on the speaker")
            call = calls.calls["c-alsa"]
            assert not any(isinstance(track, ToneTrack) for track in call.tracks), \
                "the box sent the generated tone, not its microphone"
            await server.command("call_end", "c-alsa", reason="operator_hangup")
            await until(lambda: record.end_reason is not None, what="hang-up")
    finally:
        await operator.close()


async def test_bad_second_and_unconnected_offers_end_with_a_reason(
    mosquitto_url: str, topic_root: str, call_network: str, tmp_path: Path,
) -> None:
    operators = [Operator(), Operator()]
    try:
        async with box_and_server(mosquitto_url, topic_root, tmp_path,
                                  connect_timeout_s=1.0) as (_agent, calls, server):
            await server.command("call_offer", "bad", sdp="v=0\r\nnot really")
            assert await server.signal() == {"v": 1, "box_id": "SOS-AGENT", "type": "call_end",
                                             "call_id": "bad", "reason": "bad_offer"}
            # A second offer replaces the first call (the server has given that one up).
            await server.command("call_offer", "one", sdp=await operators[0].offer())
            assert (await server.signal())["type"] == "call_answer"
            await server.command("call_offer", "two", sdp=await operators[1].offer())
            ended = await server.signal()
            assert (ended["type"], ended["call_id"], ended["reason"]) == (
                "call_end", "one", "superseded")
            assert (await server.signal())["type"] == "call_answer"
            # Nobody applies that answer: the call never connects and the box gives up.
            ended = await server.signal()
            assert (ended["type"], ended["call_id"], ended["reason"]) == (
                "call_end", "two", "connect_timeout")
            assert calls.calls == {}
            assert [r.end_reason for r in calls.history] == [
                "bad_offer", "superseded", "connect_timeout"]
    finally:
        for operator in operators:
            await operator.close()


async def test_a_stopping_box_hangs_up_first(
    mosquitto_url: str, topic_root: str, call_network: str, tmp_path: Path,
) -> None:
    operator = Operator()
    try:
        async with box_and_server(mosquitto_url, topic_root, tmp_path) as (agent, _calls, server):
            await server.command("call_offer", "c-stop", sdp=await operator.offer())
            answer = await server.signal()
            await operator.pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
            agent.stop()
            ended = await server.signal()
            assert (ended["type"], ended["reason"]) == ("call_end", "box_stopping")
    finally:
        await operator.close()


async def test_pattern_and_tone_are_live_media() -> None:
    pattern = PatternTrack("SOS-1", width=160, height=90, fps=30.0, note="NO CAMERA")
    frames = [await pattern.recv() for _ in range(3)]
    assert [f.pts for f in frames] == [0, 3000, 6000]  # 90 kHz clock at 30 fps
    images = [f.to_ndarray(format="rgb24") for f in frames]
    assert images[0].shape == (90, 160, 3)
    assert not np.array_equal(images[0], images[2])  # the bar has moved
    pattern.stop()
    with pytest.raises(MediaStreamError):
        await pattern.recv()

    tone = ToneTrack()
    chunk = await tone.recv()
    samples = chunk.to_ndarray()
    assert (chunk.sample_rate, chunk.samples) == (48_000, 960)
    assert 0.15 * 32767 < np.abs(samples).max() <= 0.2 * 32767  # the beep, not clipping

    canvas = np.zeros((20, 40, 3), dtype=np.uint8)
    draw_text(canvas, "1", 2, 2, 2)
    # "1" is 010/110/010/010/111 in a 3x5 grid: its middle column is lit top to bottom.
    assert canvas[2:12, 4:6].min() == 255 and canvas[2:4, 2:4].max() == 0


async def test_camera_sources(tmp_path: Path) -> None:
    """An RTSP camera is used as it is; one that cannot be opened gives the marked pattern."""
    with RtspServer([{"path": "/cam", "pattern": "ball", "width": 320, "height": 240,
                      "fps": 10}]) as rtsp:
        track, player = await asyncio.to_thread(open_camera, rtsp.url("/cam"), label="B",
                                                size="320x240", fps=10.0)
        assert player is not None
        try:
            frame = await asyncio.wait_for(track.recv(), 15)
            assert isinstance(frame, av.VideoFrame) and (frame.width, frame.height) == (320, 240)
        finally:
            track.stop()
    missing, player = await asyncio.to_thread(open_camera, str(tmp_path / "video9"), label="B",
                                              size="320x240", fps=10.0)
    assert player is None and isinstance(missing, PatternTrack) and missing.note == "NO CAMERA"
