"""Checks on what the console and the box send each other through the server.

The server does not interpret the media; it only refuses what cannot be a WebRTC session
description or ICE candidate before passing it on, so a broken or hostile console never puts
junk on a box's command topic (and a box never puts junk into an operator's browser). Each
refusal has a short reason, used in the ``call_bad_sdp`` / ``call_bad_candidate`` problems.
"""

from __future__ import annotations

import re
from typing import Any

MAX_SDP = 60_000  # the protocol's limit for call signalling (docs/protocol/sos-box.md)
MAX_CANDIDATE = 1_000
_LINE = re.compile(r"^[a-z]=[^\x00-\x08\x0a-\x1f\x7f]*$")
# DTLS-SRTP profiles only: an unencrypted RTP/AVP offer is refused.
_SECURE_PROTOS = ("UDP/TLS/RTP/SAVPF", "UDP/TLS/RTP/SAVP", "RTP/SAVPF", "TCP/DTLS/RTP/SAVPF")


class BadSignal(ValueError):
    """Why a description or candidate was refused (``code`` picks the problem message)."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


def check_sdp(sdp: object) -> str:
    """The SDP if it can be a WebRTC offer or answer with audio; :class:`BadSignal` otherwise."""
    if not isinstance(sdp, str) or not sdp.strip():
        raise BadSignal("call_bad_sdp", "missing")
    if len(sdp) > MAX_SDP:
        raise BadSignal("call_bad_sdp", "too_large")
    lines = [line for line in sdp.replace("\r\n", "\n").split("\n") if line]
    if not lines or lines[0] != "v=0":
        raise BadSignal("call_bad_sdp", "not_sdp")
    if any(not _LINE.match(line) for line in lines):
        raise BadSignal("call_bad_sdp", "not_sdp")
    types = {line[0] for line in lines}
    if not {"o", "s", "t", "m"} <= types:
        raise BadSignal("call_bad_sdp", "not_sdp")
    media = [line[2:].split() for line in lines if line.startswith("m=")]
    if any(len(m) < 4 for m in media):
        raise BadSignal("call_bad_sdp", "not_sdp")
    if not any(m[0] == "audio" for m in media):
        raise BadSignal("call_bad_sdp", "no_audio")
    if any(m[2] not in _SECURE_PROTOS for m in media if m[0] in ("audio", "video")):
        raise BadSignal("call_bad_sdp", "unencrypted")
    attributes = {line[2:].partition(":")[0] for line in lines if line.startswith("a=")}
    if "fingerprint" not in attributes:
        raise BadSignal("call_bad_sdp", "no_dtls")
    if not {"ice-ufrag", "ice-pwd"} <= attributes:
        raise BadSignal("call_bad_sdp", "no_ice")
    return sdp


def check_candidate(candidate: object) -> dict[str, Any]:
    """A trickled ICE candidate (``RTCIceCandidate.toJSON()``); None or "" means the end."""
    if candidate is None:
        return {"candidate": ""}
    if not isinstance(candidate, dict):
        raise BadSignal("call_bad_candidate", "not_object")
    text = candidate.get("candidate", "")
    if not isinstance(text, str) or len(text) > MAX_CANDIDATE:
        raise BadSignal("call_bad_candidate", "candidate")
    if text and (not text.startswith("candidate:") or len(text.split()) < 8):
        raise BadSignal("call_bad_candidate", "candidate")
    out: dict[str, Any] = {"candidate": text}
    mid = candidate.get("sdpMid")
    if mid is not None:
        if not isinstance(mid, str) or len(mid) > 32:
            raise BadSignal("call_bad_candidate", "sdpMid")
        out["sdpMid"] = mid
    index = candidate.get("sdpMLineIndex")
    if index is not None:
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < 64:
            raise BadSignal("call_bad_candidate", "sdpMLineIndex")
        out["sdpMLineIndex"] = index
    fragment = candidate.get("usernameFragment")
    if fragment is not None:
        if not isinstance(fragment, str) or len(fragment) > 256:
            raise BadSignal("call_bad_candidate", "usernameFragment")
        out["usernameFragment"] = fragment
    return out
