"""An aiosqlite-shaped SQLite connection that runs each call on the event loop's own thread.

aiosqlite runs every call (cursor, execute, fetch, close, commit) in a worker thread and
returns through the event loop: three or four loop round trips per statement. A write
transaction of the alarm pipeline has about fifteen statements, so on a busy loop (2,000 boxes
heartbeating, 20 consoles) the press waited on ~50 trips through the loop's queue while each
statement itself takes ~0.1 ms. Writes therefore use this connection (``Database.write``):
small statements run inline, the transaction finishes in one stretch, and the loop is held only
for the milliseconds the writing actually takes. Reads keep aiosqlite, so a large read (a
layer of thousands of cameras) still runs off the loop.

It must never wait on SQLite's lock while holding the loop: the busy timeout is 0, and
``Database.write`` takes the write lock with ``BEGIN IMMEDIATE`` in its own loop that sleeps
(asynchronously) between tries. Once a transaction holds the lock, WAL mode needs no further
waiting for its statements or its commit.

SQLAlchemy accepts it through ``create_async_engine(..., async_creator=connect)`` with the
aiosqlite dialect, which only ever awaits these coroutines (they complete without suspending).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any


class InlineCursor:
    """A sqlite3 cursor with aiosqlite's awaitable methods."""

    __slots__ = ("_cursor",)

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._cursor.close()

    async def execute(self, sql: str, parameters: Any = ()) -> InlineCursor:
        self._cursor.execute(sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> InlineCursor:
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    async def setinputsizes(self, *sizes: Any) -> None:
        return None

    async def nextset(self) -> None:
        return None

    def __aiter__(self) -> InlineCursor:
        return self

    async def __anext__(self) -> Any:
        row = self._cursor.fetchone()
        if row is None:
            raise StopAsyncIteration
        return row

    @property
    def description(self) -> Sequence[Any] | None:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class _CursorOpener:
    """``connection.cursor()``: usable as ``async with`` and as an awaitable, like aiosqlite's."""

    __slots__ = ("_conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __await__(self) -> Any:
        return self._open().__await__()

    async def _open(self) -> InlineCursor:
        return InlineCursor(self._conn.cursor())

    async def __aenter__(self) -> InlineCursor:
        return InlineCursor(self._conn.cursor())

    async def __aexit__(self, *exc: object) -> None:
        return None


class InlineConnection:
    """The subset of ``aiosqlite.Connection`` that SQLAlchemy's aiosqlite dialect uses."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn: sqlite3.Connection | None = conn

    @property
    def _connection(self) -> sqlite3.Connection | None:
        # aiosqlite's name: SQLAlchemy checks it before commit / rollback.
        return self._conn

    def _live(self) -> sqlite3.Connection:
        if self._conn is None:
            raise ValueError("no active connection")
        return self._conn

    @property
    def isolation_level(self) -> str | None:
        return self._live().isolation_level

    @property
    def in_transaction(self) -> bool:
        return self._live().in_transaction

    def cursor(self) -> _CursorOpener:
        return _CursorOpener(self._live())

    async def execute(self, sql: str, parameters: Any = ()) -> InlineCursor:
        return InlineCursor(self._live().execute(sql, parameters))

    async def commit(self) -> None:
        self._live().commit()

    async def rollback(self) -> None:
        self._live().rollback()

    async def create_function(self, name: str, num_params: int, func: Callable[..., Any],
                              deterministic: bool = False) -> None:
        self._live().create_function(name, num_params, func, deterministic=deterministic)

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def stop(self) -> None:
        """Close at once (SQLAlchemy's terminate)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def creator(path: str) -> Callable[[], Any]:
    """The ``async_creator`` for a database file: autocommit mode (BEGIN is ours), no busy
    waiting on the loop."""

    async def connect() -> InlineConnection:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout=0")
        return InlineConnection(conn)

    return connect
