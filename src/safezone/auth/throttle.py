"""Throttling of repeated failed logins, per username and per client address.

Counters live in the database so that every app process behind a proxy sees the same picture.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from safezone.auth.models import LoginThrottle

MAX_BLOCK = timedelta(days=1)


@dataclass(frozen=True)
class ThrottlePolicy:
    max_failures: int
    window: timedelta
    block: timedelta


def keys_for(username: str, client: str | None) -> list[str]:
    keys = [f"user:{username.strip().lower()[:150]}"]
    if client:
        keys.append(f"ip:{client[:150]}")
    return keys


async def blocked_for(session: AsyncSession, keys: list[str], now: datetime) -> int:
    """Seconds until the longest block on any of the keys ends (0 when not blocked)."""
    wait = 0
    for key in keys:
        row = await session.get(LoginThrottle, key)
        if row and row.blocked_until and row.blocked_until > now:
            wait = max(wait, int((row.blocked_until - now).total_seconds()) + 1)
    return wait


async def record_failure(
    session: AsyncSession, keys: list[str], now: datetime, policy: ThrottlePolicy
) -> None:
    """Count a failure; past the limit block, doubling the block with each further failure."""
    for key in keys:
        row = await session.get(LoginThrottle, key)
        if row is None:
            row = LoginThrottle(key=key, failures=0, window_start=now)
            session.add(row)
        elif now - row.window_start > policy.window and not (
            row.blocked_until and row.blocked_until > now
        ):
            row.failures, row.window_start, row.blocked_until = 0, now, None
        row.failures += 1
        over = row.failures - policy.max_failures
        if over >= 0:
            row.blocked_until = now + min(policy.block * (2 ** min(over, 20)), MAX_BLOCK)


async def clear(session: AsyncSession, username: str) -> None:
    """A successful login clears the username's counter (not the address's)."""
    await session.execute(
        delete(LoginThrottle).where(LoginThrottle.key == keys_for(username, None)[0])
    )
