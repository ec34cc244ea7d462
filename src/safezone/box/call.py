"""Two-way calls at the box over WebRTC (aiortc): the operator sees the box camera and talks
with the caller.

The operator's browser makes the offer; it reaches the box as a ``call_offer`` command (through
the server and MQTT, with the STUN/TURN servers to use). The box answers on its ``call`` topic
with ``call_answer``: aiortc gathers all of the box's ICE candidates before it answers, so the
answer carries them and the box never trickles. The browser may trickle its own candidates
(``call_ice``; an empty ``candidate`` string means end-of-candidates); any that arrive before the
offer has been applied are held until it has.

Either side hangs up with ``call_end``. The box also ends a call when ICE/DTLS does not connect
within ``connect_timeout_s``, when the connection fails (the browser went away: ICE consent
lapses after about 30 s), after ``max_s``, and when the agent stops. A new offer while in a
call replaces that call (the server allows one call per box, so a second offer means the server
has already given up the first).

Networking note: aioice leaves loopback addresses (127.0.0.1) out of its host candidates, so a
call needs a non-loopback interface address on the box and on the operator's machine. Any real
box has one (its LAN); see ``docs/protocol/sos-box.md`` for test machines with only loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.contrib.media import MediaPlayer
from aiortc.mediastreams import MediaStreamError
from aiortc.sdp import candidate_from_sdp

from safezone.box.call_media import AudioSink, PatternTrack, open_camera, open_microphone
from safezone.calls.sdp import BadSignal, check_sdp
from safezone.sos.protocol import CallCommand

if TYPE_CHECKING:
    from safezone.box.agent import BoxAgent
    from safezone.box.config import BoxConfig

log = logging.getLogger(__name__)
HISTORY = 20


@dataclass
class CallRecord:
    """One call as the box saw it (kept for the log, the tests and diagnostics)."""

    call_id: str
    offered_at: float = field(default_factory=time.monotonic)
    answered_at: float | None = None
    connected_at: float | None = None
    ended_at: float | None = None
    end_reason: str | None = None
    sink: AudioSink = field(default_factory=AudioSink)
    video_frames_sent: int = 0
    audio_frames_sent: int = 0

    @property
    def duration_s(self) -> float | None:
        if self.connected_at is None or self.ended_at is None:
            return None
        return round(self.ended_at - self.connected_at, 3)


@dataclass
class _Call:
    record: CallRecord
    pc: RTCPeerConnection
    remote_set: bool = False
    answer_sdp: str | None = None
    tracks: list[MediaStreamTrack] = field(default_factory=list)
    players: list[MediaPlayer] = field(default_factory=list)
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    pending_ice: list[dict[str, Any]] = field(default_factory=list)
    ending: bool = False


def _candidate(data: dict[str, Any]) -> Any:
    """An aiortc candidate from the browser's ``RTCIceCandidate.toJSON()``; None: end."""
    text = str(data.get("candidate") or "")
    if not text:
        return None
    candidate = candidate_from_sdp(text.removeprefix("candidate:"))
    candidate.sdpMid = data.get("sdpMid")
    index = data.get("sdpMLineIndex")
    candidate.sdpMLineIndex = index if isinstance(index, int) else None
    return candidate


