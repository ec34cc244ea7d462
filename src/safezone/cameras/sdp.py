"""What a camera's SDP (RFC 8866) says about its video: codec, resolution and frame rate.

Resolution comes from ``a=x-dimensions`` / ``a=framesize`` when the camera states it, else from
the H.264 SPS in ``sprop-parameter-sets`` (RFC 6184); the frame rate from ``a=framerate`` /
``a=x-framerate``, else from the SPS's VUI timing.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from functools import lru_cache

from safezone.cameras.h264 import SpsError, parse_sps

# Static RTP payload types for video (RFC 3551 table 5).
_STATIC = {26: "mjpeg", 31: "h261", 32: "mpeg2", 34: "h263"}
_CODECS = {
    "H264": "h264",
    "H265": "h265",
    "HEVC": "h265",
    "JPEG": "mjpeg",
    "MP4V-ES": "mpeg4",
    "H263-1998": "h263",
    "H263-2000": "h263",
    "VP8": "vp8",
    "VP9": "vp9",
    "AV1": "av1",
}
_DIMENSIONS = re.compile(r"^\s*(\d{1,5})\s*[,x\-]\s*(\d{1,5})\s*$")


@dataclass
class Media:
    """One ``m=`` section."""

    kind: str
    formats: list[str]
    attributes: list[tuple[str, str]] = field(default_factory=list)

    def values(self, name: str) -> list[str]:
        return [v for k, v in self.attributes if k == name]


@dataclass
class SessionDescription:
    session_attributes: list[tuple[str, str]]
    media: list[Media]

    def session_values(self, name: str) -> list[str]:
        return [v for k, v in self.session_attributes if k == name]


@dataclass(frozen=True)
class VideoInfo:
    """The first video stream of a session."""

    codec: str | None
    width: int | None
    height: int | None
    fps: float | None
    payload_type: int | None


def parse_sdp(text: str) -> SessionDescription:
    """Split an SDP into session attributes and media sections (lenient: cameras are sloppy)."""
    session: list[tuple[str, str]] = []
    media: list[Media] = []
    for raw in text.splitlines():
        line = raw.strip()
        if len(line) < 2 or line[1] != "=":
            continue
        key, value = line[0], line[2:]
        if key == "m":
            parts = value.split()
            media.append(Media(parts[0].lower() if parts else "", parts[3:]))
        elif key == "a":
            name, _, attr = value.partition(":")
            target = media[-1].attributes if media else session
            target.append((name.strip().lower(), attr.strip()))
    return SessionDescription(session, media)


def _number(text: str) -> float | None:
    try:
        value = float(text.strip().split()[0])
    except (ValueError, IndexError):
        return None
    return value if 0 < value <= 1000 else None


def _rtpmap(media: Media) -> dict[int, str]:
    """Payload type → encoding name, from ``a=rtpmap:<pt> <name>/<clock>``."""
    out: dict[int, str] = {}
    for value in media.values("rtpmap"):
        pt, _, rest = value.partition(" ")
        if pt.strip().isdigit():
            out[int(pt)] = rest.strip().split("/")[0].upper()
    return out


def _fmtp(media: Media, pt: int | None) -> dict[str, str]:
    for value in media.values("fmtp"):
        head, _, params = value.partition(" ")
        if pt is not None and head.strip() != str(pt):
            continue
        out: dict[str, str] = {}
        for item in params.split(";"):
            key, eq, val = item.strip().partition("=")
            if eq:
                out[key.strip().lower()] = val.strip()
        return out
    return {}


def _size(media: Media, pt: int | None) -> tuple[int, int] | None:
    for value in media.values("x-dimensions"):
        if m := _DIMENSIONS.match(value):
            return int(m[1]), int(m[2])
    for value in media.values("framesize"):
        head, _, dims = value.strip().partition(" ")
        if pt is not None and head != str(pt):
            continue
        if m := _DIMENSIONS.match(dims):
            return int(m[1]), int(m[2])
    return None


def _sps_of(params: dict[str, str]) -> tuple[int, int, float | None] | None:
    return _sps_from_sets(params.get("sprop-parameter-sets", ""))


@lru_cache(maxsize=1024)
def _sps_from_sets(sets: str) -> tuple[int, int, float | None] | None:
    # Cached: a thousand cameras are a handful of models announcing the same SPS every sweep.
    for item in sets.split(","):
        try:
            nal = base64.b64decode(item.strip() + "=" * (-len(item.strip()) % 4), validate=True)
        except (binascii.Error, ValueError):
            continue
        if nal and nal[0] & 0x1F == 7:
            try:
                sps = parse_sps(nal)
            except SpsError:
                return None
            return sps.width, sps.height, sps.fps
    return None


def video_info(sdp: SessionDescription) -> VideoInfo | None:
    """The first video section's codec, size and frame rate; None when there is no video."""
    video = next((m for m in sdp.media if m.kind == "video"), None)
    if video is None:
        return None
    names = _rtpmap(video)
    formats = [int(f) for f in video.formats if f.isdigit()]
    pt = formats[0] if formats else None
    if pt is None:
        codec = None
    elif pt in names:
        codec = _CODECS.get(names[pt], names[pt].lower())
    else:
        codec = _STATIC.get(pt)
    params = _fmtp(video, pt)
    size = _size(video, pt)
    fps = next(
        (
            f
            for name in ("framerate", "x-framerate")
            for v in (*video.values(name), *sdp.session_values(name))
            if (f := _number(v)) is not None
        ),
        None,
    )
    if codec == "h264" and (size is None or fps is None):
        from_sps = _sps_of(params)
        if from_sps is not None:
            size = size or (from_sps[0], from_sps[1])
            fps = fps if fps is not None else from_sps[2]
    return VideoInfo(
        codec=codec,
        width=size[0] if size else None,
        height=size[1] if size else None,
        fps=round(fps, 3) if fps is not None else None,
        payload_type=pt,
    )
