"""A scripted RTSP server on a real socket, for behaviour the GStreamer server never shows
(stale nonces, legacy or SHA-256 Digest, redirects, silence, connections closed after a 401)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field


@dataclass
class Request:
    method: str
    uri: str
    headers: dict[str, str]
    connection: int  # which TCP connection (0, 1, ...) it came on


@dataclass
class Reply:
    status: int = 200
    reason: str = "OK"
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""
    close: bool = False  # close the connection after sending
    delay_s: float = 0.0

    def encode(self, cseq: str) -> bytes:
        head = [f"RTSP/1.0 {self.status} {self.reason}", f"CSeq: {cseq}"]
        head += [f"{k}: {v}" for k, v in self.headers.items()]
        if self.body:
            head.append(f"Content-Length: {len(self.body.encode())}")
        return ("\r\n".join(head) + "\r\n\r\n" + self.body).encode()


Script = Callable[[Request], Awaitable[Reply | None]]
SDP = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=scripted\r\nt=0 0\r\n"
    "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=x-dimensions:1280,720\r\n"
    "a=framerate:25\r\n"
)


def sdp_reply() -> Reply:
    return Reply(headers={"Content-Type": "application/sdp"}, body=SDP)


class ScriptedRtsp:
    """``async with ScriptedRtsp(script) as server``: ``server.url(path)``, ``requests``,
    ``max_active`` (most connections open at once)."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.requests: list[Request] = []
        self.active = 0
        self.max_active = 0
        self._connections = 0
        self._server: asyncio.Server | None = None
        self.port = 0

    def url(self, path: str = "/cam") -> str:
        return f"rtsp://127.0.0.1:{self.port}{path}"

    async def __aenter__(self) -> ScriptedRtsp:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        number = self._connections
        self._connections += 1
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                first, *lines = head.decode().split("\r\n")
                method, uri, _ = first.split(" ", 2)
                headers = {}
                for line in lines:
                    name, sep, value = line.partition(":")
                    if sep:
                        headers[name.strip().lower()] = value.strip()
                request = Request(method, uri, headers, number)
                self.requests.append(request)
                reply = await self.script(request)
                if reply is None:
                    return
                if reply.delay_s:
                    await asyncio.sleep(reply.delay_s)
                writer.write(reply.encode(headers.get("cseq", "0")))
                await writer.drain()
                if reply.close:
                    return
        finally:
            self.active -= 1
            writer.close()


def digest_params(header: str) -> dict[str, str]:
    """The parameters of a client's ``Authorization: Digest ...`` (test-side parser)."""
    return {
        k.lower(): v1 if v1 or not v2 else v2
        for k, v1, v2 in re.findall(r'(\w+)=(?:"((?:[^"\\]|\\.)*)"|([^,\s]+))', header)
    }


def digest_ok(header: str, *, method: str, password: str, algorithm: str = "md5") -> bool:
    """Check a Digest answer the way a camera does (RFC 2617 / 7616), written independently."""
    p = digest_params(header)

    def h(text: str) -> str:
        return hashlib.new(algorithm, text.encode()).hexdigest()

    ha1 = h(f"{p['username']}:{p['realm']}:{password}")
    ha2 = h(f"{method}:{p['uri']}")
    if "qop" in p:
        expected = h(f"{ha1}:{p['nonce']}:{p['nc']}:{p['cnonce']}:{p['qop']}:{ha2}")
    else:
        expected = h(f"{ha1}:{p['nonce']}:{ha2}")
    return p.get("response") == expected
