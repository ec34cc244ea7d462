"""The live-view hub: one upstream connection per camera, shared by all of its viewers.

As go2rtc does, the first viewer of a camera opens its stream and the last one leaving starts a
grace period (``live_grace_s``) after which the stream is closed; a viewer arriving within the
grace period reuses the open stream. The upstream runs in a thread: PyAV reads RTSP and
*remuxes* the H.264 packets, without decoding, into fragmented MP4 (one fragment per frame, so
latency stays at about a frame), which browsers play through Media Source Extensions.

A new viewer is sent the init segment (``ftyp`` + ``moov``) and then the fragments of the
current group of pictures from its key frame, so the picture appears at once and the player
skips to the live edge. Each viewer has a bounded queue: a viewer that cannot keep up loses
what it has not taken and resumes at the next key frame, and never slows the others down.
URLs with credentials stay inside ``StreamSource.url`` and are never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import av
import av.error

from safezone.cameras.fmp4 import FragmentSink, mime_type
from safezone.cameras.live_viewer import Viewer

log = logging.getLogger(__name__)

# One fragment per frame (the muxer writes it when the next frame arrives); an empty moov so
# the init segment can be sent before any media; base offsets in moof as MSE requires.
MOVFLAGS = "frag_every_frame+empty_moov+default_base_moof+skip_trailer"
INPUT_OPTIONS = {"rtsp_transport": "tcp", "analyzeduration": "0", "probesize": "32"}
BACKOFF_S = (1.0, 5.0, 10.0, 60.0)
# A session that ran this long was healthy: the next failure starts the back-off over.
_HEALTHY_RUN_S = 30.0
# ~10 s of 15 fps video waiting for one viewer before it is considered too slow.
VIEWER_CAPACITY = 150
GOP_CACHE_FRAGMENTS = 120
GOP_CACHE_BYTES = 8 * 1024 * 1024


class UpstreamError(Exception):
    """The camera's stream cannot be used; ``reason`` is a short code shown to viewers."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class StreamSource:
    """Where to read a camera's video. ``url`` may carry credentials: never log it."""

    url: str = field(repr=False)
    label: str  # the URL without credentials, for logs
    which: str  # "sub" | "main"


class Upstream:
    """One camera's shared connection: a reader thread and the viewers it feeds."""

    def __init__(
        self, hub: LiveHub, camera_id: int, source: StreamSource, loop: asyncio.AbstractEventLoop
    ) -> None:
        self.hub = hub
        self.camera_id = camera_id
        self.source = source
        self.viewers: set[Viewer] = set()
        self.mime: str | None = None
        self.init: bytes | None = None
        self.state = "connecting"
        self.grace: asyncio.TimerHandle | None = None
        self._gop: list[bytes] | None = None
        self._gop_bytes = 0
        self._loop = loop
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"live-{camera_id}", daemon=True)

    # --- event-loop side -------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def add(self, viewer: Viewer) -> None:
        self.viewers.add(viewer)
        viewer.notify({"type": "status", "state": self.state, "stream": self.source.which})
        if self.mime is not None and self.init is not None:
            viewer.start(self.mime, self.init, self._gop or [])

    def _started(self, mime: str, init: bytes) -> None:
        self.mime, self.init, self._gop, self._gop_bytes = mime, init, None, 0
        for viewer in self.viewers:
            viewer.start(mime, init, [])

    def _fragment(self, data: bytes, key: bool) -> None:
        if key:
            self._gop, self._gop_bytes = [data], len(data)
        elif self._gop is not None:
            self._gop.append(data)
            self._gop_bytes += len(data)
            if len(self._gop) > GOP_CACHE_FRAGMENTS or self._gop_bytes > GOP_CACHE_BYTES:
                self._gop = None  # a very long GOP: new viewers wait for the next key frame
        for viewer in self.viewers:
            viewer.offer(data, key)

    def _status(self, state: str, detail: dict[str, Any]) -> None:
        self.state = state
        for viewer in self.viewers:
            viewer.notify({"type": "status", "state": state, **detail})

    # --- reader-thread side ----------------------------------------------------------------

    def _emit(self, callback: Callable[..., None], *args: Any) -> None:
        try:
            self._loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:  # the event loop is gone: the app is shutting down
            self._stop.set()

    def _run(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            began = time.monotonic()
            reason = "ended"
            try:
                self._session()
            except UpstreamError as exc:
                reason = exc.reason
            except av.error.HTTPUnauthorizedError:
                reason = "unauthorized"
            except av.error.FFmpegError as exc:
                # str(exc) names the URL (with credentials): log only the kind of failure.
                reason = "offline"
                log.info("live: %s: %s %s", self.source.label, type(exc).__name__, exc.strerror)
            except Exception:  # noqa: BLE001 - the reader must survive anything and retry
                reason = "error"
                log.warning("live: %s failed unexpectedly", self.source.label, exc_info=False)
            if self._stop.is_set():
                break
            if time.monotonic() - began > _HEALTHY_RUN_S:
                attempt = 0
            delay = BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)] * random.uniform(0.8, 1.2)  # noqa: S311 - jitter
            attempt += 1
            self._emit(self._status, "reconnecting", {"reason": reason, "retry_s": round(delay, 1)})
            self._stop.wait(delay)

    def _session(self) -> None:
        hub = self.hub
        options = dict(INPUT_OPTIONS) if self.source.url.startswith("rtsp") else {}
        inp = av.open(
            self.source.url, options=options, timeout=(hub.open_timeout_s, hub.read_timeout_s)
        )
        hub.count_open()
        try:
            if not inp.streams.video:
                raise UpstreamError("no_video")
            video = inp.streams.video[0]
            if video.codec_context.name != "h264":
                raise UpstreamError("unsupported_codec")
            mime = mime_type(video.codec_context.extradata)
            if mime is None:
                raise UpstreamError("no_codec_config")
            sink = FragmentSink(
                lambda init: self._emit(self._started, mime, init),
                lambda data, key: self._emit(self._fragment, data, key),
            )
            out = av.open(sink, mode="w", format="mp4", options={"movflags": MOVFLAGS})
            try:
                target = out.add_stream_from_template(video)
                self._emit(self._status, "live", {})
                self._remux(inp, video, out, target)
            finally:
                with contextlib.suppress(Exception):
                    out.close()
        finally:
            inp.close()

    def _remux(self, inp: Any, video: Any, out: Any, target: Any) -> None:
        last_dts: int | None = None
        for packet in inp.demux(video):
            if self._stop.is_set():
                return
            if packet.size == 0:  # the demuxer's end-of-stream marker
                continue
            if last_dts is None and not packet.is_keyframe:
                continue  # a stream must start with a key frame
            # RTP gives the first packet no timestamp (before the first RTCP report), and the
            # muxer needs strictly increasing decode times.
            dts = packet.dts if packet.dts is not None else packet.pts
            if dts is None:
                dts = 0 if last_dts is None else last_dts + 1
            if last_dts is not None and dts <= last_dts:
                dts = last_dts + 1
            pts = packet.pts if packet.pts is not None and packet.pts >= dts else dts
            packet.dts, packet.pts = dts, pts
            last_dts = dts
            packet.stream = target
            out.mux(packet)
        raise UpstreamError("ended")


