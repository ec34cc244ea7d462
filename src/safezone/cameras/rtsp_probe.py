"""An asyncio RTSP/1.0 health probe: OPTIONS then DESCRIBE over one TCP connection.

No video is received: the SDP alone tells whether the camera answers, whether our credentials
work, and what it streams (codec, size, frame rate). A probe costs the camera one short
connection, so a thousand cameras can be swept in about a second. Credentials are never put
into a message (``redact``) and never leave this module except in the ``Authorization`` header.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urljoin, urlsplit

from safezone import __version__
from safezone.cameras.credentials import redact, split_userinfo
from safezone.cameras.rtsp_auth import Authenticator, parse_challenges
from safezone.cameras.sdp import parse_sdp, video_info

State = Literal["online", "offline", "unauthorized", "no_video", "degraded"]
MAX_HEADER = 32 * 1024
MAX_BODY = 64 * 1024
MAX_REDIRECTS = 2
BUSY_RETRY_S = 0.25  # wait before the one retry after a 503 without Retry-After
MAX_BUSY_WAIT_S = 1  # a longer Retry-After is not waited for: the back-off takes over
USER_AGENT = f"SafeZone/{__version__} health-probe"


@dataclass(frozen=True)
class ProbeResult:
    """What one probe found. ``detail`` is safe to show and log (no credentials)."""

    state: State
    detail: str
    codec: str | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    latency_s: float | None = None
    rtsp_status: int | None = None


class RtspProtocolError(Exception):
    """The peer did not answer in RTSP/1.0."""


@dataclass(frozen=True)
class Response:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k == name), None)

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k == name]


class _Connection:
    """One RTSP control connection; requests are sent one at a time."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port, self.cseq = host, port, 0

    async def open(self) -> _Connection:
        self.reader, self.writer = await asyncio.open_connection(
            self.host, self.port, limit=MAX_HEADER
        )
        return self

    async def reopen(self) -> None:
        """A fresh connection (a camera may close it after a 401); CSeq keeps counting."""
        await self.close()
        await self.open()

    async def request(self, method: str, uri: str, headers: dict[str, str]) -> Response:
        self.cseq += 1
        lines = [f"{method} {uri} RTSP/1.0", f"CSeq: {self.cseq}", f"User-Agent: {USER_AGENT}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8"))
        await self.writer.drain()
        while True:
            response = await self._read()
            # A stray answer to an earlier request (some cameras repeat themselves) is skipped.
            if response.header("cseq") in (None, str(self.cseq)):
                return response

    async def _read(self) -> Response:
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError as exc:
            raise RtspProtocolError("response header too large") from exc
        except asyncio.IncompleteReadError as exc:
            raise ConnectionResetError("connection closed by the camera") from exc
        status_line, *header_lines = head.decode("utf-8", "replace").split("\r\n")
        version, _, rest = status_line.partition(" ")
        code, _, reason = rest.partition(" ")
        if not version.startswith("RTSP/") or not code.isdigit():
            raise RtspProtocolError(f"unexpected status line {status_line[:60]!r}")
        headers = []
        for line in header_lines:
            name, sep, value = line.partition(":")
            if sep:
                headers.append((name.strip().lower(), value.strip()))
        length_text = next((v for k, v in headers if k == "content-length"), "0")
        length = int(length_text) if length_text.isdigit() else 0
        if length > MAX_BODY:
            raise RtspProtocolError(f"response body of {length} bytes is too large")
        try:
            body = await self.reader.readexactly(length) if length else b""
        except asyncio.IncompleteReadError as exc:
            raise ConnectionResetError("connection closed mid-response") from exc
        return Response(int(code), reason.strip(), headers, body)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()


def _offline(detail: str, status: int | None = None) -> ProbeResult:
    return ProbeResult("offline", detail, rtsp_status=status)


