"""The periodic one-frame check: decode one picture, refresh the snapshot, look for tamper.

PyAV opens the stream with ``analyzeduration=0, probesize=32`` (≈0.2–0.5 s to the first
picture instead of ≈3 s), in a worker thread, with a small cap on decodes at once: decoding is
the one expensive thing the health monitor does. Files, written atomically (temp + rename) so a
reader never sees half a JPEG:

* ``data_dir/snapshots/<camera_id>.jpg``      the latest picture (served by the snapshot route);
* ``data_dir/snapshots/<camera_id>.ref.jpg``  the reference view that tamper is judged against.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.error
import numpy as np

from safezone.cameras import tamper
from safezone.settings import Settings

MAX_SNAPSHOT_WIDTH = 1280  # bigger pictures are scaled down: a snapshot is for recognising
_MAX_PACKETS = 600  # ~40 s of 15 fps video without one decodable picture: give up
RETRY_PAUSE_S = 0.5
# Two pictures less than this apart may rightly be identical (a camera's clock overlay ticks
# once a second), so only pictures at least this far apart are compared for ``frozen``.
FROZEN_GAP_S = 1.0


class FrameError(Exception):
    """No picture: ``reason`` is offline | unauthorized | no_video (safe to show)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Picture:
    """One decoded picture: a JPEG for people, a small grayscale for the tamper checks."""

    jpeg: bytes
    gray: tamper.Gray
    width: int
    height: int


@dataclass(frozen=True)
class FrameCheck:
    """What one check found. ``reason`` is set when no picture could be had."""

    tamper: tamper.Tamper | None = None
    reason: str | None = None
    detail: str | None = None
    reference_set: bool = False
    width: int | None = None
    height: int | None = None


def snapshot_path(settings: Settings, camera_id: int) -> Path:
    """The camera's latest snapshot (JPEG)."""
    return settings.data_dir / "snapshots" / f"{camera_id}.jpg"


