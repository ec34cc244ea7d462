"""The clip writer's choice of first and last picture, on real H.264 (encoded here with x264,
GOP 2 s at 10 fps) fed through a subscription exactly as a camera feed would."""

from __future__ import annotations

import threading
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from safezone.evidence.feed import Sample, Segment, SegmentEnd, Subscription, codec_template
from safezone.evidence.writer import ClipAborted, NoVideo, write_clip

FPS, GOP = 10, 20
T0 = 1_600_000_000.0  # wall-clock seconds of the first picture (in the past)


@pytest.fixture(scope="module")
def encoded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Segment, list[Sample]]:
    """Eight seconds of video: key frames at 0, 2, 4 and 6 s."""
    path = tmp_path_factory.mktemp("enc") / "source.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=FPS, options={
            "g": str(GOP), "keyint_min": str(GOP), "sc_threshold": "0", "bf": "0",
        })
        stream.width, stream.height, stream.pix_fmt = 160, 90, "yuv420p"
        for i in range(8 * FPS):
            img = np.full((90, 160, 3), (i * 3) % 256, dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    with av.open(str(path)) as src:
        video = src.streams.video[0]
        tb = Fraction(video.time_base)
        segment = Segment(1, codec_template(video), tb, "h264", 160, 90)
        samples = [
            Sample(bytes(p), p.pts, p.dts, p.duration or int(1 / (FPS * tb)), p.is_keyframe,
                   T0 + float(p.pts * tb))
            for p in src.demux(video) if p.size
        ]
    assert [s.wall - T0 for s in samples if s.keyframe] == [0.0, 2.0, 4.0, 6.0]
    return segment, samples


def _record(encoded: tuple[Segment, list[Sample]], tmp_path: Path, start: float, end: float,
            *, cut_after: float | None = None) -> tuple[float, float, str | None]:
    segment, samples = encoded
    sub = Subscription()
    sub.put(segment)
    for sample in samples:
        if cut_after is not None and sample.wall - T0 >= cut_after:
            sub.put(SegmentEnd(1, "stream ended"))
            break
        sub.put(sample)
    written = write_clip(sub, start=T0 + start, end=T0 + end, dest=tmp_path / "clip.mp4",
                         stop=threading.Event())
    with av.open(str(written.path)) as check:
        frames = sum(1 for _ in check.decode(video=0))
    assert frames == written.frames  # every picture decodes: the file begins at a key frame
    return written.first_wall - T0, written.end_wall - T0, written.stopped_early


@pytest.mark.parametrize(
    ("start", "end", "first", "last"),
    [
        (2.0, 5.0, 2.0, 5.0),  # on a key frame
        (2.6, 5.0, 2.0, 5.0),  # nearer the key frame before: begins early
        (3.4, 5.0, 4.0, 5.0),  # nearer the key frame after: begins late, never > GOP/2
        (4.5, 5.0, 4.0, 5.0),  # the window lies inside one GOP
        (6.9, 7.2, 6.0, 7.2),  # ... also in the last GOP
    ],
)
def test_starts_at_the_nearest_key_frame_and_ends_at_the_end(
    encoded: tuple[Segment, list[Sample]], tmp_path: Path,
    start: float, end: float, first: float, last: float,
) -> None:
    got_first, got_end, stopped = _record(encoded, tmp_path, start, end)
    assert got_first == pytest.approx(first, abs=1e-6)
    assert got_end == pytest.approx(last, abs=0.11)
    assert stopped is None


def test_a_stream_that_ends_early_says_so(
    encoded: tuple[Segment, list[Sample]], tmp_path: Path
) -> None:
    first, end, stopped = _record(encoded, tmp_path, 2.0, 7.0, cut_after=5.0)
    assert (first, stopped) == (2.0, "stream ended")
    assert end == pytest.approx(5.0, abs=0.11)


def test_no_picture_in_the_window_leaves_no_file(
    encoded: tuple[Segment, list[Sample]], tmp_path: Path
) -> None:
    segment, _ = encoded
    sub = Subscription()
    sub.put(segment)
    with pytest.raises(NoVideo):
        # A window long past with nothing queued: the writer gives up after its grace time.
        write_clip(sub, start=T0, end=T0 + 1, dest=tmp_path / "none.mp4",
                   stop=threading.Event(), grace_s=0.2)
    assert not list(tmp_path.iterdir())


def test_stop_removes_the_partial_file(
    encoded: tuple[Segment, list[Sample]], tmp_path: Path
) -> None:
    segment, samples = encoded
    sub = Subscription()
    sub.put(segment)
    for sample in samples[:30]:
        sub.put(sample)
    stop = threading.Event()
    timer = threading.Timer(0.5, stop.set)
    timer.start()
    with pytest.raises(ClipAborted):
        # The window's end is far ahead, so only the stop ends this recording.
        write_clip(sub, start=T0, end=T0 + 10_000_000_000, dest=tmp_path / "cut.mp4", stop=stop)
    timer.join()
    assert not list(tmp_path.iterdir())
