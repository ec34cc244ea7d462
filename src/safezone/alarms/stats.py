"""Figures for reports: how fast alarms are acknowledged.

Over the alarms of one kind (default ``sos``) raised in ``[start, end)``:

* ``answerable`` - every alarm except those the box cancelled before anyone acknowledged them
  (nobody could have answered those; they are counted apart as ``cancelled_unanswered``);
* ``within`` - for 10, 15 and 20 s, how many answerable alarms were acknowledged within that
  many seconds of being raised (``acknowledged_at - raised_at <= t``), and that count's share of
  ``answerable`` (unacknowledged alarms count as not within). NENA's call-answering standard
  asks 90 % within 15 s; NFPA 1225 asks 90 % within 10 s;
* ``median_s`` and ``p90_s`` of the time to acknowledge, over the acknowledged alarms. The
  percentile is the nearest-rank one (the smallest value with at least 90 % of the values at or
  below it), so it is always a time that actually happened.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from safezone.alarms.models import Alarm

THRESHOLDS_S = (10, 15, 20)
# (name, seconds, share) of the published answering standards.
STANDARDS = (("nena", 15, 0.9), ("nfpa_1225", 10, 0.9))


@dataclass(frozen=True)
class AckStats:
    start: datetime
    end: datetime
    kind: str
    raised: int
    answerable: int
    acknowledged: int
    unacknowledged: int
    cancelled_unanswered: int
    within: dict[int, int] = field(default_factory=dict)
    share_within: dict[int, float | None] = field(default_factory=dict)
    median_s: float | None = None
    p90_s: float | None = None
    standards: dict[str, dict[str, float | bool | None]] = field(default_factory=dict)


def nearest_rank(values: list[float], fraction: float) -> float | None:
    """The nearest-rank percentile (``fraction`` in (0, 1]) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


async def ack_stats(
    session: AsyncSession, *, start: datetime, end: datetime, kind: str = "sos"
) -> AckStats:
    """The acknowledgement figures for alarms of ``kind`` raised in ``[start, end)``."""
    rows = (
        await session.execute(
            select(Alarm.raised_at, Alarm.acknowledged_at, Alarm.status).where(
                Alarm.kind == kind, Alarm.raised_at >= start, Alarm.raised_at < end
            )
        )
    ).all()
    times: list[float] = []
    cancelled_unanswered = 0
    for raised_at, acknowledged_at, status in rows:
        if acknowledged_at is not None:
            times.append((acknowledged_at - raised_at) / timedelta(seconds=1))
        elif status == "cancelled":
            cancelled_unanswered += 1
    answerable = len(rows) - cancelled_unanswered
    within = {t: sum(1 for s in times if s <= t) for t in THRESHOLDS_S}
    share = {t: (within[t] / answerable if answerable else None) for t in THRESHOLDS_S}
    standards: dict[str, dict[str, float | bool | None]] = {}
    for name, seconds, target in STANDARDS:
        got = share[seconds]
        standards[name] = {
            "within_s": seconds, "target_share": target, "share": got,
            "met": None if got is None else got >= target,
        }
    return AckStats(
        start=start,
        end=end,
        kind=kind,
        raised=len(rows),
        answerable=answerable,
        acknowledged=len(times),
        unacknowledged=answerable - len(times),
        cancelled_unanswered=cancelled_unanswered,
        within=within,
        share_within=share,
        median_s=statistics.median(times) if times else None,
        p90_s=nearest_rank(times, 0.9),
        standards=standards,
    )
