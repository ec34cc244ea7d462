"""One upstream RTSP connection, read in a thread, its packets kept briefly and fanned out.

A ``Feed`` demuxes a camera's stream with PyAV (no decoding) and turns each compressed video
packet into a ``Sample`` stamped with the wall-clock time of its picture. It keeps the last
``keep_s`` seconds in memory as whole GOPs (so the ring always starts at a key frame) and hands
every new sample to its subscribers. A clip that subscribes gets the ring's GOP containing its
start and then the live packets, taken under one lock, so the two join without a gap or an
overlap. The rolling buffer is a long-lived Feed; a camera without one gets a Feed per clip.

Stream URLs passed in may carry credentials: they are never logged (``redact``).
"""

from __future__ import annotations

import io
import logging
import queue
import random
import threading
import time
from collections import deque
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av

from safezone.cameras.credentials import redact

log = logging.getLogger(__name__)

# PyAV options for a quick, reliable open: TCP survives lossy links, and skipping the probe
# saves ~2.5 s per open (the SDP already carries the codec parameters).
OPEN_OPTIONS = {"rtsp_transport": "tcp", "analyzeduration": "0", "probesize": "32"}
BACKOFF_S = (1.0, 5.0, 10.0, 60.0)
# The wall-clock offset is re-estimated from the lowest-latency packet of each window, which
# follows slow drift between the camera's clock and ours without following network jitter.
_OFFSET_WINDOW_S = 10.0


@dataclass(frozen=True, slots=True)
class Sample:
    """One compressed video packet, copied out of PyAV so any thread may keep it."""

    data: bytes
    pts: int
    dts: int
    duration: int
    keyframe: bool
    wall: float  # UTC epoch seconds when this picture was taken (estimated)


@dataclass(frozen=True, slots=True)
class Segment:
    """Start of one upstream connection: what its samples need to be muxed."""

    number: int
    template: Any  # an av stream holding a copy of the codec parameters (see _template)
    time_base: Fraction
    codec: str
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class SegmentEnd:
    """The connection of segment ``number`` ended (camera gone, stream stalled, stopped)."""

    number: int
    reason: str


Item = Sample | Segment | SegmentEnd


class Subscription:
    """A subscriber's queue of samples and segment markers, in order."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Item] = queue.SimpleQueue()

    def put(self, item: Item) -> None:
        self._queue.put(item)

    def get(self, timeout: float) -> Item | None:
        """The next item, or None after ``timeout`` seconds without one."""
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None


def codec_template(stream: Any) -> Any:
    """A copy of ``stream``'s codec parameters that outlives its connection.

    PyAV copies codec parameters only from a live stream; an input stream dies with its
    connection, so park a copy in an output container that is never written (the copy keeps
    its container alive). ``opaque`` reuses the decoder's codec, so no encoder is needed.
    """
    holder = av.open(io.BytesIO(), "w", format="mp4")
    return holder.add_stream_from_template(stream, opaque=True)


class _WallClock:
    """Maps a stream's presentation times to wall-clock seconds."""

    def __init__(self) -> None:
        self.offset: float | None = None
        self._window_min = float("inf")
        self._window_end = 0.0

    def wall(self, pts_s: float, arrival: float) -> float:
        candidate = arrival - pts_s
        if self.offset is None or candidate < self.offset:
            # A packet cannot arrive before it was captured: a lower offset is always better.
            self.offset = candidate
        self._window_min = min(self._window_min, candidate)
        if arrival >= self._window_end:
            if self._window_end:
                self.offset = self._window_min
            self._window_min = float("inf")
            self._window_end = arrival + _OFFSET_WINDOW_S
        return pts_s + self.offset


