"""Chain of custody: playback with Range, download, export bundle, verification, tampering."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from safezone.audit.models import AuditEntry
from safezone.audit.service import verify
from safezone.auth.roles import Role
from safezone.cli import app as cli_app
from safezone.db.engine import Database
from safezone.settings import Settings
from tests.cameras.evidence_support import PATHS, add_camera, finished, request_clip
from tests.conftest import UserFactory
from tests.fixtures.rtsp import RtspServer


@pytest.fixture(scope="module")
def rtsp() -> Iterator[RtspServer]:
    with RtspServer(PATHS) as server:
        yield server


async def _run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None
               ) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        *args, cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


def _cli_env(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "SAFEZONE_DATA_DIR": str(settings.data_dir),
        "SAFEZONE_DATABASE_URL": settings.resolved_database_url,
    }


async def _verify_process(bundle: Path, settings: Settings, *extra: str) -> tuple[int, str]:
    """``safezone evidence verify`` as a separate process, as an investigator would run it."""
    return await _run(sys.executable, "-m", "safezone", "evidence", "verify", *extra,
                      str(bundle), env=_cli_env(settings))


async def _verify_cli(bundle: Path, settings: Settings) -> tuple[int, str]:
    """The same command in this process (starting Python for each check is slow)."""
    result = CliRunner().invoke(cli_app, ["evidence", "verify", str(bundle)])
    return result.exit_code, result.output


async def _actions(db: Database, clip_id: str) -> list[tuple[str, str | None, Any]]:
    async with db.session() as session:
        rows = (await session.scalars(
            select(AuditEntry).where(AuditEntry.entity_id == clip_id).order_by(AuditEntry.id)
        )).all()
    return [(e.action, e.actor, e.details.get("sha256")) for e in rows]


async def test_custody_trail_bundle_and_tampering(
    app: Any, client: httpx.AsyncClient, db: Database, settings: Settings,
    make_user: UserFactory, rtsp: RtspServer, tmp_path: Path,
) -> None:
    cam = await add_camera(db, settings, code="EV/CUST 1", url=rtsp.url("/ev-open"))
    operator = await make_user(Role.operator)
    supervisor = await make_user(Role.supervisor)
    resp = await request_clip(client, operator, cam, 1.5, 3.5)
    assert resp.status_code == 202, resp.text
    clip = await finished(app, client, operator, resp.json()["id"])
    assert clip["status"] == "complete", clip
    clip_id, sha = clip["id"], clip["sha256"]
    data = (settings.data_dir / "evidence" / f"{clip_id}.mp4").read_bytes()

    # Playback: Range requests get 206 and exactly the asked bytes.
    url = f"/api/v1/clips/{clip_id}/video.mp4"
    whole = await client.get(url, headers=operator["headers"])
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["accept-ranges"] == "bytes"
    part = await client.get(url, headers={**operator["headers"], "Range": "bytes=100-1099"})
    assert part.status_code == 206
    assert part.content == data[100:1100]
    assert part.headers["content-range"] == f"bytes 100-1099/{len(data)}"
    tail = await client.get(url, headers={**operator["headers"], "Range": "bytes=-500"})
    assert tail.status_code == 206 and tail.content == data[-500:]
    # Three requests by one person within a minute: one view in the trail.
    views = [a for a in await _actions(db, clip_id) if a[0] == "clip.view"]
    assert views == [("clip.view", operator["username"], sha)]

    download = await client.get(f"/api/v1/clips/{clip_id}/download",
                                headers=supervisor["headers"])
    assert download.status_code == 200 and download.content == data
    disposition = download.headers["content-disposition"]
    assert disposition.startswith("attachment") and ".mp4" in disposition
    assert "/" not in disposition.split("filename=")[1]

    export = await client.get(f"/api/v1/clips/{clip_id}/bundle.zip",
                              headers=supervisor["headers"])
    assert export.status_code == 200, export.text
    assert export.headers["content-type"] == "application/zip"
    assert not list((settings.data_dir / "evidence" / "exports").glob("*.zip"))
    bundle = tmp_path / "bundle.zip"
    bundle.write_bytes(export.content)

    actions = await _actions(db, clip_id)
    assert [a[0] for a in actions] == [
        "clip.create", "clip.complete", "clip.view", "clip.download", "clip.export"
    ]
    assert all(a[2] == sha for a in actions[1:])
    assert actions[3][1] == actions[4][1] == supervisor["username"]
    async with db.session() as session:
        assert (await verify(session)).ok

    with zipfile.ZipFile(bundle) as zf:
        names = set(zf.namelist())
        manifest = json.loads(zf.read("manifest.json"))
        custody_log = zf.read("custody.log").decode()
    video = manifest["video"]["file"]
    assert names == {video, "manifest.json", "custody.log", "SHA256SUMS"}
    assert manifest["clip"]["id"] == clip_id and manifest["camera"]["code"] == "EV/CUST 1"
    assert manifest["camera"]["name_th"] == "กล้อง EV/CUST 1"
    assert manifest["video"]["sha256"] == sha == hashlib.sha256(data).hexdigest()
    assert manifest["video"]["size_bytes"] == len(data)
    assert manifest["video"]["codec"] == "h264"
    assert manifest["export"]["exported_by"]["username"] == supervisor["username"]
    assert manifest["export"]["safezone_version"]
    assert [e["action"] for e in manifest["custody"]] == [a[0] for a in actions]
    async with db.session() as session:
        chain = {e.id: e.hash for e in (await session.scalars(select(AuditEntry))).all()}
    assert all(chain[e["id"]] == e["hash"] for e in manifest["custody"])
    assert "clip.export" in custody_log and supervisor["username"] in custody_log

    # Intact: the CLI (also against this server's chain) and plain sha256sum agree.
    code, out = await _verify_process(bundle, settings, "--chain")
    assert code == 0, out
    assert "every custody entry is in the server's audit chain" in out
    good = tmp_path / "good"
    zipfile.ZipFile(bundle).extractall(good)
    code, out = await _run("sha256sum", "-c", "SHA256SUMS", cwd=good)
    assert code == 0, out
    code, out = await _verify_cli(good, settings)
    assert code == 0, out

    # One changed byte in the video, or in the manifest: both checks fail.
    for member, offset in ((video, len(data) // 2), ("manifest.json", 40)):
        folder = tmp_path / f"bad-{member}"
        zipfile.ZipFile(bundle).extractall(folder)
        target = folder / member
        raw = bytearray(target.read_bytes())
        raw[offset] ^= 0x01
        target.write_bytes(bytes(raw))
        code, out = await _run("sha256sum", "-c", "SHA256SUMS", cwd=folder)
        assert code != 0 and "FAILED" in out, out
        code, out = await _verify_cli(folder, settings)
        assert code == 1 and "FAILED" in out, out
        tampered_zip = tmp_path / f"bad-{member}.zip"
        _rezip(folder, tampered_zip)
        code, out = await _verify_cli(tampered_zip, settings)
        assert code == 1, out


async def test_forged_manifest_with_fresh_sums_still_fails(
    app: Any, client: httpx.AsyncClient, db: Database, settings: Settings,
    make_user: UserFactory, rtsp: RtspServer, tmp_path: Path,
) -> None:
    """Swapping the video and rewriting the manifest hash and SHA256SUMS to match is caught:
    the custody trail's clip.complete entry (hashed into the chain) holds the real hash."""
    cam = await add_camera(db, settings, code="EV-FORGE", url=rtsp.url("/ev-open"))
    admin = await make_user(Role.admin)
    resp = await request_clip(client, admin, cam, 0.5, 2.0)
    clip = await finished(app, client, admin, resp.json()["id"])
    export = await client.get(f"/api/v1/clips/{clip['id']}/bundle.zip", headers=admin["headers"])
    assert export.status_code == 200
    folder = tmp_path / "forged"
    zipfile.ZipFile(io.BytesIO(export.content)).extractall(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    video = folder / manifest["video"]["file"]
    forged = video.read_bytes()[:-10] + b"0123456789"
    video.write_bytes(forged)
    manifest["video"]["sha256"] = hashlib.sha256(forged).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest))
    lines = [
        f"{hashlib.sha256((folder / n).read_bytes()).hexdigest()}  {n}"
        for n in (video.name, "manifest.json", "custody.log")
    ]
    (folder / "SHA256SUMS").write_text("\n".join(lines) + "\n")
    code, out = await _run("sha256sum", "-c", "SHA256SUMS", cwd=folder)
    assert code == 0  # plain sums cannot see this forgery ...
    code, out = await _verify_cli(folder, settings)
    assert code == 1, out  # ... the custody check can
    assert "differs from the one recorded in the audit chain" in out


