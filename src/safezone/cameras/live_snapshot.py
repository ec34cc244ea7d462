"""A camera's latest picture as JPEG: the health monitor's snapshot when it is fresh, else one
frame grabbed from the camera now (PyAV: open, decode the first key frame, encode MJPEG).

Grabs of the same camera are coalesced (one connection however many people ask at once) and
the result is reused for a couple of seconds, so a wall of snapshots cannot flood a camera.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av
import av.error

from safezone.cameras.frame_check import snapshot_path
from safezone.cameras.live import INPUT_OPTIONS
from safezone.settings import Settings

# Reuse a grabbed frame this long: enough to absorb a burst of requests, short enough to be
# "the latest frame" for a person looking at it.
GRAB_REUSE_S = 2.0
_MAX_PACKETS = 900  # give up when no decodable key frame arrives in ~a minute of 15 fps video


class SnapshotError(Exception):
    """No picture could be had; ``reason`` is a short code (offline, unauthorized, no_video)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Snapshot:
    jpeg: bytes
    taken_at: float  # Unix time
    source: str  # "monitor" (health monitor's file) | "camera" (grabbed now)


def _encode_jpeg(frame: Any) -> bytes:
    encoder = av.CodecContext.create("mjpeg", "w")
    encoder.width, encoder.height = frame.width, frame.height
    encoder.pix_fmt = "yuvj420p"
    encoder.time_base = Fraction(1, 1)
    # qscale 2..4 of 31: a clear picture at a few tens of kB for 640×360.
    encoder.options = {"qmin": "2", "qmax": "4"}
    picture = frame.reformat(format="yuvj420p")
    picture.pts = None
    packets = [*encoder.encode(picture), *encoder.encode(None)]
    return b"".join(bytes(p) for p in packets)


def grab_jpeg(url: str, *, timeout_s: float = 10.0) -> bytes:
    """Open ``url``, decode the first key frame and return it as JPEG (blocking; run in a
    thread). ``url`` may carry credentials: it never appears in the error raised."""
    options = dict(INPUT_OPTIONS) if url.startswith("rtsp") else {}
    try:
        container = av.open(url, options=options, timeout=(timeout_s, timeout_s))
    except av.error.HTTPUnauthorizedError:
        raise SnapshotError("unauthorized") from None
    except av.error.FFmpegError:
        raise SnapshotError("offline") from None
    try:
        if not container.streams.video:
            raise SnapshotError("no_video")
        stream = container.streams.video[0]
        decoder = stream.codec_context
        for count, packet in enumerate(container.demux(stream)):
            if count >= _MAX_PACKETS:
                break
            if packet.size == 0 or not packet.is_keyframe:
                continue
            frames = [*decoder.decode(packet), *decoder.decode(None)]
            if frames:
                return _encode_jpeg(frames[0])
        raise SnapshotError("no_video")
    except av.error.FFmpegError:
        raise SnapshotError("offline") from None
    finally:
        container.close()


class SnapshotGrabber:
    """Serves snapshots: the monitor's file if fresh, else a coalesced, briefly cached grab."""

    def __init__(self, settings: Settings, *, max_age_s: float) -> None:
        self.settings = settings
        self.max_age_s = max_age_s
        self._locks: dict[int, asyncio.Lock] = {}
        self._recent: dict[int, Snapshot] = {}
        self.grabs = 0

    def _monitor_file(self, camera_id: int) -> Snapshot | None:
        path = snapshot_path(self.settings, camera_id)
        try:
            mtime = path.stat().st_mtime
            if time.time() - mtime > self.max_age_s:
                return None
            data = path.read_bytes()
        except OSError:
            return None
        # A file being rewritten can be caught half-written: serve only a whole JPEG.
        if not (data.startswith(b"\xff\xd8") and data.endswith(b"\xff\xd9")):
            return None
        return Snapshot(data, mtime, "monitor")

    async def latest(self, camera_id: int, url: str) -> Snapshot:
        """The latest picture of the camera (raises ``SnapshotError`` when none can be had)."""
        if (found := self._monitor_file(camera_id)) is not None:
            return found
        lock = self._locks.setdefault(camera_id, asyncio.Lock())
        async with lock:
            recent = self._recent.get(camera_id)
            if recent is not None and time.time() - recent.taken_at < GRAB_REUSE_S:
                return recent
            self.grabs += 1
            jpeg = await asyncio.to_thread(grab_jpeg, url)
            snap = Snapshot(jpeg, time.time(), "camera")
            self._recent[camera_id] = snap
            return snap
