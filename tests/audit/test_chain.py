"""The audit chain records actions and `safezone audit verify` catches any tampering."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import httpx
import pytest
from sqlalchemy import text

from safezone.audit.service import Actor, record, verify
from safezone.auth.roles import Role
from safezone.db.engine import Database
from tests.conftest import UserFactory


def _cli(database_url: str, *args: str, tmp: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "SAFEZONE_DATABASE_URL": database_url,
        "SAFEZONE_DATA_DIR": tmp,
        "SAFEZONE_LANG": "en",
    }
    return subprocess.run(
        [sys.executable, "-m", "safezone", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def _fill(db: Database, n: int = 6) -> None:
    async with db.write() as session:
        for i in range(n):
            await record(
                session,
                actor=Actor(7, "somsak", "10.0.0.1"),
                action="test.action",
                entity_type="thing",
                entity_id=i,
                details={"i": i, "ไทย": "ข้อความ"},
            )


async def test_chain_verifies_and_links(db: Database) -> None:
    await _fill(db)
    async with db.session() as session:
        verdict = await verify(session)
        rows = (
            await session.execute(text("SELECT id, prev_hash, hash FROM audit_entries ORDER BY id"))
        ).all()
    assert verdict.ok and verdict.checked == 6
    assert [r.id for r in rows] == [1, 2, 3, 4, 5, 6]
    for before, after in zip(rows, rows[1:], strict=False):
        assert after.prev_hash == before.hash
    assert verdict.head_hash == rows[-1].hash


async def test_concurrent_appends_keep_one_chain(db: Database) -> None:
    async def one(i: int) -> None:
        async with db.write() as session:
            await record(session, actor=Actor(None, f"w{i}"), action="test.concurrent")

    await asyncio.gather(*(one(i) for i in range(20)))
    async with db.session() as session:
        verdict = await verify(session)
    assert verdict.ok and verdict.checked == 20


TAMPER = {
    "edited": ("UPDATE audit_entries SET actor = 'someone-else' WHERE id = 3", 3),
    "details_edited": ("UPDATE audit_entries SET details = '{\"i\": 99}' WHERE id = 4", 4),
    "deleted": ("DELETE FROM audit_entries WHERE id = 2", 3),
    "newest_deleted": ("DELETE FROM audit_entries WHERE id = 6", 6),
}


@pytest.mark.parametrize("case", sorted(TAMPER))
async def test_cli_names_first_bad_entry(
    db: Database, database_url: str, tmp_path: object, case: str
) -> None:
    await _fill(db)
    ok = await asyncio.to_thread(_cli, database_url, "audit", "verify", tmp=str(tmp_path))
    assert ok.returncode == 0, ok.stderr
    assert "6 entries" in ok.stdout
    sql, bad_id = TAMPER[case]
    async with db.write() as session:
        await session.execute(text(sql))
    bad = await asyncio.to_thread(_cli, database_url, "audit", "verify", tmp=str(tmp_path))
    assert bad.returncode == 1
    assert f"entry #{bad_id}" in bad.stderr, bad.stderr


async def test_reordered_rows_are_caught(db: Database) -> None:
    await _fill(db)
    # Swap the content of entries 2 and 3 while keeping their ids: a reordering of history.
    async with db.write() as session:
        await session.execute(text("UPDATE audit_entries SET id = 1000 WHERE id = 2"))
        await session.execute(text("UPDATE audit_entries SET id = 2 WHERE id = 3"))
        await session.execute(text("UPDATE audit_entries SET id = 3 WHERE id = 1000"))
    async with db.session() as session:
        verdict = await verify(session)
    assert not verdict.ok and verdict.bad_id == 2


async def test_api_changes_are_audited(client: httpx.AsyncClient, make_user: UserFactory) -> None:
    admin = await make_user(Role.admin)
    h = admin["headers"]
    org = await client.post(
        "/api/v1/organisations",
        headers=h,
        json={
            "name_th": "เทศบาลเมืองนราธิวาส",
            "name_en": "Narathiwat Town Municipality",
            "kind": "local_government",
        },
    )
    org_id = org.json()["id"]
    await client.patch(f"/api/v1/organisations/{org_id}", headers=h, json={"phone": "073-000-000"})
    await client.delete(f"/api/v1/organisations/{org_id}", headers=h)
    entries = (
        await client.get("/api/v1/audit", headers=h, params={"entity_type": "organisation"})
    ).json()["data"]
    assert [e["action"] for e in entries] == [
        "organisation.delete",
        "organisation.update",
        "organisation.create",
    ]
    assert entries[1]["details"]["changes"]["phone"]["to"] == "073-000-000"
    assert all(e["actor"] == admin["username"] for e in entries)
    verdict = (await client.get("/api/v1/audit/verify", headers=h)).json()
    assert verdict["ok"] is True