class RtspProber:
    """Probes cameras with at most ``max_in_flight`` connections open at once."""

    def __init__(self, *, max_in_flight: int = 64, timeout_s: float = 5.0) -> None:
        self.timeout_s = timeout_s
        self._slots = asyncio.Semaphore(max_in_flight)

    async def probe(self, url: str, credentials: tuple[str, str] | None = None) -> ProbeResult:
        """OPTIONS + DESCRIBE ``url`` and classify the camera. Never raises for network trouble.

        ``credentials`` win over any user-info in ``url``; the time spent waiting for a free
        slot does not count against the timeout.
        """
        clean, user, password = split_userinfo(url)
        if credentials is None and (user or password):
            credentials = (user or "", password or "")
        async with self._slots:
            started = time.monotonic()
            try:
                async with asyncio.timeout(self.timeout_s):
                    return await self._probe(clean, credentials, started)
            except TimeoutError:
                return _offline(f"no answer within {self.timeout_s:g} s")
            except ConnectionRefusedError:
                return _offline("connection refused")
            except socket.gaierror:
                return _offline("host name not found")
            except RtspProtocolError as exc:
                return _offline(f"not an RTSP answer: {exc}")
            except OSError as exc:
                return _offline(f"network error: {exc.strerror or exc.__class__.__name__}")

    async def _probe(
        self, url: str, credentials: tuple[str, str] | None, started: float
    ) -> ProbeResult:
        busy_retried = False
        hops = 0
        while hops <= MAX_REDIRECTS:
            parts = urlsplit(url)
            if parts.scheme.lower() != "rtsp" or not parts.hostname:
                return _offline(f"unsupported stream URL {redact(url)!r} (rtsp:// expected)")
            conn = await _Connection(parts.hostname, parts.port or 554).open()
            try:
                response = await _describe(conn, url, credentials)
            finally:
                await conn.close()
            if response.status in (301, 302, 303, 307) and response.header("location"):
                url = split_userinfo(urljoin(url, response.header("location") or ""))[0]
                hops += 1
                continue
            pause = _busy_pause(response)
            if pause is not None and not busy_retried:
                # 503 is transient by definition: an NVR at its session limit, or a server
                # still tearing down the previous client's session. Ask once more.
                busy_retried = True
                await asyncio.sleep(pause)
                continue
            return _classify(response, credentials, time.monotonic() - started)
        return _offline("too many redirects")


def _busy_pause(response: Response) -> float | None:
    """How long to wait before asking again after a 503 (None: do not ask again)."""
    if response.status != 503:
        return None
    after = (response.header("retry-after") or "").strip()
    if not after:
        return BUSY_RETRY_S
    return float(after) if after.isdigit() and int(after) <= MAX_BUSY_WAIT_S else None


async def _describe(
    conn: _Connection, uri: str, credentials: tuple[str, str] | None
) -> Response:
    """OPTIONS then DESCRIBE; answer one 401 (or a stale nonce) with the server's challenge."""
    auth: Authenticator | None = None

    async def send(method: str, extra: dict[str, str]) -> Response:
        nonlocal auth
        tries = 0
        while True:
            headers = dict(extra)
            if auth is not None and (value := auth.header(method, uri)):
                headers["Authorization"] = value
            response = await conn.request(method, uri, headers)
            if response.status != 401 or credentials is None:
                return response
            challenges = parse_challenges(response.all("www-authenticate"))
            stale = any(c.params.get("stale", "").lower() == "true" for c in challenges)
            # Retry once after the first challenge; again only if the server says the nonce
            # went stale (our password was right, its nonce just expired).
            if tries >= 1 and not (stale and tries < 2):
                return response
            auth = Authenticator(*credentials, challenges)
            if not auth.usable:
                return response
            tries += 1
            if (response.header("connection") or "").lower() == "close":
                await conn.reopen()

    options = await send("OPTIONS", {})
    if options.status == 401 and credentials is None:
        return options
    return await send("DESCRIBE", {"Accept": "application/sdp"})


def _classify(
    response: Response, credentials: tuple[str, str] | None, latency: float
) -> ProbeResult:
    code = response.status
    if code in (401, 403):
        if credentials is None:
            detail = "the camera asks for a password and none is stored"
        elif code == 403:
            detail = "access forbidden for this account (403)"
        else:
            schemes = {c.scheme for c in parse_challenges(response.all("www-authenticate"))}
            detail = "wrong user name or password"
            if schemes and not schemes & {"basic", "digest"}:
                detail = f"unsupported authentication: {', '.join(sorted(schemes))}"
        return ProbeResult("unauthorized", detail, latency_s=latency, rtsp_status=code)
    if code == 404:
        return _offline("stream not found (404)", code)
    if code != 200:
        return _offline(f"RTSP {code} {response.reason}".strip(), code)
    content_type = (response.header("content-type") or "").lower()
    if "sdp" not in content_type and not response.body.lstrip().startswith(b"v="):
        return ProbeResult("no_video", "DESCRIBE gave no SDP", latency_s=latency, rtsp_status=code)
    info = video_info(parse_sdp(response.body.decode("utf-8", "replace")))
    if info is None:
        return ProbeResult(
            "no_video", "no video stream in the SDP", latency_s=latency, rtsp_status=code
        )
    summary = " ".join(
        p
        for p in (
            (info.codec or "unknown codec").upper(),
            f"{info.width}×{info.height}" if info.width and info.height else "",
            f"{info.fps:g} fps" if info.fps else "",
        )
        if p
    )
    return ProbeResult(
        "online",
        summary,
        codec=info.codec,
        width=info.width,
        height=info.height,
        fps=info.fps,
        latency_s=latency,
        rtsp_status=code,
    )
