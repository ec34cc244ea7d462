"""Helpers for the camera health tests: monitor settings for fast tests and polling."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from safezone.settings import Settings

T = TypeVar("T")

# Short intervals so a test sees transitions within a second or two. The picture check stays
# above one second: the test server's clock overlay ticks once a second, and two checks within
# the same second of a freshly started test pipeline are, rightly, the same picture.
FAST = {
    "camera_monitor_enabled": True,
    "camera_probe_interval_s": 0.3,
    "camera_frame_check_interval_s": 1.2,
    "camera_offline_alert_s": 1.0,
    "camera_backoff_s": [0.2, 0.5],
    "camera_monitor_refresh_s": 0.2,
    "camera_health_flush_s": 0.1,
    "camera_probe_timeout_s": 3.0,
}


def fast(settings: Settings) -> Settings:
    return settings.model_copy(update=FAST)


async def wait_for(
    check: Callable[[], Awaitable[T | None]], *, within_s: float = 20.0, what: str = "condition"
) -> T:
    """Poll ``check`` until it returns something truthy; fail after ``within_s`` seconds."""
    deadline = time.monotonic() + within_s
    last: T | None = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}; last seen: {last!r}")
