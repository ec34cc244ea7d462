"""Write one clip: samples from a feed subscription, stream-copied into an MP4 (no transcode).

Runs in a worker thread. The clip starts at the key frame nearest the asked start (so it is
never more than half a GOP early or late) and ends before the first picture at or after the
asked end. Timestamps are rebased so the file starts at 0. The file is written under a
temporary name, flushed to disk, hashed and only then renamed into place, so a clip file that
exists is always complete.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av

from safezone.evidence.feed import Sample, Segment, SegmentEnd, Subscription

# After the asked end, wait this long for a late packet before calling the window done.
END_GRACE_S = 3.0
# ... but never wait longer than this past the end (a stream whose clock runs behind).
GIVE_UP_S = 30.0
_POLL_S = 0.25


class ClipAborted(Exception):
    """Recording stopped before the clip was finished (shutdown)."""


class NoVideo(Exception):
    """The window passed without a single usable picture."""


@dataclass(frozen=True)
class Written:
    """What ended up in the file."""

    path: Path
    size: int
    sha256: str
    duration_s: float
    first_wall: float  # wall time of the first picture in the file
    end_wall: float  # wall time just after the last picture
    frames: int
    codec: str
    width: int
    height: int
    stopped_early: str | None  # why the stream ended before the window did, if it did


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def fsync_dir(path: Path) -> None:
    """Make a rename in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _Mp4:
    """The output file, opened at the first written sample."""

    def __init__(self, part: Path, segment: Segment) -> None:
        self.part = part
        self.segment = segment
        self.container: Any = av.open(
            str(part), "w", format="mp4", options={"movflags": "+faststart"}
        )
        self.stream = self.container.add_stream_from_template(segment.template, opaque=True)
        self.base: int | None = None
        self.last_dts: int | None = None
        self.first_wall = 0.0
        self.end_wall = 0.0
        self.frames = 0
        self.end_pts = 0

    def write(self, sample: Sample) -> None:
        if self.last_dts is not None and sample.dts <= self.last_dts:
            return  # a packet seen twice: keep the file strictly increasing
        if self.base is None:
            self.base = sample.dts
            self.first_wall = sample.wall
        packet = av.Packet(sample.data)
        packet.pts = sample.pts - self.base
        packet.dts = sample.dts - self.base
        packet.duration = sample.duration
        packet.time_base = self.segment.time_base
        packet.is_keyframe = sample.keyframe
        packet.stream = self.stream
        self.container.mux(packet)
        self.last_dts = sample.dts
        self.frames += 1
        self.end_pts = max(self.end_pts, packet.pts + sample.duration)
        self.end_wall = max(
            self.end_wall, sample.wall + float(sample.duration * self.segment.time_base)
        )

    @property
    def duration_s(self) -> float:
        return float(self.end_pts * self.segment.time_base)

    def close(self) -> None:
        self.container.close()

    def discard(self) -> None:
        try:
            self.container.close()
        except Exception:  # noqa: BLE001, S110 - the file is being thrown away anyway
            pass
        self.part.unlink(missing_ok=True)


def write_clip(
    sub: Subscription,
    *,
    start: float,
    end: float,
    dest: Path,
    stop: threading.Event,
    grace_s: float = END_GRACE_S,
) -> Written:
    """Record the window [start, end) (epoch seconds) from ``sub`` into ``dest``.

    Raises ``NoVideo`` when nothing usable arrived before the window passed, and
    ``ClipAborted`` when ``stop`` is set first; no partial file is left behind either way.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    segment: Segment | None = None
    pending: list[Sample] = []  # the GOP that begins at the last key frame before start
    out: _Mp4 | None = None
    stopped_early: str | None = None
    last_packet_at = time.time()
    # A window already past (taken from a buffer) is judged from now, not from its end.
    give_up_at = max(end, last_packet_at) + GIVE_UP_S
    try:
        while True:
            if stop.is_set():
                raise ClipAborted("recording stopped")
            item = sub.get(_POLL_S)
            now = time.time()
            if isinstance(item, Sample):
                last_packet_at = now
            if now > end + grace_s and (now - last_packet_at > grace_s or now > give_up_at):
                # The window is over and the stream has nothing more for it.
                if out is None:
                    out = _flush_pending(part, segment, pending, end)
                if out is not None and out.end_wall < end - 1.0:
                    stopped_early = "no more video arrived"
                break
            if item is None:
                continue
            if isinstance(item, Segment):
                if out is not None:
                    stopped_early = "stream restarted"
                    break
                segment, pending = item, []
                continue
            if isinstance(item, SegmentEnd):
                if out is not None:
                    stopped_early = item.reason
                    break
                pending = []
                continue
            if segment is None:
                continue
            if out is not None:
                if item.wall >= end:
                    break
                out.write(item)
                continue
            out = _consider(part, segment, pending, item, start=start, end=end)
            if out is not None and item.wall >= end:
                break
        if out is None or segment is None:
            raise NoVideo("no picture arrived during the window")
        out.close()
    except BaseException:
        if out is not None:
            out.discard()
        part.unlink(missing_ok=True)
        raise
    with part.open("rb") as fh:
        os.fsync(fh.fileno())
    digest = sha256_file(part)
    size = part.stat().st_size
    part.replace(dest)
    fsync_dir(dest.parent)
    return Written(
        dest,
        size,
        digest,
        out.duration_s,
        out.first_wall,
        out.end_wall,
        out.frames,
        segment.codec,
        segment.width,
        segment.height,
        stopped_early,
    )


def _consider(
    part: Path,
    segment: Segment,
    pending: list[Sample],
    sample: Sample,
    *,
    start: float,
    end: float,
) -> _Mp4 | None:
    """Before the first write: pick the key frame nearest ``start``. Returns the opened file
    once writing has begun (``pending`` is consumed), else None."""
    if not sample.keyframe:
        if pending and sample.wall >= end:
            # The whole window lies inside the GOP that began before it: no need to wait
            # for the next key frame, which can only be later still.
            return _flush_pending(part, segment, pending, end)
        if pending:
            pending.append(sample)
        return None
    if sample.wall <= start:
        pending[:] = [sample]
        return None
    # A key frame after the start: begin here, or at the previous key frame if that is nearer
    # (or if this one is already past the end: the window lies inside the previous GOP).
    use_pending = bool(pending) and (
        sample.wall >= end or start - pending[0].wall <= sample.wall - start
    )
    out = _Mp4(part, segment)
    for earlier in pending if use_pending else ():
        if earlier.wall < end:
            out.write(earlier)
    pending.clear()
    if sample.wall < end or out.frames == 0:
        out.write(sample)
    return out


def _flush_pending(
    part: Path, segment: Segment | None, pending: list[Sample], end: float
) -> _Mp4 | None:
    """The window ended inside the GOP that began before it: write that GOP's part."""
    if segment is None or not pending or pending[0].wall >= end:
        return None
    out = _Mp4(part, segment)
    for sample in pending:
        if sample.wall < end:
            out.write(sample)
    return out
