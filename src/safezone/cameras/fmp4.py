"""Just enough ISO-BMFF (MP4) parsing for live view: split a fragmented-MP4 byte stream into
its init segment and media fragments, tell which fragments start with a key frame, and name the
H.264 codec the way Media Source Extensions want it (``avc1.PPCCLL``).

The muxer (FFmpeg's mp4 muxer through PyAV) writes bytes in whatever pieces its I/O buffer
produces, so boxes are reassembled here rather than assumed to arrive one per write;
``FragmentSink`` is the file object the muxer writes to.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass

# Sample flags (ISO/IEC 14496-12 §8.8.3.1): bit 16 is sample_is_non_sync_sample.
_NON_SYNC = 0x0001_0000
_TFHD_DEFAULT_FLAGS = 0x20
_TFHD_OPTIONAL = ((0x01, 8), (0x02, 4), (0x08, 4), (0x10, 4))
_TRUN_DATA_OFFSET = 0x01
_TRUN_FIRST_FLAGS = 0x04
_TRUN_SAMPLE_FIELDS = ((0x100, 4), (0x200, 4))  # duration, size: both precede the flags
_TRUN_SAMPLE_FLAGS = 0x400


class BoxError(ValueError):
    """The bytes are not well-formed MP4 boxes."""


@dataclass(frozen=True)
class Box:
    type: str
    data: bytes  # the whole box, header included

    @property
    def payload(self) -> bytes:
        return self.data[_header_size(self.data) :]


def _header_size(data: bytes) -> int:
    return 16 if struct.unpack_from(">I", data, 0)[0] == 1 else 8


def iter_boxes(data: bytes) -> Iterator[Box]:
    """The boxes laid end to end in ``data`` (raises ``BoxError`` on a truncated box)."""
    pos = 0
    while pos < len(data):
        if len(data) - pos < 8:
            raise BoxError(f"truncated box header at {pos}")
        size, kind = struct.unpack_from(">I4s", data, pos)
        if size == 1:
            if len(data) - pos < 16:
                raise BoxError(f"truncated large box header at {pos}")
            size = struct.unpack_from(">Q", data, pos + 8)[0]
        elif size == 0:  # "to the end of the file"
            size = len(data) - pos
        if size < 8 or pos + size > len(data):
            raise BoxError(f"box {kind!r} at {pos} has a bad size {size}")
        yield Box(kind.decode("latin-1"), data[pos : pos + size])
        pos += size


def child(box: Box, kind: str) -> Box | None:
    """The first child box of ``kind`` inside a container box."""
    for sub in iter_boxes(box.payload):
        if sub.type == kind:
            return sub
    return None


class BoxSplitter:
    """Reassembles top-level boxes from a byte stream written in arbitrary pieces."""

    def __init__(self, max_box: int = 64 * 1024 * 1024) -> None:
        self._buf = bytearray()
        self._max_box = max_box

    def feed(self, chunk: bytes) -> list[Box]:
        """Add bytes; return every box now complete."""
        self._buf += chunk
        out: list[Box] = []
        while len(self._buf) >= 8:
            size, kind = struct.unpack_from(">I4s", self._buf, 0)
            if size == 1:
                if len(self._buf) < 16:
                    break
                size = struct.unpack_from(">Q", self._buf, 8)[0]
            if size < 8 or size > self._max_box:
                raise BoxError(f"box {kind!r} has an unusable size {size}")
            if len(self._buf) < size:
                break
            out.append(Box(kind.decode("latin-1"), bytes(self._buf[:size])))
            del self._buf[:size]
        return out


def fragment_is_keyframe(moof: Box) -> bool:
    """Whether the first sample of a ``moof`` fragment is a sync sample (a key frame).

    The flags come from the track run (first-sample flags, else the first sample's own flags),
    falling back to the fragment header's default; absent all three, the fragment is treated
    as not a key frame, which only costs a new viewer a wait for the next one.
    """
    traf = child(moof, "traf")
    if traf is None:
        return False
    default: int | None = None
    if (tfhd := child(traf, "tfhd")) is not None:
        payload = tfhd.payload
        flags = int.from_bytes(payload[1:4], "big")
        pos = 8  # version + flags + track_ID
        for bit, width in _TFHD_OPTIONAL:
            if flags & bit:
                pos += width
        if flags & _TFHD_DEFAULT_FLAGS:
            default = struct.unpack_from(">I", payload, pos)[0]
    trun = child(traf, "trun")
    if trun is None:
        return False
    payload = trun.payload
    flags = int.from_bytes(payload[1:4], "big")
    count = struct.unpack_from(">I", payload, 4)[0]
    pos = 8
    if flags & _TRUN_DATA_OFFSET:
        pos += 4
    sample_flags: int | None = None
    if flags & _TRUN_FIRST_FLAGS:
        sample_flags = struct.unpack_from(">I", payload, pos)[0]
    elif flags & _TRUN_SAMPLE_FLAGS and count:
        for bit, width in _TRUN_SAMPLE_FIELDS:
            if flags & bit:
                pos += width
        sample_flags = struct.unpack_from(">I", payload, pos)[0]
    else:
        sample_flags = default
    return sample_flags is not None and not sample_flags & _NON_SYNC


def _sps(extradata: bytes) -> bytes | None:
    """The SPS NAL unit payload (after its one-byte header) from avcC or Annex B extradata."""
    if not extradata:
        return None
    if extradata[0] == 1 and len(extradata) >= 4:
        # avcC: configurationVersion, then profile, compatibility, level are the SPS's bytes.
        return extradata[1:4]
    pos = 0
    while True:
        start = extradata.find(b"\x00\x00\x01", pos)
        if start < 0 or start + 3 >= len(extradata):
            return None
        header = extradata[start + 3]
        if header & 0x1F == 7:
            return extradata[start + 4 : start + 7]
        pos = start + 3


def avc_codec(extradata: bytes | None) -> str | None:
    """``avc1.PPCCLL`` (RFC 6381) from H.264 extradata, or None if it holds no SPS."""
    sps = _sps(extradata or b"")
    if sps is None or len(sps) < 3:
        return None
    return "avc1." + sps.hex().upper()


def mime_type(extradata: bytes | None) -> str | None:
    """The MIME type a browser's ``MediaSource.isTypeSupported`` understands."""
    codec = avc_codec(extradata)
    return None if codec is None else f'video/mp4; codecs="{codec}"'


class FragmentSink:
    """PyAV's output file: reassembles boxes and hands on the init segment and fragments."""

    def __init__(
        self, on_init: Callable[[bytes], None], on_fragment: Callable[[bytes, bool], None]
    ) -> None:
        self._splitter = BoxSplitter()
        self._head: list[bytes] = []
        self._init_done = False
        self._moof: Box | None = None
        self._on_init, self._on_fragment = on_init, on_fragment

    def write(self, chunk: bytes) -> int:
        """Called by the muxer with the next bytes of the file."""
        for box in self._splitter.feed(bytes(chunk)):
            if not self._init_done:
                if box.type in ("ftyp", "moov"):
                    self._head.append(box.data)
                if box.type == "moov":
                    self._init_done = True
                    self._on_init(b"".join(self._head))
            elif box.type == "moof":
                self._moof = box
            elif box.type == "mdat" and self._moof is not None:
                self._on_fragment(self._moof.data + box.data, fragment_is_keyframe(self._moof))
                self._moof = None
        return len(chunk)
