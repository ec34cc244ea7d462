"""``safezone camera import FILE [--dry-run] [--owner NAME]`` as a person runs it: a readable
table, exit 0 when every row is fine, 1 when some rows failed (good rows still imported), 2 when
the file cannot be used."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from safezone.audit.models import AuditEntry
from safezone.cameras.models import Camera
from safezone.db.engine import Database
from tests.cameras.registry_support import SECRET, THAI, count, csv_bytes, row


def _cli(database_url: str, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SAFEZONE_DATABASE_URL": database_url, "SAFEZONE_DATA_DIR": str(tmp),
           "SAFEZONE_LANG": "en"}
    return subprocess.run([sys.executable, "-m", "safezone", "camera", "import", *args],
                          env=env, capture_output=True, text=True, timeout=60)


async def test_cli_import_report_and_exit_codes(
    database_url: str, db: Database, tmp_path: Path, partner_org: int
) -> None:
    mixed = tmp_path / "เทศบาล.csv"
    mixed.write_bytes(csv_bytes(THAI, [
        row("C-1", "กล้องหนึ่ง", url="rtsp://192.0.2.1/1", user="u", password=SECRET),
        row("C-2", "กล้องสอง", lat="abc"),
        row("C-3", "กล้องสาม", owner="Test Shop"),
    ], encoding="cp874"))

    dry = await asyncio.to_thread(_cli, database_url, tmp_path, str(mixed), "--dry-run")
    assert dry.returncode == 1, dry.stderr
    assert "dry run: nothing written" in dry.stdout
    assert await count(db) == 0 and await count(db, AuditEntry) == 0

    done = await asyncio.to_thread(_cli, database_url, tmp_path, str(mixed), "--owner", "ร้านทดสอบ")
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "file: เทศบาล.csv (csv, cp874, header row 1)"
    assert any(line.split()[:3] == ["2", "C-1", "created"] for line in lines)
    failed = next(line for line in lines if line.split()[:2] == ["3", "C-2"])
    assert "failed" in failed and "ละติจูด: must be a number." in failed
    assert lines[-1] == "3 rows: 2 created, 0 updated, 0 unchanged, 1 failed"
    assert SECRET not in done.stdout + done.stderr and "Traceback" not in done.stderr
    async with db.session() as session:
        owners = dict((await session.execute(select(Camera.code, Camera.organisation_id))).all())
    assert owners == {"C-1": partner_org, "C-3": partner_org}

    fixed = tmp_path / "fixed.csv"
    fixed.write_bytes(csv_bytes(THAI, [row("C-1", "กล้องหนึ่ง"), row("C-2", "กล้องสอง")],
                                encoding="utf-8-sig"))
    clean = await asyncio.to_thread(_cli, database_url, tmp_path, str(fixed), "--json")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    report = json.loads(clean.stdout)
    assert [(r["row"], r["outcome"]) for r in report["rows"]] == [(2, "unchanged"),
                                                                   (3, "created")]
    assert await count(db) == 3


async def test_cli_unusable_file_exits_2(database_url: str, db: Database, tmp_path: Path
                                         ) -> None:
    junk = tmp_path / "cams.xls"
    junk.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(64))
    result = await asyncio.to_thread(_cli, database_url, tmp_path, str(junk))
    assert result.returncode == 2
    assert ".xls files are not supported" in result.stderr and "Traceback" not in result.stderr
    gone = await asyncio.to_thread(_cli, database_url, tmp_path, str(tmp_path / "nope.csv"))
    assert gone.returncode == 2 and "nope.csv" in gone.stderr
    assert await count(db) == 0
