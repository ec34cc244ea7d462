"""The one-frame check on real video: snapshots, the reference view and each kind of tamper."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest

from safezone.cameras import tamper
from safezone.cameras.frame_check import (
    FrameChecker,
    FrameError,
    grab_picture,
    reference_path,
    snapshot_path,
    write_atomic,
)
from safezone.settings import Settings
from tests.fixtures.rtsp import RtspServer


@pytest.fixture(scope="module")
def rtsp() -> Iterator[RtspServer]:
    paths = [
        {"path": "/street", "pattern": "ball", "overlay": "clock"},
        {"path": "/smpte", "pattern": "smpte"},
        {"path": "/black", "pattern": "black"},
        {"path": "/white", "pattern": "white", "overlay": "clock"},
        {"path": "/checkers", "pattern": "checkers-8", "overlay": "clock"},
        {"path": "/locked", "user": "u", "password": "p"},
    ]
    with RtspServer(paths) as server:
        yield server


@pytest.fixture
def checker(tmp_path: Path) -> FrameChecker:
    # frozen_gap_s=0: compare every check with the one before (the monitor waits a second).
    return FrameChecker(Settings(data_dir=tmp_path), max_in_flight=2, timeout_s=5, frozen_gap_s=0)


def decode(path: Path) -> tuple[int, int]:
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        return frame.width, frame.height


async def test_snapshot_and_reference_from_the_first_good_picture(
    rtsp: RtspServer, checker: FrameChecker
) -> None:
    result = await checker.check(7, [rtsp.url("/street")])
    assert (result.tamper, result.reason, result.reference_set) == (None, None, True)
    assert (result.width, result.height) == (640, 360)
    settings = checker.settings
    assert snapshot_path(settings, 7) == settings.data_dir / "snapshots" / "7.jpg"
    assert decode(snapshot_path(settings, 7)) == (640, 360)
    assert decode(reference_path(settings, 7)) == (640, 360)
    # A picture with a ticking clock, checked again once the clock has ticked (the test server
    # restarts its pipeline for every client, so only the clock tells the pictures apart):
    # not frozen, reference kept.
    await asyncio.sleep(1.05 - time.time() % 1)
    again = await checker.check(7, [rtsp.url("/street")])
    assert (again.tamper, again.reference_set) == (None, False)


async def test_pictures_less_than_the_gap_apart_are_not_compared(
    rtsp: RtspServer, tmp_path: Path
) -> None:
    checker = FrameChecker(Settings(data_dir=tmp_path), max_in_flight=1, timeout_s=5,
                           frozen_gap_s=60)
    for _ in range(3):
        assert (await checker.check(1, [rtsp.url("/smpte")])).tamper is None


async def test_static_pattern_checked_twice_is_frozen(
    rtsp: RtspServer, checker: FrameChecker
) -> None:
    assert (await checker.check(1, [rtsp.url("/smpte")])).tamper is None
    assert (await checker.check(1, [rtsp.url("/smpte")])).tamper == "frozen"
    # After an outage the repeat does not count: the previous picture was forgotten.
    checker.forget(1)
    assert (await checker.check(1, [rtsp.url("/smpte")])).tamper is None


async def test_black_picture(rtsp: RtspServer, checker: FrameChecker) -> None:
    result = await checker.check(2, [rtsp.url("/black")])
    assert result.tamper == "black"
    # A black view never becomes the reference.
    assert not reference_path(checker.settings, 2).exists()
    assert snapshot_path(checker.settings, 2).exists()


async def test_covered_without_and_with_a_reference(
    rtsp: RtspServer, checker: FrameChecker
) -> None:
    assert (await checker.check(3, [rtsp.url("/white")])).tamper == "covered"
    assert (await checker.check(4, [rtsp.url("/checkers")])).reference_set
    # The same camera now shows a flat white picture: its texture collapsed.
    assert (await checker.check(4, [rtsp.url("/white")])).tamper == "covered"


async def test_moved_against_the_reference(rtsp: RtspServer, checker: FrameChecker) -> None:
    assert (await checker.check(5, [rtsp.url("/smpte")])).reference_set
    assert (await checker.check(5, [rtsp.url("/checkers")])).tamper == "moved"


async def test_sub_stream_failure_falls_back_to_main(
    rtsp: RtspServer, checker: FrameChecker
) -> None:
    result = await checker.check(6, [rtsp.url("/gone"), rtsp.url("/street")])
    assert result.reason is None and result.width == 640


async def test_no_picture_reasons(rtsp: RtspServer, checker: FrameChecker) -> None:
    with pytest.raises(FrameError) as refused:
        grab_picture(rtsp.url("/locked", "u", "wrong"), timeout_s=3)
    assert refused.value.reason == "unauthorized"
    assert "wrong" not in str(refused.value)
    result = await checker.check(8, [rtsp.url("/nothing")])
    assert result.reason == "offline" and result.tamper is None
    assert grab_picture(rtsp.url("/locked", "u", "p"), timeout_s=3).width == 640


def test_a_covered_lens_with_the_cameras_own_clock_is_covered() -> None:
    """The camera burns its clock into the picture even with a bag over the lens: a caption's
    edges must not make a white-out look like a scene (they sat at the edge threshold, so the
    verdict depended on the time of day the clock showed). A dark scene with one bright moving
    object (the test cameras' "ball") is a scene, not a cover."""
    white = np.full((tamper.HEIGHT, tamper.WIDTH), 250, np.uint8)
    white[3:7, 4:64:3] = 200  # thin grey strokes along the top: "21:18:48 CAM 3"
    look = tamper.look(white)
    assert look.std < tamper.FLAT_STD and look.edges > tamper.FLAT_EDGES
    assert tamper.assess(white, previous=None, reference=None) == "covered"
    assert not tamper.fit_as_reference(white)
    ball = np.zeros((tamper.HEIGHT, tamper.WIDTH), np.uint8)
    ball[30:60, 60:90] = 255
    ball[2:8, 4:70] = 200
    assert tamper.assess(ball, previous=None, reference=None) is None
    # A dim street at night: low contrast, but sensor noise everywhere, so not smooth.
    rng = np.random.default_rng(3)
    night = np.clip(rng.normal(45, 4, (tamper.HEIGHT, tamper.WIDTH)), 0, 255).astype(np.uint8)
    night[3:7, 4:64:3] = 90
    assert tamper.look(night).std < tamper.FLAT_STD
    assert tamper.assess(night, previous=None, reference=None) is None


def test_moving_traffic_is_not_moved() -> None:
    """A scene whose background stays put while objects cross it (a tenth of the blocks) is
    not a moved camera, though a whole-picture correlation alone would say so."""
    rng = np.random.default_rng(1)
    background = rng.integers(0, 40, (tamper.HEIGHT, tamper.WIDTH)).astype(np.uint8)
    before, after = background.copy(), background.copy()
    before[10:40, 10:40] = 255  # a bus on the left ...
    after[50:80, 110:140] = 255  # ... now on the right
    assert tamper.ncc(before, after) < tamper.MOVED_NCC
    assert tamper.assess(after, previous=before, reference=before) is None
    turned = np.roll(background, 60, axis=1)
    assert tamper.assess(turned, previous=None, reference=background) == "moved"


def test_write_atomic_replaces_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "snapshots" / "1.jpg"
    write_atomic(target, b"one")
    write_atomic(target, b"two")
    assert target.read_bytes() == b"two"
    assert [p.name for p in target.parent.iterdir()] == ["1.jpg"]
