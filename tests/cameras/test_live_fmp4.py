"""The fMP4 box reader: reassembly from arbitrary writes, key-frame flags, codec strings."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from safezone.cameras.fmp4 import (
    Box,
    BoxError,
    BoxSplitter,
    avc_codec,
    fragment_is_keyframe,
    iter_boxes,
    mime_type,
)

# The SPS/PPS a GStreamer x264 baseline stream announces in its SDP (Annex B, as FFmpeg's RTSP
# demuxer hands it over): profile 66 (0x42), constraints 0xC0, level 2.2 (0x16).
ANNEX_B = bytes.fromhex(
    "0000000167 42c016 da0280bfe5c05a830303528000000300800000 0f478b1750"
    "0000000168ce3c80".replace(" ", "")
)
# An avcC record (what MP4 files carry): version 1, High profile 100 (0x64), level 4.0 (0x28).
AVCC = bytes.fromhex("01640028ffe1")


def box(kind: str, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind.encode()) + payload


def full_box(kind: str, flags: int, body: bytes, version: int = 0) -> bytes:
    return box(kind, bytes([version]) + flags.to_bytes(3, "big") + body)


def moof(*, trun_flags: int, trun_body: bytes, tfhd_flags: int = 0, tfhd_body: bytes = b"") -> Box:
    tfhd = full_box("tfhd", tfhd_flags, struct.pack(">I", 1) + tfhd_body)
    trun = full_box("trun", trun_flags, trun_body)
    data = box("moof", full_box("mfhd", 0, struct.pack(">I", 1)) + box("traf", tfhd + trun))
    return Box("moof", data)


SYNC = 0x0200_0000  # depends on no other sample
NON_SYNC = 0x0101_0000  # depends on others, is_non_sync_sample


def test_codec_string_from_annex_b_and_avcc() -> None:
    assert avc_codec(ANNEX_B) == "avc1.42C016"
    assert mime_type(ANNEX_B) == 'video/mp4; codecs="avc1.42C016"'
    assert avc_codec(AVCC) == "avc1.640028"
    assert avc_codec(b"") is None
    assert avc_codec(None) is None
    assert avc_codec(bytes.fromhex("0000000168ce3c80")) is None  # a PPS only


def test_first_sample_flags_decide_the_key_frame() -> None:
    # data_offset (0x01) + first_sample_flags (0x04) + per-sample size (0x200)
    key = moof(trun_flags=0x205, trun_body=struct.pack(">IiII", 1, 100, SYNC, 4000))
    delta = moof(trun_flags=0x205, trun_body=struct.pack(">IiII", 1, 100, NON_SYNC, 900))
    assert fragment_is_keyframe(key)
    assert not fragment_is_keyframe(delta)


def test_per_sample_flags_and_header_defaults() -> None:
    # Per-sample duration, size and flags (0x100 | 0x200 | 0x400): the first sample's flags.
    per_sample = moof(trun_flags=0x701, trun_body=struct.pack(">IiIII", 1, 100, 6000, 800, SYNC))
    assert fragment_is_keyframe(per_sample)
    # No flags in the run: the fragment header's default (0x20) applies, after duration (0x08).
    defaults = moof(
        trun_flags=0x001, trun_body=struct.pack(">Ii", 1, 100),
        tfhd_flags=0x28, tfhd_body=struct.pack(">II", 6000, NON_SYNC),
    )
    assert not fragment_is_keyframe(defaults)
    unknown = moof(trun_flags=0x001, trun_body=struct.pack(">Ii", 1, 100))
    assert not fragment_is_keyframe(unknown)


def test_truncated_boxes_are_refused() -> None:
    data = box("ftyp", b"isom\x00\x00\x02\x00") + box("mdat", b"x" * 20)
    assert [b.type for b in iter_boxes(data)] == ["ftyp", "mdat"]
    with pytest.raises(BoxError):
        list(iter_boxes(data[:-1]))
    with pytest.raises(BoxError):
        BoxSplitter().feed(struct.pack(">I4s", 4, b"moof"))


STREAM = (
    box("ftyp", b"isom\x00\x00\x02\x00isomiso6")
    + box("moov", box("mvhd", b"\x00" * 100))
    + b"".join(box("moof", bytes([i]) * 40) + box("mdat", bytes([i]) * (i * 37)) for i in range(6))
    # A 64-bit "large" size box must be handled too.
    + struct.pack(">I4sQ", 1, b"mdat", 16 + 5) + b"large"
)


@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=30))
def test_splitter_reassembles_any_chunking(cuts: list[int]) -> None:
    points = [0, *sorted(cuts), len(STREAM)]
    splitter = BoxSplitter()
    boxes = []
    for a, b in zip(points, points[1:], strict=False):
        boxes.extend(splitter.feed(STREAM[a:b]))
    assert b"".join(b.data for b in boxes) == STREAM
    assert [b.type for b in boxes] == ["ftyp", "moov", *["moof", "mdat"] * 6, "mdat"]
    assert boxes[-1].payload == b"large"
