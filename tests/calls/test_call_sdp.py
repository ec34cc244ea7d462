"""What the server lets through between console and box: real WebRTC descriptions and
candidates pass; anything else is refused with a reason, and nothing else is ever raised."""

from __future__ import annotations

import pytest
from aiortc import RTCPeerConnection
from hypothesis import given
from hypothesis import strategies as st

from safezone.calls.sdp import MAX_SDP, BadSignal, check_candidate, check_sdp


@pytest.fixture
async def offer() -> str:
    pc = RTCPeerConnection()
    pc.addTransceiver("audio", direction="sendrecv")
    pc.addTransceiver("video", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    sdp = str(pc.localDescription.sdp)
    await pc.close()
    return sdp


def reason(value: object) -> str:
    with pytest.raises(BadSignal) as caught:
        check_sdp(value)
    return caught.value.reason


async def test_descriptions(offer: str) -> None:
    assert check_sdp(offer) == offer
    video_only = offer.replace("m=audio", "m=text")
    assert reason(None) == "missing" and reason("  ") == "missing"
    assert reason("x" * (MAX_SDP + 1)) == "too_large"
    assert reason("v=1\r\n") == "not_sdp"
    assert reason(offer.replace("\r\ns=", "\r\nS=")) == "not_sdp"
    assert reason(offer + "a=x\x07\r\n") == "not_sdp"
    assert reason(video_only) == "no_audio"
    assert reason(offer.replace("a=ice-pwd:", "a=ice-password:")) == "no_ice"


def test_candidates() -> None:
    host = "candidate:1 1 udp 2122260223 192.0.2.2 50000 typ host"
    assert check_candidate(None) == {"candidate": ""}
    assert check_candidate({"candidate": host, "sdpMid": "0", "sdpMLineIndex": 0,
                            "extra": "dropped"}) == {
        "candidate": host, "sdpMid": "0", "sdpMLineIndex": 0}
    for bad in ([], {"candidate": 5}, {"candidate": "candidate:1 1 udp"},
                {"candidate": host, "sdpMLineIndex": True}, {"candidate": host, "sdpMid": 1},
                {"candidate": host, "sdpMLineIndex": 99}, {"candidate": "x" * 1001}):
        with pytest.raises(BadSignal):
            check_candidate(bad)


@given(st.one_of(st.text(max_size=300), st.binary(max_size=50), st.none(), st.integers()))
def test_garbage_gets_a_verdict_not_an_exception(value: object) -> None:
    try:
        check_sdp(value)
    except BadSignal as exc:
        assert exc.code == "call_bad_sdp" and exc.reason


@given(st.dictionaries(st.sampled_from(["candidate", "sdpMid", "sdpMLineIndex",
                                        "usernameFragment"]),
                       st.one_of(st.text(max_size=40), st.integers(), st.none(), st.booleans())))
def test_candidate_garbage_gets_a_verdict(value: dict[str, object]) -> None:
    try:
        check_candidate(value)
    except BadSignal as exc:
        assert exc.code == "call_bad_candidate"