class Feed:
    """A camera stream read in a background thread; see the module docstring."""

    def __init__(
        self,
        *,
        url: str,
        label: str,
        keep_s: float = 0.0,
        max_bytes: int = 64 * 1024 * 1024,
        reconnect: bool = True,
        open_timeout_s: float = 5.0,
        read_timeout_s: float = 5.0,
    ) -> None:
        self._url = url
        self.label = label
        self.keep_s = keep_s
        self.max_bytes = max_bytes
        self.reconnect = reconnect
        self._timeouts = (open_timeout_s, read_timeout_s)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._gops: deque[list[Sample]] = deque()
        self._bytes = 0
        self._subscribers: list[Subscription] = []
        self._segment: Segment | None = None
        self._segments = 0
        self._thread = threading.Thread(target=self._run, name=f"feed-{label}", daemon=True)
        self.state = "idle"  # idle | connecting | streaming | backoff | stopped
        self.last_error: str | None = None
        self.failures = 0  # connection attempts in a row that brought no video

    # -- control -------------------------------------------------------------------------

    def start(self) -> None:
        """Start reading in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Ask the reader to stop (it notices within one packet or one read timeout)."""
        self._stop.set()

    def join(self, timeout: float) -> None:
        """Wait for the reader thread to end."""
        if self._thread.is_alive():
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # -- what is buffered ----------------------------------------------------------------

    @property
    def oldest_wall(self) -> float | None:
        """Wall time of the oldest buffered key frame, if any."""
        with self._lock:
            return self._gops[0][0].wall if self._gops else None

    @property
    def newest_wall(self) -> float | None:
        with self._lock:
            return self._gops[-1][-1].wall if self._gops else None

    @property
    def buffered_bytes(self) -> int:
        return self._bytes

    def subscribe(self, *, since: float | None = None) -> Subscription:
        """A queue that receives the current segment, the buffered GOP containing ``since``
        (and everything after it), then every new sample, with nothing lost in between."""
        sub = Subscription()
        with self._lock:
            if self._segment is not None:
                sub.put(self._segment)
                if since is not None and self._gops:
                    first = 0
                    for i, gop in enumerate(self._gops):
                        if gop[0].wall <= since:
                            first = i
                    for gop in list(self._gops)[first:]:
                        for sample in gop:
                            sub.put(sample)
            self._subscribers.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            if sub in self._subscribers:
                self._subscribers.remove(sub)

    # -- the reader thread ---------------------------------------------------------------

    def _run(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            self.state = "connecting"
            got_video = False
            try:
                got_video = self._read_once()
            except Exception as exc:  # noqa: BLE001 - any failure means "reconnect later"
                self.last_error = f"{type(exc).__name__}: {exc}"[:300]
                log.info("feed %s (%s): %s", self.label, redact(self._url), self.last_error)
            self._end_segment(self.last_error or "stream ended")
            if self._stop.is_set() or not self.reconnect:
                break
            attempt = 0 if got_video else attempt + 1
            self.failures = attempt
            delay = BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)] * random.uniform(0.8, 1.2)  # noqa: S311
            self.state = "backoff"
            self._stop.wait(delay)
        self.state = "stopped"

    def _read_once(self) -> bool:
        """One connection: returns whether any video arrived."""
        container = av.open(self._url, options=OPEN_OPTIONS, timeout=self._timeouts)
        got = False
        try:
            if not container.streams.video:
                raise RuntimeError("stream has no video track")
            stream = container.streams.video[0]
            template = codec_template(stream)
            time_base = stream.time_base or Fraction(1, 90000)
            ctx = stream.codec_context
            with self._lock:
                self._segments += 1
                self._segment = Segment(
                    self._segments,
                    template,
                    Fraction(time_base),
                    ctx.name,
                    int(ctx.width or 0),
                    int(ctx.height or 0),
                )
                for sub in self._subscribers:
                    sub.put(self._segment)
            clock = _WallClock()
            self.state = "streaming"
            for packet in container.demux(stream):
                if self._stop.is_set():
                    break
                if packet.dts is None or packet.pts is None or packet.size == 0:
                    continue  # demuxer flush packets carry nothing to keep
                got = True
                arrival = time.time()
                sample = Sample(
                    bytes(packet),
                    int(packet.pts),
                    int(packet.dts),
                    int(packet.duration or 0),
                    bool(packet.is_keyframe),
                    clock.wall(float(packet.pts * time_base), arrival),
                )
                self._publish(sample)
            self.last_error = None if self._stop.is_set() else "stream ended"
        finally:
            container.close()
        return got

    def _publish(self, sample: Sample) -> None:
        with self._lock:
            for sub in self._subscribers:
                sub.put(sample)
            if self.keep_s <= 0:
                return
            if sample.keyframe:
                self._gops.append([sample])
            elif self._gops:
                self._gops[-1].append(sample)
            else:
                return  # nothing before the first key frame can be decoded
            self._bytes += len(sample.data)
            self._trim(sample.wall)

    def _trim(self, newest: float) -> None:
        # Drop whole GOPs from the front while the next GOP alone still covers keep_s, or
        # while over the memory cap (always keeping the newest GOP).
        while len(self._gops) > 1 and (
            self._gops[1][0].wall <= newest - self.keep_s or self._bytes > self.max_bytes
        ):
            dropped = self._gops.popleft()
            self._bytes -= sum(len(s.data) for s in dropped)

    def _end_segment(self, reason: str) -> None:
        with self._lock:
            if self._segment is not None:
                end = SegmentEnd(self._segment.number, reason)
                for sub in self._subscribers:
                    sub.put(end)
            self._segment = None
            # Timestamps restart with the next connection: the old packets cannot be joined
            # to the new ones in one file, so they go.
            self._gops.clear()
            self._bytes = 0
