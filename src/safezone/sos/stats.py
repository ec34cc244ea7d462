"""Counters of the device link, exposed to admins at ``GET /api/v1/device-link/stats``."""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from safezone.db.base import utcnow

log = logging.getLogger("safezone.sos.link")

# Rejections are logged, but a flood (a broken box sending 10 messages a second) must not
# drown the log: at most this many lines per reason per minute, then a summary.
_LOG_PER_MINUTE = 5


@dataclass
class LinkStats:
    """Everything the link counts. Plain integers: the link runs on one event loop."""

    started_at: str = field(default_factory=lambda: utcnow().isoformat())
    received: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    events: Counter[str] = field(default_factory=Counter)
    heartbeats: Counter[str] = field(default_factory=Counter)
    alerts: Counter[str] = field(default_factory=Counter)
    commands: Counter[str] = field(default_factory=Counter)
    _log_window: dict[str, tuple[float, int]] = field(default_factory=dict)

    def reject(self, reason: str, detail: str, *, topic: str = "", count: int = 1) -> None:
        """Count a refused message and log why (rate-limited per reason)."""
        self.rejected[reason] += count
        now = time.monotonic()
        start, logged = self._log_window.get(reason, (now, 0))
        if now - start >= 60:
            if logged > _LOG_PER_MINUTE:
                log.warning("device link: %d more %s rejections in the last minute",
                            logged - _LOG_PER_MINUTE, reason)
            start, logged = now, 0
        logged += 1
        self._log_window[reason] = (start, logged)
        if logged <= _LOG_PER_MINUTE:
            log.warning("device link: rejected (%s) %s: %s", reason, topic, detail)

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return {
            "since": self.started_at,
            "received": dict(self.received),
            "rejected": dict(self.rejected),
            "rejected_total": sum(self.rejected.values()),
            "events": dict(self.events),
            "heartbeats": dict(self.heartbeats),
            "alerts": dict(self.alerts),
            "commands": dict(self.commands),
        }