class LiveHub:
    """All upstreams of this process. Use from one event loop."""

    def __init__(
        self,
        *,
        grace_s: float = 10.0,
        viewer_capacity: int = VIEWER_CAPACITY,
        open_timeout_s: float = 10.0,
        # A live camera sends several packets a second: this long without one means it is gone.
        read_timeout_s: float = 5.0,
    ) -> None:
        self.grace_s = grace_s
        self.viewer_capacity = viewer_capacity
        self.open_timeout_s = open_timeout_s
        self.read_timeout_s = read_timeout_s
        self._upstreams: dict[int, Upstream] = {}
        self._retired: list[Upstream] = []
        self._opens = 0
        self._lock = threading.Lock()

    @property
    def opens(self) -> int:
        """How many upstream connections have been opened (all cameras, ever)."""
        with self._lock:
            return self._opens

    def count_open(self) -> None:
        with self._lock:
            self._opens += 1

    def is_open(self, camera_id: int) -> bool:
        """Whether the camera has an upstream (live, connecting or in its grace period)."""
        return camera_id in self._upstreams

    def viewer_count(self, camera_id: int) -> int:
        upstream = self._upstreams.get(camera_id)
        return len(upstream.viewers) if upstream else 0

    def running_threads(self) -> int:
        """Reader threads still alive (including ones winding down after being closed)."""
        self._retired = [u for u in self._retired if u.running]
        return len(self._retired) + sum(u.running for u in self._upstreams.values())

    def join(self, camera_id: int, source: StreamSource) -> Viewer:
        """Add a viewer of ``camera_id``, opening the upstream if this is the first."""
        upstream = self._upstreams.get(camera_id)
        if upstream is not None and upstream.source.url != source.url and not upstream.viewers:
            # The camera's address changed while the stream idled in its grace period.
            self._retire(upstream)
            upstream = None
        if upstream is None:
            upstream = Upstream(self, camera_id, source, asyncio.get_running_loop())
            self._upstreams[camera_id] = upstream
            upstream.start()
        if upstream.grace is not None:
            upstream.grace.cancel()
            upstream.grace = None
        viewer = Viewer(upstream, self.viewer_capacity)
        upstream.add(viewer)
        return viewer

    def leave(self, viewer: Viewer) -> None:
        """Remove a viewer; the last one out starts the grace period."""
        upstream = viewer.upstream
        upstream.viewers.discard(viewer)
        viewer.end()
        if not upstream.viewers and upstream.grace is None:
            loop = asyncio.get_running_loop()
            upstream.grace = loop.call_later(self.grace_s, self._expire, upstream)

    @contextlib.asynccontextmanager
    async def watch(self, camera_id: int, source: StreamSource) -> AsyncIterator[Viewer]:
        """``async with hub.watch(id, source) as viewer``: join, and leave however it ends."""
        viewer = self.join(camera_id, source)
        try:
            yield viewer
        finally:
            self.leave(viewer)

    def _expire(self, upstream: Upstream) -> None:
        upstream.grace = None
        if not upstream.viewers:
            self._retire(upstream)

    def _retire(self, upstream: Upstream) -> None:
        if self._upstreams.get(upstream.camera_id) is upstream:
            del self._upstreams[upstream.camera_id]
        if upstream.grace is not None:
            upstream.grace.cancel()
            upstream.grace = None
        upstream.stop()
        self._retired.append(upstream)

    async def close(self, timeout_s: float = 15.0) -> None:
        """Stop every upstream and end every viewer (app shutdown)."""
        for upstream in list(self._upstreams.values()):
            for viewer in list(upstream.viewers):
                viewer.end()
            self._retire(upstream)
        retired, self._retired = self._retired, []
        deadline = time.monotonic() + timeout_s
        for upstream in retired:
            await asyncio.to_thread(upstream.join, max(0.0, deadline - time.monotonic()))
