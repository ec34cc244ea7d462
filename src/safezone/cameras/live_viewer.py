"""One person watching one camera: what the live hub queues for them.

Each viewer has a bounded queue of media fragments. One that cannot keep up loses what it has
not taken and resumes at the next key frame (a decoder can start nowhere else), so a slow
connection never holds up the upstream or the other viewers. Control messages (codec, status)
and init segments are never dropped.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from safezone.cameras.live import Upstream


@dataclass(frozen=True, slots=True)
class Message:
    """What a viewer is sent: a JSON ``control`` body, the ``init`` segment or ``media``."""

    kind: str
    data: bytes = b""
    body: dict[str, Any] | None = None


class ViewerClosed(Exception):
    """The viewer has left (or the hub is shutting down)."""


class Viewer:
    """One person watching one camera: a bounded queue filled by the upstream."""

    def __init__(self, upstream: Upstream, capacity: int) -> None:
        self.upstream = upstream
        self.capacity = capacity
        self.need_key = True
        self.dropped = 0
        self.sent_bytes = 0
        self._items: deque[Message] = deque()
        self._media = 0
        self._ready = asyncio.Event()
        self._closed = False

    def _push(self, item: Message) -> None:
        self._items.append(item)
        if item.kind == "media":
            self._media += 1
        self._ready.set()

    def _drop_media(self) -> None:
        kept = deque(m for m in self._items if m.kind != "media")
        self.dropped += len(self._items) - len(kept)
        self._items, self._media = kept, 0

    def offer(self, data: bytes, key: bool) -> None:
        """Queue a media fragment, or drop it while waiting for a key frame."""
        if self.need_key and not key:
            self.dropped += 1
            return
        if self._media >= self.capacity:
            # Too slow: throw away the backlog and restart at a key frame, so this viewer
            # never holds up the upstream or anyone else.
            self._drop_media()
            self.need_key = True
            if not key:
                self.dropped += 1
                return
        self.need_key = False
        self._push(Message("media", data))

    def start(self, mime: str, init: bytes, gop: list[bytes]) -> None:
        """(Re)start the stream: codec, init segment, then the current GOP if there is one."""
        self._drop_media()
        self._push(Message("control", body={"type": "init", "mime": mime}))
        self._push(Message("init", init))
        self.need_key = True
        for index, fragment in enumerate(gop):
            self.offer(fragment, key=index == 0)

    def notify(self, body: dict[str, Any]) -> None:
        self._push(Message("control", body=body))

    async def next(self) -> Message:
        """The next message; raises ``ViewerClosed`` once the viewer has been ended."""
        while not self._items:
            if self._closed:
                raise ViewerClosed
            self._ready.clear()
            await self._ready.wait()
        item = self._items.popleft()
        if item.kind == "media":
            self._media -= 1
        self.sent_bytes += len(item.data)
        return item

    def end(self) -> None:
        self._closed = True
        self._ready.set()
