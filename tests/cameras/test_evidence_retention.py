"""Retention purge (open incidents keep their clips) and recovery of clips cut off by a
restart."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import select
from typer.testing import CliRunner

from safezone.app import create_app
from safezone.audit.models import AuditEntry
from safezone.audit.service import verify
from safezone.auth.roles import Role
from safezone.cli import app as cli_app
from safezone.db.base import utcnow
from safezone.db.engine import Database
from safezone.evidence.models import Clip
from safezone.evidence.workers import run_purge
from safezone.incidents.models import Incident
from safezone.settings import Settings, get_settings
from tests.cameras.evidence_support import PATHS, add_camera
from tests.conftest import UserFactory
from tests.fixtures.rtsp import RtspServer


@pytest.fixture(scope="module")
def rtsp() -> Iterator[RtspServer]:
    with RtspServer(PATHS) as server:
        yield server


async def _incident(db: Database, status: str) -> int:
    async with db.write() as session:
        row = Incident(kind="theft", title=f"{status} case", status=status)
        session.add(row)
        await session.flush()
        return row.id


async def _stored_clip(
    db: Database, settings: Settings, camera_id: int, *, age_days: float,
    incident_id: int | None = None,
) -> tuple[str, Path]:
    """A complete clip recorded ``age_days`` ago, its file on disk, retained per settings."""
    clip_id = str(uuid.uuid4())
    folder = settings.data_dir / "evidence"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{clip_id}.mp4"
    content = f"clip {clip_id}".encode()
    path.write_bytes(content)
    made = utcnow() - timedelta(days=age_days)
    async with db.write() as session:
        session.add(Clip(
            id=clip_id, camera_id=camera_id, camera_code="EV-RET", incident_id=incident_id,
            reason="retention", start_at=made, end_at=made + timedelta(seconds=3),
            status="complete", path=path.name, size_bytes=len(content),
            sha256=hashlib.sha256(content).hexdigest(), duration_s=3.0, created_at=made,
            completed_at=made,
            retain_until=made + timedelta(days=settings.evidence_retention_days),
        ))
    return clip_id, path


async def _status(db: Database, clip_id: str) -> Clip:
    async with db.session() as session:
        clip = await session.get(Clip, clip_id)
        assert clip is not None
        return clip


async def test_purge_keeps_clips_of_open_incidents(
    client: httpx.AsyncClient, db: Database, settings: Settings, make_user: UserFactory,
) -> None:
    cam = await add_camera(db, settings, code="EV-RET", url="rtsp://127.0.0.1:9/x")
    open_case, closed_case = await _incident(db, "open"), await _incident(db, "closed")
    acknowledged = await _incident(db, "acknowledged")
    old = await _stored_clip(db, settings, cam, age_days=31)
    old_open = await _stored_clip(db, settings, cam, age_days=45, incident_id=open_case)
    old_ack = await _stored_clip(db, settings, cam, age_days=45, incident_id=acknowledged)
    old_closed = await _stored_clip(db, settings, cam, age_days=31, incident_id=closed_case)
    recent = await _stored_clip(db, settings, cam, age_days=29)

    listed = await run_purge(db, settings, dry_run=True)
    assert {c.id for c in listed} == {old[0], old_closed[0]}
    assert all(p.exists() for _, p in (old, old_open, old_ack, old_closed, recent))
    assert (await _status(db, old[0])).status == "complete"

    purged = await run_purge(db, settings)
    assert {c.id for c in purged} == {old[0], old_closed[0]}
    for clip_id, path in (old, old_closed):
        assert not path.exists()
        row = await _status(db, clip_id)
        assert row.status == "purged" and row.sha256  # the record stays
    for clip_id, path in (old_open, old_ack, recent):
        assert path.exists() and (await _status(db, clip_id)).status == "complete"
    async with db.session() as session:
        entries = (await session.scalars(
            select(AuditEntry).where(AuditEntry.action == "clip.purge")
        )).all()
        assert {e.entity_id for e in entries} == {old[0], old_closed[0]}
        assert all(e.details["sha256"] for e in entries)
        assert (await verify(session)).ok
    assert await run_purge(db, settings) == []  # nothing left to do

    admin = await make_user(Role.admin)
    gone = await client.get(f"/api/v1/clips/{old[0]}/video.mp4", headers=admin["headers"])
    assert gone.status_code == 410 and gone.json()["code"] == "clip_purged"

    # Once the open incident closes, its clip goes at the next purge.
    async with db.write() as session:
        incident = await session.get(Incident, open_case)
        assert incident is not None
        incident.status = "closed"
    assert {c.id for c in await run_purge(db, settings)} == {old_open[0]}


async def test_purge_command(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    cam = await add_camera(db, settings, code="EV-RET", url="rtsp://127.0.0.1:9/x")
    clip_id, path = await _stored_clip(db, settings, cam, age_days=40)
    monkeypatch.setenv("SAFEZONE_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("SAFEZONE_DATABASE_URL", settings.resolved_database_url)
    get_settings.cache_clear()
    try:
        for args, still_there in ((["--dry-run"], True), ([], False)):
            # The command runs its own event loop: give it a thread of its own.
            result = await asyncio.to_thread(
                CliRunner().invoke, cli_app, ["evidence", "purge", *args]
            )
            assert result.exit_code == 0, result.output
            assert clip_id in result.output and "1 clip(s)" in result.output
            assert path.exists() is still_there
    finally:
        get_settings.cache_clear()
    assert (await _status(db, clip_id)).status == "purged"


async def test_restart_marks_interrupted_clips_failed_and_resumes_open_ones(
    db: Database, settings: Settings, rtsp: RtspServer,
) -> None:
    cam = await add_camera(db, settings, code="EV-RST", url=rtsp.url("/ev-open"))
    now = utcnow()
    rows = {
        # Left behind by a process that died: windows over.
        "recording": dict(status="recording", start=-20, end=-10, beat=None),
        "pending": dict(status="pending", start=-8, end=-5, beat=-120),
        # Still being recorded by another live process (fresh heartbeat): not ours to touch.
        "elsewhere": dict(status="recording", start=-5, end=30, beat=-2),
        # Cut off by the restart while its window is still open: recorded again from now.
        "open": dict(status="recording", start=-3, end=3, beat=None),
    }
    ids: dict[str, str] = {}
    for name, spec in rows.items():
        ids[name] = str(uuid.uuid4())
        async with db.write() as session:
            session.add(Clip(
                id=ids[name], camera_id=cam, camera_code="EV-RST", reason="restart",
                start_at=now + timedelta(seconds=spec["start"]),
                end_at=now + timedelta(seconds=spec["end"]), status=spec["status"],
                heartbeat_at=None if spec["beat"] is None
                else now + timedelta(seconds=spec["beat"]),
            ))
    stale = settings.data_dir / "evidence" / f"{ids['recording']}.mp4.part"
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_bytes(b"half a file")

    app = create_app(settings, migrate=False)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60):
        for name in ("recording", "pending"):
            clip = await _status(db, ids[name])
            assert clip.status == "failed" and clip.error == "interrupted by restart", name
        assert not stale.exists()
        assert (await _status(db, ids["elsewhere"])).status == "recording"
        recorder = app.state.services.evidence.recorder
        assert ids["elsewhere"] not in recorder.active
        await asyncio.wait_for(recorder.wait(ids["open"]), 20)
    resumed = await _status(db, ids["open"])
    assert resumed.status == "complete", resumed.error
    assert resumed.note == "resumed"
    assert resumed.unavailable_s is not None and resumed.unavailable_s >= 2.5
    async with db.session() as session:
        fails = (await session.scalars(
            select(AuditEntry.entity_id).where(AuditEntry.action == "clip.fail")
        )).all()
    assert set(fails) == {ids["recording"], ids["pending"]}
