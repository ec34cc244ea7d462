"""Engine and sessions.

SQLite runs in WAL mode with foreign keys on. Writers open their transaction with
``BEGIN IMMEDIATE`` so that two writers (the server and a CLI command, say) queue on the
database lock instead of failing half-way; readers use plain deferred transactions and are
never blocked by a writer under WAL. Writes run on connections that work on the event loop's
thread (``safezone.db.inline_sqlite``: no thread round trip per statement), reads on
aiosqlite's worker threads.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

from safezone.db import inline_sqlite

log = logging.getLogger(__name__)

_IMMEDIATE = "safezone_sqlite_immediate"
# How long a writer waits for SQLite's lock (held by another process) before failing.
WRITE_LOCK_TIMEOUT_S = 30.0


# Pages of WAL (4 KiB each) after which a committing writer checkpoints by itself. The server
# checkpoints every 30 s from a worker thread (``Database.run_checkpoints``), so the inline
# writers, which would do it on the event loop, set this high enough (40 MiB) not to get there.
_INLINE_AUTOCHECKPOINT = 10_000


def _setup_sqlite(engine: AsyncEngine, *, busy_timeout_ms: int, inline: bool = False) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Take over transaction control from the driver so that BEGIN is ours to emit.
        if dbapi_connection.isolation_level is not None:
            dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cursor.execute("PRAGMA journal_mode")
        if str(cursor.fetchone()[0]).lower() != "wal":
            # Only the first connection to a new file switches it (the mode is persistent).
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        if inline:
            cursor.execute(f"PRAGMA wal_autocheckpoint={_INLINE_AUTOCHECKPOINT}")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class Database:
    """An engine plus read and write session factories."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {"echo": echo}
        if not self.is_sqlite:
            kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        self._write_engine: AsyncEngine | None = None
        write_engine = self.engine
        if self.is_sqlite:
            _setup_sqlite(self.engine, busy_timeout_ms=int(WRITE_LOCK_TIMEOUT_S * 1000))
            path = make_url(url).database
            if path and path != ":memory:":
                # Writes on the loop's thread; waiting for the lock happens in write().
                self._write_engine = create_async_engine(
                    url, echo=echo, async_creator=inline_sqlite.creator(path), pool_size=2,
                    max_overflow=8,
                )
                _setup_sqlite(self._write_engine, busy_timeout_ms=0, inline=True)
                write_engine = self._write_engine
            write_engine = write_engine.execution_options(**{_IMMEDIATE: True})
        self._read = async_sessionmaker(self.engine, expire_on_commit=False)
        self._write = async_sessionmaker(write_engine, expire_on_commit=False)
        # SQLite admits one writer at a time. Waiting writers of this process queue here, in
        # order and without polling; SQLite's own busy handler (which sleeps in growing steps
        # of up to 100 ms) is then only met by writers of other processes, such as the CLI.
        self._write_lock: asyncio.Lock | None = asyncio.Lock() if self.is_sqlite else None

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session for reading (no commit)."""
        async with self._read() as session:
            yield session

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A unit of work: committed when the block ends, rolled back on any exception."""
        if self._write_lock is None:
            async with self._write() as session, session.begin():
                yield session
            return
        # A bounded wait: a writer nested inside another's unit of work fails loudly instead
        # of waiting for ever (SQLite's busy timeout is 30 s as well).
        await asyncio.wait_for(self._write_lock.acquire(), timeout=WRITE_LOCK_TIMEOUT_S)
        try:
            session = await self._begin_immediate()
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise
            finally:
                await session.close()
        finally:
            self._write_lock.release()

    async def _begin_immediate(self) -> AsyncSession:
        """A session holding SQLite's write lock. Another process (a CLI command) may hold it:
        the inline connection does not wait inside SQLite (that would stop the event loop), so
        the wait happens here, asleep, in growing steps up to 50 ms."""
        deadline = time.monotonic() + WRITE_LOCK_TIMEOUT_S
        delay = 0.001
        while True:
            session = self._write()
            try:
                await session.connection()  # BEGIN IMMEDIATE
                return session
            except OperationalError as exc:
                await session.close()
                if "locked" not in str(exc.orig) or time.monotonic() > deadline:
                    raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.05)

    async def run_checkpoints(self, every_s: float = 30.0) -> None:
        """Checkpoint SQLite's WAL into the database file every ``every_s`` until cancelled,
        on aiosqlite's thread (a checkpoint writes and syncs pages: milliseconds the event loop
        should not spend). PASSIVE: never waits for readers or writers. No-op elsewhere.

        Every 30 s rather than every second: each checkpoint syncs the files twice, and on
        ext4 a sync holds up every other write to the filesystem for a moment, the alarm
        path's commits included. The WAL grows meanwhile (a few MB under 2,000 boxes)."""
        if self._write_engine is None:
            return
        while True:
            await asyncio.sleep(every_s)
            try:
                async with self.engine.connect() as conn:
                    await conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
            except Exception:  # noqa: BLE001 - the next round (or a writer) checkpoints
                log.exception("WAL checkpoint failed")

    async def dispose(self) -> None:
        if self._write_engine is not None:
            await self._write_engine.dispose()
        await self.engine.dispose()
