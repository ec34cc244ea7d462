"""The live hub against a real RTSP server: one shared upstream, grace period, fMP4 that
decodes, a slow viewer that cannot stall the others, reconnection."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from safezone.cameras.fmp4 import Box, fragment_is_keyframe
from safezone.cameras.live import LiveHub, StreamSource
from safezone.cameras.live_viewer import Message, Viewer
from tests.cameras.live_support import box_types, decode_frames
from tests.fixtures.rtsp import RtspServer

FPS = 15


@pytest.fixture(scope="module")
def rtsp() -> Iterator[RtspServer]:
    with RtspServer(
        [
            {"path": "/cam1", "pattern": "ball", "fps": FPS},
            {"path": "/cam2", "pattern": "smpte", "fps": FPS},
            {"path": "/gone", "pattern": "ball", "fps": FPS},
            {"path": "/locked", "pattern": "ball", "user": "admin", "password": "right"},
        ]
    ) as server:
        yield server


@pytest.fixture
async def hub() -> AsyncIterator[LiveHub]:
    live = LiveHub(grace_s=0.5)
    yield live
    await live.close()


def source(rtsp: RtspServer, path: str, **auth: Any) -> StreamSource:
    return StreamSource(url=rtsp.url(path, **auth), label=path, which="main")


async def take(viewer: Viewer, fragments: int, within_s: float = 15.0) -> list[Message]:
    """Messages up to and including the ``fragments``-th media fragment."""
    out: list[Message] = []

    async def run() -> None:
        media = 0
        while media < fragments:
            message = await viewer.next()
            out.append(message)
            media += message.kind == "media"

    await asyncio.wait_for(run(), within_s)
    return out


async def until_status(viewer: Viewer, state: str, within_s: float = 15.0) -> dict[str, Any]:
    """Read (and drop) messages until a status message with ``state``; return its body."""

    async def run() -> dict[str, Any]:
        while True:
            message = await viewer.next()
            if message.body and message.body.get("state") == state:
                return message.body

    return await asyncio.wait_for(run(), within_s)


async def until(check: Any, within_s: float = 10.0) -> None:
    """Poll a condition on threads (nothing to await on) until true, or fail."""
    for _ in range(int(within_s / 0.02)):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"not within {within_s} s")


def is_key(fragment: bytes) -> bool:
    first = fragment[: int.from_bytes(fragment[:4], "big")]
    return fragment_is_keyframe(Box("moof", first))


async def test_three_viewers_share_one_upstream_closed_after_grace(
    hub: LiveHub, rtsp: RtspServer
) -> None:
    src = source(rtsp, "/cam1")
    viewers = [hub.join(1, src) for _ in range(3)]
    results = await asyncio.gather(*(take(v, 20) for v in viewers))
    assert hub.opens == 1
    assert hub.viewer_count(1) == 3
    for messages in results:
        kinds = [m.kind for m in messages]
        # Status first, then the codec, the init segment and media from a key frame.
        init_at = kinds.index("init")
        mime = 'video/mp4; codecs="avc1.42C016"'
        assert messages[init_at - 1].body == {"type": "init", "mime": mime}
        assert kinds[init_at + 1 :].count("media") == 20
        first_media = next(m for m in messages if m.kind == "media")
        assert is_key(first_media.data)
    for viewer in viewers:
        hub.leave(viewer)
    # Inside the grace period the upstream stays open for a viewer who comes straight back.
    assert hub.is_open(1)
    await until(lambda: not hub.is_open(1) and hub.running_threads() == 0)
    # A viewer after the grace period opens a fresh upstream.
    again = hub.join(1, src)
    await take(again, 3)
    assert hub.opens == 2
    hub.leave(again)


async def test_a_viewer_within_the_grace_period_reuses_the_upstream(rtsp: RtspServer) -> None:
    hub = LiveHub(grace_s=30)
    try:
        src = source(rtsp, "/cam2")
        async with hub.watch(2, src) as first:
            await take(first, 5)
        assert hub.is_open(2)
        async with hub.watch(2, src) as second:
            messages = await take(second, 5)
        assert hub.opens == 1
        # The newcomer got the cached init segment and a GOP from its key frame at once.
        assert [m.kind for m in messages][:4] == ["control", "control", "init", "media"]
        assert is_key(messages[3].data)
    finally:
        await hub.close()
    assert hub.running_threads() == 0


async def test_output_is_fragmented_mp4_that_decodes(hub: LiveHub, rtsp: RtspServer) -> None:
    async with hub.watch(3, source(rtsp, "/cam2")) as viewer:
        messages = await take(viewer, 2 * FPS + 1)
    init = next(m.data for m in messages if m.kind == "init")
    media = [m.data for m in messages if m.kind == "media"]
    assert box_types(init) == ["ftyp", "moov"]
    for fragment in media:
        assert box_types(fragment) == ["moof", "mdat"]
    # One fragment per frame; a key frame every second (the server's GOP is FPS frames).
    keys = [i for i, fragment in enumerate(media) if is_key(fragment)]
    assert keys[:3] == [0, FPS, 2 * FPS]
    frames = await asyncio.to_thread(decode_frames, init + b"".join(media))
    assert frames == [(640, 360)] * len(media)


async def test_a_slow_viewer_skips_to_a_key_frame_and_never_stalls_others(
    rtsp: RtspServer,
) -> None:
    hub = LiveHub(grace_s=0.5, viewer_capacity=5)
    try:
        src = source(rtsp, "/cam1")
        slow = hub.join(4, src)
        fast = hub.join(4, src)
        # The fast viewer keeps up for two seconds while the slow one reads nothing.
        assert sum(m.kind == "media" for m in await take(fast, 2 * FPS)) == 2 * FPS
        assert slow.dropped > 0
        # Its backlog never exceeds its capacity, and when it reads again its video resumes
        # at a key frame (a decoder cannot start anywhere else).
        assert len([m for m in slow._items if m.kind == "media"]) <= 5  # noqa: SLF001
        resumed = [m.data for m in await take(slow, 3) if m.kind == "media"]
        assert is_key(resumed[0])
        hub.leave(slow)
        hub.leave(fast)
    finally:
        await hub.close()


async def test_the_upstream_reconnects_when_the_camera_comes_back(rtsp: RtspServer) -> None:
    # A short read timeout: a camera that stops sending is noticed within seconds.
    hub = LiveHub(grace_s=0.5, read_timeout_s=1.5)
    try:
        async with hub.watch(5, source(rtsp, "/gone")) as viewer:
            await take(viewer, 3)
            rtsp.remove("/gone")
            await until_status(viewer, "reconnecting")
            rtsp.add("/gone", "ball")
            messages = await take(viewer, 3, within_s=20)
            kinds = [m.kind for m in messages]
            # A new init segment (new connection), then media from a key frame.
            assert "init" in kinds
            after = messages[kinds.index("init") :]
            assert is_key(next(m.data for m in after if m.kind == "media"))
        assert hub.opens == 2
    finally:
        await hub.close()


async def test_a_refused_login_is_reported_to_viewers(hub: LiveHub, rtsp: RtspServer) -> None:
    src = source(rtsp, "/locked", user="admin", password="wrong")
    async with hub.watch(6, src) as viewer:
        body = await until_status(viewer, "reconnecting")
    assert body["reason"] == "unauthorized"
    assert hub.opens == 0
