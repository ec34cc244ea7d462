"""Database.write on SQLite: the inline writer waits for another process's lock asleep (the
event loop keeps running), gives up with a clear error after the timeout, rolls back on error,
and leaves checkpoints to the background task."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError

from safezone.db import engine as engine_module
from safezone.db.engine import Database
from safezone.db.migrate import upgrade
from safezone.sos.models import SosBox


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> Database:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'engine.db'}")
    await upgrade(db)
    return db


def _hold_lock(path: Path, seconds: float, ready: threading.Event) -> None:
    """Another writer (as a CLI command would be): holds SQLite's write lock for a while."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    ready.set()
    time.sleep(seconds)
    conn.execute("COMMIT")
    conn.close()


async def _count(db: Database) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(SosBox)) or 0)


async def test_a_write_waits_asleep_for_another_writer(sqlite_db: Database, tmp_path: Path) -> None:
    ready = threading.Event()
    holder = threading.Thread(target=_hold_lock, args=(tmp_path / "engine.db", 0.6, ready))
    holder.start()
    ready.wait(5)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    ticker = asyncio.create_task(tick())
    started = time.monotonic()
    try:
        async with sqlite_db.write() as session:
            session.add(SosBox(code="SOS-WAIT", name_th="ตู้", name_en="Box", lat=6.4, lon=101.8))
    finally:
        ticker.cancel()
        holder.join()
    waited = time.monotonic() - started
    assert waited >= 0.5, "the write went through while another connection held the lock"
    # The loop ran all along: ~60 ticks in 0.6 s; a writer blocked inside SQLite allows none.
    assert ticks >= 20
    assert await _count(sqlite_db) == 1
    await sqlite_db.dispose()


async def test_a_write_gives_up_after_the_timeout(
    sqlite_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "WRITE_LOCK_TIMEOUT_S", 0.2)
    ready = threading.Event()
    holder = threading.Thread(target=_hold_lock, args=(tmp_path / "engine.db", 1.0, ready))
    holder.start()
    ready.wait(5)
    try:
        with pytest.raises(OperationalError, match="locked"):
            async with sqlite_db.write() as session:
                session.add(SosBox(code="SOS-LATE", name_th="ตู้", name_en="Box", lat=6.4,
                                   lon=101.8))
    finally:
        holder.join()
    assert await _count(sqlite_db) == 0
    # The lock is free again and so is the process's own write lock.
    async with sqlite_db.write() as session:
        session.add(SosBox(code="SOS-NEXT", name_th="ตู้", name_en="Box", lat=6.4, lon=101.8))
    assert await _count(sqlite_db) == 1
    await sqlite_db.dispose()


async def test_an_error_rolls_the_write_back(sqlite_db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with sqlite_db.write() as session:
            session.add(SosBox(code="SOS-GONE", name_th="ตู้", name_en="Box", lat=6.4, lon=101.8))
            await session.flush()
            raise RuntimeError("half-way")
    assert await _count(sqlite_db) == 0
    await sqlite_db.dispose()


def _rows_in_main_file(path: Path) -> int:
    """Rows in the database file itself, ignoring the WAL (what a checkpoint has moved)."""
    conn = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
    try:
        return int(conn.execute("SELECT count(*) FROM sos_boxes").fetchone()[0])
    except sqlite3.OperationalError:  # the table itself is still only in the WAL
        return 0
    finally:
        conn.close()


async def test_checkpoints_run_in_the_background(sqlite_db: Database, tmp_path: Path) -> None:
    path = tmp_path / "engine.db"
    async with sqlite_db.write() as session:
        for i in range(200):
            session.add(SosBox(code=f"SOS-{i:03d}", name_th="ตู้", name_en="Box", lat=6.4,
                               lon=101.8))
    async with sqlite_db.write() as session:
        # The inline writers leave checkpoints to run_checkpoints (a worker thread).
        autocheckpoint = await session.scalar(text("PRAGMA wal_autocheckpoint"))
    assert autocheckpoint == engine_module._INLINE_AUTOCHECKPOINT  # noqa: SLF001
    assert _rows_in_main_file(path) == 0  # committed, in the WAL only
    task = asyncio.create_task(sqlite_db.run_checkpoints(every_s=0.05))
    try:
        deadline = time.monotonic() + 10
        while _rows_in_main_file(path) < 200 and time.monotonic() < deadline:  # noqa: ASYNC110 - polling a file another thread writes
            await asyncio.sleep(0.05)
    finally:
        task.cancel()
    assert _rows_in_main_file(path) == 200
    await sqlite_db.dispose()
