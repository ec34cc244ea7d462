"""H.264 SPS parsing: against SPS written by real encoders (libx264 through PyAV, and the
GStreamer test server's x264enc) and against a bit-exact writer for the syntax they never use."""

from __future__ import annotations

import base64
from fractions import Fraction

import av
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from safezone.cameras.h264 import Sps, SpsError, parse_sps, unescape
from tests.cameras.sps_writer import SpsFields, escape, write_sps


def encode_sps(
    width: int, height: int, fps: Fraction, pix_fmt: str, options: dict[str, str]
) -> bytes:
    """The SPS NAL unit libx264 writes for one frame of this size and rate."""
    encoder = av.CodecContext.create("libx264", "w")
    encoder.width, encoder.height, encoder.pix_fmt = width, height, pix_fmt
    encoder.time_base = 1 / fps
    encoder.framerate = fps
    encoder.options = options
    frame = av.VideoFrame.from_ndarray(
        np.zeros((height, width, 3), np.uint8), format="rgb24"
    ).reformat(format=pix_fmt)
    frame.pts = 0
    stream = b"".join(bytes(p) for p in [*encoder.encode(frame), *encoder.encode(None)])
    for nal in stream.split(b"\x00\x00\x01"):
        nal = nal.rstrip(b"\x00")
        if nal and nal[0] & 0x1F == 7:
            return nal
    raise AssertionError("libx264 wrote no SPS")


FPS = st.one_of(
    st.integers(1, 60).map(Fraction),
    st.sampled_from([Fraction(30000, 1001), Fraction(24000, 1001), Fraction(60000, 1001)]),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    width=st.integers(8, 640).map(lambda n: n * 2),
    height=st.integers(8, 360).map(lambda n: n * 2),
    fps=FPS,
    pix_fmt=st.sampled_from(["yuv420p", "yuv422p", "yuv444p"]),
    preset=st.sampled_from(["ultrafast", "veryfast"]),
    interlaced=st.booleans(),
    cqm=st.booleans(),
)
def test_sps_from_libx264(
    width: int,
    height: int,
    fps: Fraction,
    pix_fmt: str,
    preset: str,
    interlaced: bool,
    cqm: bool,
) -> None:
    if interlaced:
        height -= height % 4  # interlaced 4:2:0 codes field pairs: whole chroma rows per field
    flags = ("interlaced=1" if interlaced else "", "cqm=jvt" if cqm else "")
    params = ":".join(p for p in flags if p)
    options = {"preset": preset, **({"x264-params": params} if params else {})}
    sps = parse_sps(encode_sps(width, height, fps, pix_fmt, options))
    assert (sps.width, sps.height) == (width, height)
    assert sps.fps == pytest.approx(float(fps), rel=1e-9)
    assert sps.chroma_format_idc == {"yuv420p": 1, "yuv422p": 2, "yuv444p": 3}[pix_fmt]


def test_sps_cropping_from_libx264() -> None:
    nal = encode_sps(
        720, 576, Fraction(25), "yuv420p",
        {"preset": "veryfast", "x264-params": "interlaced=1:cqm=jvt:crop-rect=2,4,6,8"},
    )
    sps = parse_sps(nal)
    assert (sps.width, sps.height, sps.frame_mbs_only, sps.fps) == (712, 564, False, 25.0)


@pytest.mark.parametrize(
    ("b64", "expected"),
    [
        # GStreamer x264enc (src/safezone/sim/rtsp_server.py) at 640×360 15 fps and 320×240 10 fps.
        ("Z0LAFtoCgL/lwFqDAwNSgAAAAwCAAAAPR4sXUA==", (640, 360, 15.0)),
        ("Z0LADdoFB+wFqDAwNSgAAAMACAAAAwCkeKFV", (320, 240, 10.0)),
    ],
)
def test_sps_from_gstreamer(b64: str, expected: tuple[int, int, float]) -> None:
    sps = parse_sps(base64.b64decode(b64))
    assert (sps.width, sps.height, sps.fps) == expected


