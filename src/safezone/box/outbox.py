"""The durable outbox: every event is written here *before* it is published, and leaves only
when the server acknowledges its ``event_id`` (which it does after committing it).

SQLite in WAL mode. ``synchronous=FULL`` (the default) makes each insert survive a power cut;
the simulator uses NORMAL (survives a process crash). One store may hold several boxes' events
(the simulator runs many boxes in one process); :class:`Outbox` is one box's view of it. The
per-box ``seq`` counter lives in the same file and is bumped in the same transaction as the
insert, so it stays monotonic across restarts.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    event_id TEXT PRIMARY KEY,
    box TEXT NOT NULL,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    payload BLOB NOT NULL,
    created_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (box, next_at);
CREATE TABLE IF NOT EXISTS counters (box TEXT PRIMARY KEY, seq INTEGER NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class Pending:
    event_id: str
    seq: int
    kind: str
    payload: bytes
    attempts: int
    next_at: float


class OutboxStore:
    """The SQLite file (one connection, used from the event loop's thread)."""

    def __init__(self, path: Path, *, sync: str = "full") -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(f"PRAGMA synchronous={'FULL' if sync == 'full' else 'NORMAL'}")
        self.db.execute("PRAGMA busy_timeout=5000")
        self.db.executescript(_SCHEMA)

    def close(self) -> None:
        self.db.close()

    def box(self, code: str) -> Outbox:
        """The outbox of one box."""
        return Outbox(self, code)


class Outbox:
    """One box's pending events."""

    def __init__(self, store: OutboxStore, code: str) -> None:
        self.store = store
        self.code = code

    def add(
        self, build: Callable[[int], tuple[str, str, bytes]], *, not_before: float | None = None
    ) -> tuple[str, int]:
        """Insert the event ``build(seq)`` returns as (event_id, kind, payload) durably;
        returns (event_id, seq). ``not_before``: do not send before this (epoch seconds)."""
        db = self.store.db
        db.execute("BEGIN IMMEDIATE")
        try:
            row = db.execute("SELECT seq FROM counters WHERE box = ?", (self.code,)).fetchone()
            seq = (row[0] if row else 0) + 1
            db.execute(
                "INSERT INTO counters (box, seq) VALUES (?, ?) "
                "ON CONFLICT (box) DO UPDATE SET seq = excluded.seq",
                (self.code, seq),
            )
            event_id, kind, payload = build(seq)
            now = time.time()
            db.execute(
                "INSERT INTO outbox (event_id, box, seq, kind, payload, created_at, next_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (event_id, self.code, seq, kind, payload, now, not_before or now),
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return event_id, seq

    def due(self, now: float, limit: int = 100) -> list[Pending]:
        """Events whose next attempt is due, oldest first."""
        rows = self.store.db.execute(
            "SELECT event_id, seq, kind, payload, attempts, next_at FROM outbox "
            "WHERE box = ? AND next_at <= ? ORDER BY next_at, seq LIMIT ?",
            (self.code, now, limit),
        ).fetchall()
        return [Pending(*row) for row in rows]

    def next_due(self) -> float | None:
        """When the next attempt is due (epoch seconds), or None when empty."""
        row = self.store.db.execute(
            "SELECT min(next_at) FROM outbox WHERE box = ?", (self.code,)
        ).fetchone()
        return float(row[0]) if row and row[0] is not None else None

    def sent(self, event_id: str, next_at: float) -> None:
        """Record an attempt; try again at ``next_at`` unless acknowledged first."""
        self.store.db.execute(
            "UPDATE outbox SET attempts = attempts + 1, next_at = ? WHERE event_id = ?",
            (next_at, event_id),
        )

    def all_due_now(self, now: float) -> None:
        """Make every pending event due (after a reconnect: acks may have been lost)."""
        self.store.db.execute(
            # attempts > 0: a jittered power-loss report not sent yet keeps its delay.
            "UPDATE outbox SET next_at = ? WHERE box = ? AND next_at > ? AND attempts > 0",
            (now, self.code, now),
        )

    def acknowledged(self, event_id: str) -> bool:
        """Remove an acknowledged event; False if it was not (or no longer) pending."""
        cur = self.store.db.execute(
            "DELETE FROM outbox WHERE event_id = ? AND box = ?", (event_id, self.code)
        )
        return cur.rowcount > 0

    def count(self) -> int:
        row = self.store.db.execute(
            "SELECT count(*) FROM outbox WHERE box = ?", (self.code,)
        ).fetchone()
        return int(row[0])

    def pending(self) -> list[Pending]:
        """Everything still waiting for an ack, oldest first."""
        rows = self.store.db.execute(
            "SELECT event_id, seq, kind, payload, attempts, next_at FROM outbox "
            "WHERE box = ? ORDER BY seq",
            (self.code,),
        ).fetchall()
        return [Pending(*row) for row in rows]
