"""SDP parsing (RFC 8866, RFC 6184): codec, size and frame rate from what cameras announce."""

from __future__ import annotations

import base64
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from safezone.cameras.sdp import parse_sdp, video_info
from tests.cameras.sps_writer import SpsFields, write_sps
from tests.cameras.test_health_sps import encode_sps

GSTREAMER_SDP = (
    "v=0\r\no=- 11184472366398814861 1 IN IP4 127.0.0.1\r\ns=Session streamed with GStreamer\r\n"
    "i=rtsp-server\r\nt=0 0\r\na=tool:GStreamer\r\na=type:broadcast\r\na=control:*\r\n"
    "a=range:npt=now-\r\nm=video 0 RTP/AVP 96\r\nc=IN IP4 0.0.0.0\r\nb=AS:614\r\n"
    "a=rtpmap:96 H264/90000\r\na=framerate:15\r\na=fmtp:96 packetization-mode=1;"
    "sprop-parameter-sets=Z0LAFtoCgL/lwFqDAwNSgAAAAwCAAAAPR4sXUA==,aM48gA==;"
    "profile-level-id=42c016;level-asymmetry-allowed=1\r\na=control:stream=0\r\n"
)

# As sent by a Hikvision-style camera: audio first, size stated, no frame rate.
VENDOR_SDP = """v=0
o=- 1 1 IN IP4 192.168.1.64
s=Media Presentation
t=0 0
a=control:*
m=audio 0 RTP/AVP 0
a=rtpmap:0 PCMU/8000
m=video 0 RTP/AVP 96
a=rtpmap:96 H265/90000
a=x-dimensions:2560,1440
a=control:trackID=1
"""


def test_gstreamer_sdp() -> None:
    info = video_info(parse_sdp(GSTREAMER_SDP))
    assert info is not None
    assert (info.codec, info.width, info.height, info.fps, info.payload_type) == (
        "h264", 640, 360, 15.0, 96,
    )


def test_vendor_sdp_with_audio_first() -> None:
    info = video_info(parse_sdp(VENDOR_SDP))
    assert info is not None
    assert (info.codec, info.width, info.height, info.fps) == ("h265", 2560, 1440, None)


def test_audio_only_has_no_video() -> None:
    sdp = "v=0\r\ns=x\r\nm=audio 0 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n"
    assert video_info(parse_sdp(sdp)) is None


def test_static_payload_type_mjpeg() -> None:
    info = video_info(parse_sdp("v=0\nm=video 0 RTP/AVP 26\na=framesize:26 1280-720\n"))
    assert info is not None
    assert (info.codec, info.width, info.height) == ("mjpeg", 1280, 720)


def test_sps_fills_only_what_attributes_leave_out() -> None:
    # a=x-dimensions wins over the SPS; the SPS's VUI gives the frame rate.
    sps = base64.b64encode(encode_sps(320, 240, Fraction(12), "yuv420p", {"preset": "ultrafast"}))
    sdp = (
        "v=0\nm=video 0 RTP/AVP 97\na=rtpmap:97 H264/90000\na=x-dimensions:1920,1080\n"
        f"a=fmtp:97 packetization-mode=1; sprop-parameter-sets={sps.decode()},aM48gA==\n"
    )
    info = video_info(parse_sdp(sdp))
    assert info is not None
    assert (info.width, info.height, info.fps) == (1920, 1080, 12.0)


CODECS = {"H264": "h264", "H265": "h265", "JPEG": "mjpeg", "MP4V-ES": "mpeg4", "VP8": "vp8"}


@st.composite
def camera_sdp(draw: st.DrawFn) -> tuple[str, dict[str, object]]:
    """An SDP as cameras write them, and what it should say."""
    pt = draw(st.integers(96, 127))
    name = draw(st.sampled_from(sorted(CODECS)))
    eol = draw(st.sampled_from(["\r\n", "\n"]))
    lines = ["v=0", "o=- 0 0 IN IP4 10.0.0.2", "s=cam", "t=0 0", "a=control:*"]
    if draw(st.booleans()):
        lines += ["m=audio 0 RTP/AVP 0", "a=rtpmap:0 PCMU/8000", "a=framerate:99"]
    lines += [f"m=video 0 RTP/AVP {pt}", f"a=rtpmap:{pt} {name}/90000"]
    expected: dict[str, object] = {"codec": CODECS[name], "width": None, "height": None}
    size_form = draw(st.sampled_from(["none", "x-dimensions", "framesize", "sps"]))
    width, height = draw(st.integers(1, 4096)), draw(st.integers(1, 2160))
    if size_form == "x-dimensions":
        lines.append(f"a=x-dimensions:{width},{height}")
    elif size_form == "framesize":
        lines.append(f"a=framesize:{pt} {width}-{height}")
    elif size_form == "sps" and name == "H264":
        mbs_w, mbs_h = (width + 15) // 16, (height + 15) // 16
        width, height = mbs_w * 16, mbs_h * 16
        nal = write_sps(SpsFields(width_mbs=mbs_w, height_map_units=mbs_h))
        sets = base64.b64encode(nal).decode().rstrip("=" if draw(st.booleans()) else "")
        lines.append(f"a=fmtp:{pt} packetization-mode=1;sprop-parameter-sets={sets},aM48gA==")
    if size_form != "none" and (size_form != "sps" or name == "H264"):
        expected.update(width=width, height=height)
    fps = None
    if draw(st.booleans()):
        fps = draw(st.integers(1, 12000)) / 100
        attr = draw(st.sampled_from(["framerate", "x-framerate"]))
        lines.append(f"a={attr}:{fps:g}")
    expected["fps"] = fps
    lines.append("a=control:track1")
    return eol.join(lines) + eol, expected


@settings(max_examples=200, deadline=None)
@given(camera_sdp())
def test_generated_camera_sdp(case: tuple[str, dict[str, object]]) -> None:
    text, expected = case
    info = video_info(parse_sdp(text))
    assert info is not None
    got = {"codec": info.codec, "width": info.width, "height": info.height, "fps": info.fps}
    if expected["fps"] is not None:
        assert got.pop("fps") == pytest.approx(expected.pop("fps"), abs=1e-3)
    else:
        got.pop("fps")
        expected.pop("fps")
    assert got == expected


@settings(max_examples=300)
@given(st.text(max_size=300))
def test_any_text_parses_without_error(text: str) -> None:
    video_info(parse_sdp(text))