SCALING = st.lists(
    st.one_of(st.none(), st.lists(st.integers(-128, 127), min_size=1, max_size=64)),
    max_size=12,
)


@st.composite
def sps_fields(draw: st.DrawFn) -> SpsFields:
    high = draw(st.booleans())
    profile = draw(st.sampled_from([100, 110, 122, 244, 44, 83, 86, 118, 128])) if high else (
        draw(st.sampled_from([66, 77, 88]))
    )
    chroma = draw(st.integers(0, 3)) if high else 1
    frame_mbs_only = draw(st.integers(0, 1))
    width_mbs = draw(st.integers(1, 256))
    height_units = draw(st.integers(1, 136))
    crop = None
    if draw(st.booleans()):
        crop = tuple(draw(st.integers(0, 3)) for _ in range(4))
    timing = None
    if draw(st.booleans()):
        timing = (draw(st.integers(1, 1001)), draw(st.integers(1, 120_000)))
    return SpsFields(
        profile_idc=profile,
        level_idc=draw(st.integers(0, 255)),
        sps_id=draw(st.integers(0, 31)),
        chroma_format_idc=chroma,
        separate_colour_plane=draw(st.integers(0, 1)) if chroma == 3 else 0,
        scaling_lists=draw(SCALING) if high else [],
        log2_max_frame_num_minus4=draw(st.integers(0, 12)),
        poc_type=draw(st.integers(0, 2)),
        poc_cycle=draw(st.lists(st.integers(-1000, 1000), max_size=8)),
        max_num_ref_frames=draw(st.integers(0, 16)),
        width_mbs=width_mbs,
        height_map_units=height_units,
        frame_mbs_only=frame_mbs_only,
        crop=crop,  # type: ignore[arg-type]
        vui_timing=timing,
        aspect_ratio_idc=draw(st.one_of(st.none(), st.sampled_from([1, 2, 14, 255]))),
        video_signal=draw(st.booleans()),
    )


def expected_size(f: SpsFields) -> tuple[int, int]:
    """Picture size by H.264 equations 7-19..7-22, written out independently."""
    array_type = 0 if f.separate_colour_plane else f.chroma_format_idc
    sub_w, sub_h = {0: (1, 1), 1: (2, 2), 2: (2, 1), 3: (1, 1)}[array_type]
    unit_x = 1 if array_type == 0 else sub_w
    unit_y = (2 - f.frame_mbs_only) * (1 if array_type == 0 else sub_h)
    left, right, top, bottom = f.crop or (0, 0, 0, 0)
    return (
        f.width_mbs * 16 - unit_x * (left + right),
        (2 - f.frame_mbs_only) * f.height_map_units * 16 - unit_y * (top + bottom),
    )


@settings(max_examples=300, deadline=None)
@given(sps_fields())
def test_sps_written_bit_by_bit(f: SpsFields) -> None:
    nal = write_sps(f)
    width, height = expected_size(f)
    if width <= 0 or height <= 0:
        with pytest.raises(SpsError):
            parse_sps(nal)
        return
    sps = parse_sps(nal)
    assert (sps.width, sps.height) == (width, height)
    assert sps.profile_idc == f.profile_idc and sps.level_idc == f.level_idc
    assert sps.frame_mbs_only == bool(f.frame_mbs_only)
    if f.vui_timing is None:
        assert sps.fps is None
    else:
        assert sps.fps == f.vui_timing[1] / (2 * f.vui_timing[0])


@given(st.binary(max_size=64))
def test_unescape_inverts_escape(data: bytes) -> None:
    assert unescape(escape(data)) == data


@settings(max_examples=500)
@given(st.binary(max_size=80))
def test_garbage_raises_only_sps_error(data: bytes) -> None:
    try:
        result = parse_sps(b"\x67" + data)
    except SpsError:
        return
    assert isinstance(result, Sps) and result.width > 0 and result.height > 0


def test_not_an_sps() -> None:
    with pytest.raises(SpsError):
        parse_sps(b"\x68\xce\x3c\x80")  # a PPS
    with pytest.raises(SpsError):
        parse_sps(b"")
