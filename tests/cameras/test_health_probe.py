"""The RTSP health probe against the real GStreamer server (Basic and Digest) and against a
scripted server for what GStreamer never does."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from safezone.cameras.rtsp_auth import digest_response, parse_challenges
from safezone.cameras.rtsp_probe import RtspProber
from tests.cameras.rtsp_script import (
    Reply,
    Request,
    Script,
    ScriptedRtsp,
    digest_ok,
    sdp_reply,
)
from tests.fixtures.rtsp import RtspServer

PASSWORD = "s3cret pass/word"


@pytest.fixture(scope="module", params=["basic", "digest"])
def gst(request: pytest.FixtureRequest) -> Iterator[RtspServer]:
    paths = [
        {"path": "/open", "width": 320, "height": 240, "fps": 10},
        {"path": "/locked", "user": "viewer", "password": PASSWORD},
    ]
    with RtspServer(paths, auth_method=request.param) as server:
        yield server


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_open_path_is_online_with_media(gst: RtspServer) -> None:
    result = await RtspProber().probe(gst.url("/open"))
    assert result.state == "online", result
    assert (result.codec, result.width, result.height, result.fps) == ("h264", 320, 240, 10.0)
    assert result.latency_s is not None and result.latency_s > 0


async def test_right_password_is_online(gst: RtspServer) -> None:
    result = await RtspProber().probe(gst.url("/locked"), ("viewer", PASSWORD))
    assert (result.state, result.width, result.height) == ("online", 640, 360)


async def test_password_in_url_works_and_stays_out_of_detail(gst: RtspServer) -> None:
    url = gst.url("/locked", "viewer", "s3cret%20pass%2Fword")
    assert (await RtspProber().probe(url)).state == "online"
    bad = await RtspProber().probe(gst.url("/locked", "viewer", "guessed-wrong"))
    assert bad.state == "unauthorized"
    assert "guessed-wrong" not in repr(bad)


async def test_wrong_or_missing_password_is_unauthorized(gst: RtspServer) -> None:
    wrong = await RtspProber().probe(gst.url("/locked"), ("viewer", "nope"))
    assert (wrong.state, wrong.detail, wrong.rtsp_status) == (
        "unauthorized", "wrong user name or password", 401,
    )
    missing = await RtspProber().probe(gst.url("/locked"))
    assert missing.state == "unauthorized"
    assert "none is stored" in missing.detail


async def test_unknown_path_and_closed_port_are_offline(gst: RtspServer) -> None:
    missing = await RtspProber().probe(gst.url("/nothing-here"))
    assert (missing.state, missing.rtsp_status) == ("offline", 404)
    closed = await RtspProber().probe(f"rtsp://127.0.0.1:{closed_port()}/cam")
    assert (closed.state, closed.detail) == ("offline", "connection refused")


async def test_cap_on_probes_in_flight() -> None:
    async def slow(request: Request) -> Reply:
        return sdp_reply() if request.method == "DESCRIBE" else Reply(delay_s=0.05)

    async with ScriptedRtsp(slow) as server:
        prober = RtspProber(max_in_flight=3)
        results = await asyncio.gather(*(prober.probe(server.url(f"/c{i}")) for i in range(12)))
    assert {r.state for r in results} == {"online"}
    assert server.max_active == 3


async def test_silence_is_offline_after_the_timeout() -> None:
    async def silent(request: Request) -> Reply:
        await asyncio.sleep(10)
        return Reply()

    async with ScriptedRtsp(silent) as server:
        result = await RtspProber(timeout_s=0.3).probe(server.url())
    assert (result.state, result.detail) == ("offline", "no answer within 0.3 s")


async def test_http_server_is_not_rtsp() -> None:
    server = await asyncio.start_server(
        lambda r, w: (w.write(b"HTTP/1.1 400 Bad Request\r\n\r\n"), w.close()), "127.0.0.1", 0
    )
    port = server.sockets[0].getsockname()[1]
    try:
        result = await RtspProber(timeout_s=2).probe(f"rtsp://127.0.0.1:{port}/")
    finally:
        server.close()
    assert result.state == "offline" and result.detail.startswith("not an RTSP answer")


async def test_audio_only_is_no_video() -> None:
    async def audio(request: Request) -> Reply:
        if request.method != "DESCRIBE":
            return Reply()
        body = "v=0\r\ns=a\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
        return Reply(headers={"Content-Type": "application/sdp"}, body=body)

    async with ScriptedRtsp(audio) as server:
        result = await RtspProber().probe(server.url())
    assert (result.state, result.detail) == ("no_video", "no video stream in the SDP")


def digest_camera(*, qop: bool, algorithm: str = "MD5", stale_once: bool = False,
                  close_after_401: bool = False) -> Script:
    """A camera that wants Digest for DESCRIBE (its password: "pw") and checks answers."""
    state = {"nonce": 0, "stale_sent": False}

    async def script(request: Request) -> Reply:
        if request.method == "OPTIONS":
            return Reply(headers={"Public": "OPTIONS, DESCRIBE"})
        auth = request.headers.get("authorization", "")
        nonce = f"nonce{state['nonce']}"
        fresh = f'nonce="{nonce}"' in auth
        ok = auth.startswith("Digest ") and digest_ok(
            auth, method="DESCRIBE", password="pw",
            algorithm="sha256" if algorithm.startswith("SHA") else "md5",
        )
        if ok and fresh and stale_once and not state["stale_sent"]:
            state["stale_sent"], state["nonce"] = True, state["nonce"] + 1
            challenge = f'Digest realm="cam", nonce="nonce{state["nonce"]}", stale=TRUE'
            return Reply(401, "Unauthorized", {"WWW-Authenticate": challenge})
        if ok and fresh:
            return sdp_reply()
        challenge = f'Digest realm="cam", nonce="{nonce}", algorithm={algorithm}'
        if qop:
            challenge += ', qop="auth,auth-int", opaque="xyz"'
        headers = {"WWW-Authenticate": challenge}
        if close_after_401:
            headers["Connection"] = "close"
        return Reply(401, "Unauthorized", headers, close=close_after_401)

    return script


@pytest.mark.parametrize(
    "options",
    [
        {"qop": True},
        {"qop": False},  # RFC 2069 legacy Digest, still common on older cameras
        {"qop": True, "algorithm": "SHA-256"},
        {"qop": True, "stale_once": True},
        {"qop": False, "close_after_401": True},
    ],
    ids=["qop-auth", "legacy", "sha256", "stale-nonce", "closes-after-401"],
)
async def test_digest_variants(options: dict[str, object]) -> None:
    async with ScriptedRtsp(digest_camera(**options)) as server:  # type: ignore[arg-type]
        good = await RtspProber(timeout_s=2).probe(server.url(), ("admin", "pw"))
        bad = await RtspProber(timeout_s=2).probe(server.url(), ("admin", "wrong"))
    assert (good.state, good.width, good.height, good.fps) == ("online", 1280, 720, 25.0)
    assert bad.state == "unauthorized"
    # The request line never carries user-info.
    assert all("admin" not in r.uri and "@" not in r.uri for r in server.requests)


async def test_redirect_is_followed() -> None:
    async def script(request: Request) -> Reply:
        if request.method == "DESCRIBE" and request.uri.endswith("/old"):
            return Reply(302, "Found", {"Location": "/new"})
        return sdp_reply() if request.method == "DESCRIBE" else Reply()

    async with ScriptedRtsp(script) as server:
        result = await RtspProber().probe(server.url("/old"))
    assert result.state == "online"
    assert [r.uri for r in server.requests if r.method == "DESCRIBE"] == [
        server.url("/old"), server.url("/new"),
    ]


def test_rfc2617_digest_example() -> None:
    value = digest_response(
        params={"realm": "testrealm@host.com", "qop": "auth,auth-int",
                "nonce": "dcd98b7102dd2f0e8b11d0f600bfb0c093",
                "opaque": "5ccc069c403ebaf9f0171e9517f40e41"},
        method="GET", uri="/dir/index.html", username="Mufasa", password="Circle Of Life",
        nc=1, cnonce="0a4f113b",
    )
    assert value is not None
    assert 'response="6629fae49393a05397450978507c4ef1"' in value
    assert "qop=auth, nc=00000001" in value and 'opaque="5ccc069c403ebaf9f0171e9517f40e41"' in value


@pytest.mark.parametrize(
    ("algorithm", "response"),
    [
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
        ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
    ],
)
def test_rfc7616_digest_examples(algorithm: str, response: str) -> None:
    value = digest_response(
        params={"realm": "http-auth@example.org", "qop": "auth, auth-int",
                "algorithm": algorithm,
                "nonce": "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
                "opaque": "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"},
        method="GET", uri="/dir/index.html", username="Mufasa", password="Circle of Life",
        nc=1, cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
    )
    assert value is not None and f'response="{response}"' in value


def test_unknown_digest_algorithm() -> None:
    params = {"realm": "r", "nonce": "n", "algorithm": "SHA-512-256"}
    assert digest_response(params=params, method="DESCRIBE", uri="rtsp://x/",
                           username="u", password="p") is None


def test_several_challenges_in_one_header() -> None:
    found = parse_challenges(
        ['Digest realm="cam, 2nd floor", nonce="a\\"b", qop="auth,auth-int", Basic realm="cam"',
         "Negotiate"]
    )
    assert [(c.scheme, c.params) for c in found] == [
        ("digest", {"realm": "cam, 2nd floor", "nonce": 'a"b', "qop": "auth,auth-int"}),
        ("basic", {"realm": "cam"}),
        ("negotiate", {}),
    ]


VALUE = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=30)


@given(realm=VALUE, nonce=VALUE, opaque=VALUE, stale=st.booleans())
def test_quoted_challenge_round_trip(realm: str, nonce: str, opaque: str, stale: bool) -> None:
    def q(v: str) -> str:
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'

    header = f"Digest realm={q(realm)},nonce={q(nonce)} , opaque={q(opaque)}"
    if stale:
        header += ", stale=TRUE"
    [challenge] = parse_challenges([header + ", Basic realm=" + q(realm)])[:1]
    expected = {"realm": realm, "nonce": nonce, "opaque": opaque}
    if stale:
        expected["stale"] = "TRUE"
    assert challenge.scheme == "digest" and challenge.params == expected


@pytest.mark.parametrize(
    ("busy_answers", "retry_after", "state", "describes"),
    [
        (1, None, "online", 2),  # busy once (a session still being torn down): asked again
        (2, None, "offline", 2),  # still busy: one retry only, the back-off does the rest
        (1, "30", "offline", 1),  # "come back in 30 s" is not waited for
        (1, "1", "online", 2),
    ],
)
async def test_busy_camera_is_asked_once_more(
    busy_answers: int, retry_after: str | None, state: str, describes: int
) -> None:
    seen = {"describe": 0}

    async def busy(request: Request) -> Reply:
        if request.method != "DESCRIBE":
            return Reply()
        seen["describe"] += 1
        if seen["describe"] <= busy_answers:
            headers = {"Retry-After": retry_after} if retry_after else {}
            return Reply(503, "Service Unavailable", headers)
        return sdp_reply()

    async with ScriptedRtsp(busy) as server:
        result = await RtspProber(timeout_s=3).probe(server.url())
    assert (result.state, seen["describe"]) == (state, describes), result
    if state == "offline":
        assert result.detail == "RTSP 503 Service Unavailable"