async def test_altered_file_is_not_released(
    app: Any, client: httpx.AsyncClient, db: Database, settings: Settings,
    make_user: UserFactory, rtsp: RtspServer,
) -> None:
    cam = await add_camera(db, settings, code="EV-ALT", url=rtsp.url("/ev-open"))
    admin = await make_user(Role.admin)
    resp = await request_clip(client, admin, cam, 0.5, 2.0)
    clip = await finished(app, client, admin, resp.json()["id"])
    path = settings.data_dir / "evidence" / f"{clip['id']}.mp4"
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    for what in ("download", "bundle.zip"):
        resp = await client.get(f"/api/v1/clips/{clip['id']}/{what}", headers=admin["headers"])
        assert resp.status_code == 409
        assert resp.json()["code"] == "clip_file_altered"
    actions = [a[0] for a in await _actions(db, clip["id"])]
    assert actions.count("clip.integrity_failed") == 2
    assert "clip.download" not in actions and "clip.export" not in actions


async def test_clip_listing_and_filters(
    app: Any, client: httpx.AsyncClient, db: Database, settings: Settings,
    make_user: UserFactory, rtsp: RtspServer,
) -> None:
    cam = await add_camera(db, settings, code="EV-LIST", url=rtsp.url("/ev-open"))
    other = await add_camera(db, settings, code="EV-LIST2", url="rtsp://127.0.0.1:9/x")
    operator = await make_user(Role.operator)
    resp = await request_clip(client, operator, cam, 0.0, 1.0)
    clip = await finished(app, client, operator, resp.json()["id"])
    listing = await client.get("/api/v1/clips", headers=operator["headers"])
    body = listing.json()
    assert body["count"] == 1 and body["data"][0]["id"] == clip["id"]
    assert {"data", "count", "limit", "offset"} <= set(body)
    for query, expected in (
        (f"camera_id={cam}", 1), (f"camera_id={other}", 0),
        ("status=complete", 1), ("status=failed", 0),
    ):
        resp = await client.get(f"/api/v1/clips?{query}", headers=operator["headers"])
        assert resp.json()["count"] == expected, query
    bad = await client.get("/api/v1/clips?status=nonsense", headers=operator["headers"])
    assert bad.status_code == 422
    viewer = await make_user(Role.viewer)
    refused = await client.get(f"/api/v1/clips/{clip['id']}", headers=viewer["headers"])
    assert refused.status_code == 403


def _rezip(folder: Path, dest: Path) -> None:
    with zipfile.ZipFile(dest, "w") as zf:
        for file in sorted(folder.iterdir()):
            zf.write(file, file.name)