class WebRtcCalls:
    """The agent's call handler (see ``BoxAgent.call_handler``): one call at a time."""

    def __init__(
        self,
        *,
        camera: str | None = None,
        microphone: str | None = None,
        speaker: str | None = None,
        video_size: str = "640x360",
        video_fps: float = 15.0,
        max_s: float = 1800.0,
        connect_timeout_s: float = 30.0,
    ) -> None:
        self.camera, self.microphone, self.speaker = camera, microphone, speaker
        self.video_size, self.video_fps = video_size, video_fps
        self.max_s, self.connect_timeout_s = max_s, connect_timeout_s
        self.calls: dict[str, _Call] = {}
        self.history: deque[CallRecord] = deque(maxlen=HISTORY)
        # Candidates for a call whose offer has not been seen yet (commands run concurrently).
        self._early_ice: dict[str, list[dict[str, Any]]] = {}

    @classmethod
    def from_config(cls, config: BoxConfig) -> WebRtcCalls:
        """The handler for a box's config (camera, microphone, speaker, limits)."""
        return cls(camera=config.camera, microphone=config.microphone, speaker=config.speaker,
                   video_size=config.video_size, video_fps=config.video_fps,
                   max_s=config.call_max_s)

    def record(self, call_id: str) -> CallRecord | None:
        """The record of a current or recent call."""
        if call_id in self.calls:
            return self.calls[call_id].record
        return next((r for r in self.history if r.call_id == call_id), None)

    # --- commands -------------------------------------------------------------------------------

    async def on_command(self, agent: BoxAgent, command: CallCommand) -> None:
        """Handle ``call_offer``, ``call_ice`` and ``call_end`` from the server."""
        if command.type == "call_offer":
            await self._offer(agent, command)
        elif command.type == "call_ice":
            await self._ice(command)
        elif command.type == "call_end":
            call = self.calls.get(command.call_id)
            if call is not None:
                await self._end(agent, call, command.reason or "operator_hangup", notify=False)
        else:
            log.info("%s: %s is not for a box; ignored", agent.code, command.type)

    async def _offer(self, agent: BoxAgent, command: CallCommand) -> None:
        existing = self.calls.get(command.call_id)
        if existing is not None:
            # The same offer again (QoS 1 may deliver twice): answer again, nothing new.
            if existing.answer_sdp is not None:
                await self._signal(agent, "call_answer", command.call_id, sdp=existing.answer_sdp)
            return
        for other in list(self.calls.values()):
            await self._end(agent, other, "superseded", notify=True)
        try:
            check_sdp(command.sdp)  # aiortc itself takes almost anything
        except BadSignal as exc:
            log.warning("%s: call %s: bad offer (%s)", agent.code, command.call_id, exc.reason)
            refused = CallRecord(command.call_id, end_reason="bad_offer")
            refused.ended_at = refused.offered_at
            self.history.append(refused)
            await self._signal(agent, "call_end", command.call_id, reason="bad_offer")
            return
        assert command.sdp is not None  # noqa: S101 - checked above
        servers = [RTCIceServer(urls=s.urls if isinstance(s.urls, str) else list(s.urls),
                                username=s.username, credential=s.credential)
                   for s in command.ice_servers or []]
        pc = RTCPeerConnection(RTCConfiguration(iceServers=servers or None))
        # The speaker is the sink's before the offer is applied: that fires "track", which
        # starts the sink.
        call = _Call(CallRecord(command.call_id, sink=AudioSink(speaker=self.speaker)), pc)
        call.pending_ice.extend(self._early_ice.pop(command.call_id, []))
        self.calls[command.call_id] = call
        agent.console(f"[{agent.code}] CALL from the command centre")

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind == "audio":
                self._spawn(call, call.record.sink.consume(track))
            else:  # an unread track would queue frames for ever
                self._spawn(call, self._drain(track))

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            state = pc.connectionState
            if state == "connected" and call.record.connected_at is None:
                call.record.connected_at = time.monotonic()
                agent.console(f"[{agent.code}] CALL connected")
            elif state in ("failed", "closed") and not call.ending:
                await self._end(agent, call, f"connection_{state}", notify=True)

        try:
            await pc.setRemoteDescription(RTCSessionDescription(command.sdp, "offer"))
        except Exception as exc:  # noqa: BLE001 - whatever aiortc makes of a bad offer
            log.warning("%s: call %s: bad offer: %s", agent.code, command.call_id, exc)
            await self._end(agent, call, "bad_offer", notify=True)
            return
        call.remote_set = True
        try:
            await self._add_media(agent, call)
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception as exc:  # noqa: BLE001 - a device failing must end only this call
            log.exception("%s: call %s: media setup failed", agent.code, command.call_id)
            await self._end(agent, call, f"media_error: {exc}"[:200], notify=True)
            return
        if call.ending:
            return
        for candidate in call.pending_ice:
            await self._add_candidate(call, candidate)
        call.pending_ice.clear()
        call.answer_sdp = pc.localDescription.sdp
        call.record.answered_at = time.monotonic()
        await self._signal(agent, "call_answer", command.call_id, sdp=call.answer_sdp)
        self._spawn(call, self._limits(agent, call))

    async def _add_media(self, agent: BoxAgent, call: _Call) -> None:
        kinds = {t.kind for t in call.pc.getTransceivers()}
        if "video" in kinds:
            video, player = await asyncio.to_thread(
                open_camera, self.camera, label=agent.code, size=self.video_size,
                fps=self.video_fps)
            call.tracks.append(video)
            if player is not None:
                call.players.append(player)
            call.pc.addTrack(_Counted(video, call.record, "video"))
        if "audio" in kinds:
            audio, player = await asyncio.to_thread(open_microphone, self.microphone)
            call.tracks.append(audio)
            if player is not None:
                call.players.append(player)
            call.pc.addTrack(_Counted(audio, call.record, "audio"))

    async def _ice(self, command: CallCommand) -> None:
        data = command.candidate or {"candidate": ""}
        call = self.calls.get(command.call_id)
        if call is None:
            early = self._early_ice.setdefault(command.call_id, [])
            if len(early) < 50 and len(self._early_ice) < 8:
                early.append(data)
            return
        if not call.remote_set or call.answer_sdp is None:
            call.pending_ice.append(data)
            return
        await self._add_candidate(call, data)

    async def _add_candidate(self, call: _Call, data: dict[str, Any]) -> None:
        try:
            await call.pc.addIceCandidate(_candidate(data))
        except Exception as exc:  # noqa: BLE001 - one bad candidate must not end the call
            log.info("call %s: candidate ignored: %s", call.record.call_id, exc)

    async def _limits(self, agent: BoxAgent, call: _Call) -> None:
        """End the call if it never connects, or when it has gone on too long."""
        await asyncio.sleep(self.connect_timeout_s)
        if call.record.connected_at is None:
            await self._end(agent, call, "connect_timeout", notify=True)
            return
        left = self.max_s - (time.monotonic() - call.record.connected_at)
        await asyncio.sleep(max(0.0, left))
        await self._end(agent, call, "max_duration", notify=True)

    # --- ending ---------------------------------------------------------------------------------

    async def _end(self, agent: BoxAgent, call: _Call, reason: str, *, notify: bool) -> None:
        if call.ending:
            return
        call.ending = True
        record = call.record
        record.ended_at, record.end_reason = time.monotonic(), reason
        self.calls.pop(record.call_id, None)
        self.history.append(record)
        if notify:
            await self._signal(agent, "call_end", record.call_id, reason=reason)
        current = asyncio.current_task()
        for task in list(call.tasks):
            if task is not current:
                task.cancel()
        for track in call.tracks:
            track.stop()
        with contextlib.suppress(Exception):
            await call.pc.close()
        counts = record.sink.counts
        log.info("%s: call %s ended (%s) after %s s: heard %d audio frames (%d samples, %d "
                 "played), sent %d video and %d audio frames", agent.code, record.call_id, reason,
                 record.duration_s, counts.frames, counts.samples, counts.played_samples,
                 record.video_frames_sent, record.audio_frames_sent)
        agent.console(f"[{agent.code}] CALL ended ({reason})")

    async def close(self, agent: BoxAgent) -> None:
        """Hang up every call (the agent is stopping)."""
        for call in list(self.calls.values()):
            await self._end(agent, call, "box_stopping", notify=True)

    # --- helpers --------------------------------------------------------------------------------

    async def _signal(self, agent: BoxAgent, type: str, call_id: str, **fields: Any) -> None:
        try:
            await agent.send_call_signal(type, call_id, **fields)
        except Exception as exc:  # noqa: BLE001 - not connected: the server times the call out
            log.warning("%s: %s for call %s not sent: %s", agent.code, type, call_id, exc)

    @staticmethod
    async def _drain(track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                await track.recv()

    @staticmethod
    def _spawn(call: _Call, job: Any) -> None:
        task = asyncio.ensure_future(job)
        call.tasks.add(task)
        task.add_done_callback(call.tasks.discard)


class _Counted(MediaStreamTrack):
    """Passes a source's frames on to the sender, counting them for the call's record."""

    def __init__(self, source: MediaStreamTrack, record: CallRecord, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self.source = source
        self.record = record

    async def recv(self) -> Any:
        frame = await self.source.recv()
        if self.kind == "video":
            self.record.video_frames_sent += 1
        else:
            self.record.audio_frames_sent += 1
        return frame

    def stop(self) -> None:
        super().stop()
        self.source.stop()


__all__ = ["CallRecord", "PatternTrack", "WebRtcCalls"]