def reference_path(settings: Settings, camera_id: int) -> Path:
    """The camera's reference view for tamper detection (JPEG)."""
    return settings.data_dir / "snapshots" / f"{camera_id}.ref.jpg"


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` so that readers see the old file or the new one, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def encode_jpeg(frame: Any) -> bytes:
    """One video frame as a JPEG (PyAV's MJPEG encoder; no imaging library needed)."""
    if frame.width > MAX_SNAPSHOT_WIDTH:
        height = round(frame.height * MAX_SNAPSHOT_WIDTH / frame.width / 2) * 2
        frame = frame.reformat(width=MAX_SNAPSHOT_WIDTH, height=height)
    encoder = av.CodecContext.create("mjpeg", "w")
    encoder.width, encoder.height = frame.width, frame.height
    encoder.pix_fmt = "yuvj420p"
    encoder.time_base = Fraction(1, 1)
    encoder.options = {"qmin": "2", "qmax": "5"}
    picture = frame.reformat(format="yuvj420p")
    picture.pts = None
    return b"".join(bytes(p) for p in [*encoder.encode(picture), *encoder.encode(None)])


def small_gray(frame: Any) -> tamper.Gray:
    """The frame at the tamper checks' size, full-range grayscale."""
    gray: tamper.Gray = frame.reformat(
        width=tamper.WIDTH, height=tamper.HEIGHT, format="gray"
    ).to_ndarray()
    return np.ascontiguousarray(gray, dtype=np.uint8)


def grab_picture(url: str, *, timeout_s: float) -> Picture:
    """Open ``url`` (credentials may be in it: they never appear in errors), decode the first
    picture. Blocking: run it in a thread."""
    options = {"rtsp_transport": "tcp", "analyzeduration": "0", "probesize": "32"}
    if url.startswith("rtsp"):
        # Socket I/O timeout of FFmpeg's RTSP demuxer, in microseconds.
        options["timeout"] = str(int(timeout_s * 1_000_000))
    else:
        del options["rtsp_transport"]
    try:
        container = av.open(url, options=options, timeout=(timeout_s, timeout_s))
    except av.error.HTTPUnauthorizedError:
        raise FrameError("unauthorized", "the camera refused our credentials") from None
    except av.error.FFmpegError as exc:
        raise FrameError("offline", f"cannot open the stream ({exc.strerror})") from None
    try:
        if not container.streams.video:
            raise FrameError("no_video", "the stream has no video")
        stream = container.streams.video[0]
        for count, packet in enumerate(container.demux(stream)):
            if count >= _MAX_PACKETS:
                break
            for frame in packet.decode():
                return Picture(encode_jpeg(frame), small_gray(frame), frame.width, frame.height)
        raise FrameError("no_video", "no picture could be decoded")
    except av.error.FFmpegError as exc:
        raise FrameError("no_video", f"decoding failed ({exc.strerror})") from None
    finally:
        container.close()


def load_gray(path: Path) -> tamper.Gray | None:
    """A stored JPEG at the tamper checks' size (None if missing or unreadable)."""
    try:
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                return small_gray(frame)
    except (av.error.FFmpegError, OSError):
        return None
    return None


class FrameChecker:
    """Runs frame checks (at most ``max_in_flight`` decodes at once) and remembers, per camera,
    the previous picture (for ``frozen``) and the reference (cached by file time)."""

    def __init__(
        self,
        settings: Settings,
        *,
        max_in_flight: int,
        timeout_s: float,
        frozen_gap_s: float = FROZEN_GAP_S,
    ) -> None:
        self.settings = settings
        self.timeout_s = timeout_s
        self.frozen_gap_s = frozen_gap_s
        self._slots = asyncio.Semaphore(max_in_flight)
        self._previous: dict[int, tuple[float, tamper.Gray]] = {}
        self._reference: dict[int, tuple[float, tamper.Gray | None]] = {}
        self._running: set[asyncio.Future[FrameCheck]] = set()

    def forget(self, camera_id: int) -> None:
        """Drop the previous picture (after an outage a repeat is not a frozen picture)."""
        self._previous.pop(camera_id, None)

    def _reference_gray(self, camera_id: int) -> tamper.Gray | None:
        path = reference_path(self.settings, camera_id)
        try:
            mtime = path.stat().st_mtime
        except OSError:
            self._reference.pop(camera_id, None)
            return None
        cached = self._reference.get(camera_id)
        if cached is None or cached[0] != mtime:
            cached = (mtime, load_gray(path))
            self._reference[camera_id] = cached
        return cached[1]

    def _grab_any(self, urls: list[str]) -> Picture | FrameError:
        """The first picture any of ``urls`` gives; one more round after a short pause when
        none does: cameras and NVRs refuse a session now and then (503 while another client's
        session is being torn down) although the stream is fine."""
        error: FrameError | None = None
        for attempt in range(2):
            for url in urls:
                try:
                    return grab_picture(url, timeout_s=self.timeout_s)
                except FrameError as exc:
                    error = error or exc
            assert error is not None  # noqa: S101 - urls is never empty
            if attempt == 0 and error.reason != "unauthorized":
                time.sleep(RETRY_PAUSE_S)  # in a worker thread: blocks nothing else
        assert error is not None  # noqa: S101
        return error

    def _check_sync(self, camera_id: int, urls: list[str]) -> FrameCheck:
        picture = self._grab_any(urls)
        if isinstance(picture, FrameError):
            self.forget(camera_id)
            return FrameCheck(reason=picture.reason, detail=picture.detail)
        write_atomic(snapshot_path(self.settings, camera_id), picture.jpeg)
        reference = self._reference_gray(camera_id)
        taken = time.monotonic()
        previous = self._previous.get(camera_id)
        if previous is not None and taken - previous[0] < self.frozen_gap_s:
            previous = None  # too soon to tell a still scene from a hung one: keep the older
        else:
            self._previous[camera_id] = (taken, picture.gray)
        found = tamper.assess(
            picture.gray, previous=previous[1] if previous else None, reference=reference
        )
        reference_set = False
        if reference is None and found is None and tamper.fit_as_reference(picture.gray):
            write_atomic(reference_path(self.settings, camera_id), picture.jpeg)
            reference_set = True
        return FrameCheck(
            tamper=found,
            reference_set=reference_set,
            width=picture.width,
            height=picture.height,
        )

    async def check(self, camera_id: int, urls: list[str]) -> FrameCheck:
        """Check the first of ``urls`` that gives a picture (sub-stream first: cheaper)."""
        async with self._slots:
            # A thread cannot be cancelled: shield it, and let ``drain`` wait for it on stop.
            job = asyncio.ensure_future(asyncio.to_thread(self._check_sync, camera_id, urls))
            self._running.add(job)
            job.add_done_callback(self._running.discard)
            return await asyncio.shield(job)

    async def drain(self) -> None:
        """Wait for decodes still running in threads (they end within the timeout)."""
        if self._running:
            await asyncio.wait(set(self._running), timeout=self.timeout_s * 2 + 1)
