"""Shared helpers for the evidence clip tests (not a test module)."""

from __future__ import annotations

import asyncio
import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from safezone.cameras.credentials import CredentialBox
from safezone.cameras.models import Camera
from safezone.db.engine import Database
from safezone.settings import Settings

USER, PASSWORD = "evid", "s3cret-evid"
PATHS = [
    {"path": "/ev-open", "pattern": "ball"},
    {"path": "/ev-secure", "pattern": "smpte", "user": USER, "password": PASSWORD},
]


async def add_camera(
    db: Database,
    settings: Settings,
    *,
    code: str,
    url: str,
    credentials: tuple[str, str] | None = None,
    **extra: Any,
) -> int:
    """A linked camera streaming from ``url`` (credentials sealed like the registry does)."""
    box = CredentialBox(settings.resolved_credentials_key())
    sealed = box.seal(*credentials) if credentials else None
    async with db.write() as session:
        row = Camera(
            code=code,
            name_th=f"กล้อง {code}",
            name_en=f"Camera {code}",
            lat=13.70,
            lon=100.60,
            tier="linked",
            stream_url=url,
            credentials_enc=sealed,
            **extra,
        )
        session.add(row)
        await session.flush()
        return row.id


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def window(start_s: float, end_s: float) -> tuple[str, str]:
    """An asked window relative to now, as ISO 8601 with an offset (Bangkok, as people type)."""
    bangkok = ZoneInfo("Asia/Bangkok")
    now = datetime.now(UTC)
    return (
        (now + timedelta(seconds=start_s)).astimezone(bangkok).isoformat(),
        (now + timedelta(seconds=end_s)).astimezone(bangkok).isoformat(),
    )


async def request_clip(
    client: httpx.AsyncClient,
    user: dict[str, Any],
    camera_id: int,
    start_s: float,
    end_s: float,
    **extra: Any,
) -> httpx.Response:
    start, end = window(start_s, end_s)
    body = {"start": start, "end": end, "reason": "test evidence", **extra}
    return await client.post(
        f"/api/v1/cameras/{camera_id}/clips", json=body, headers=user["headers"]
    )


async def finished(
    app: Any, client: httpx.AsyncClient, user: dict[str, Any], clip_id: str, limit_s: float = 30
) -> dict[str, Any]:
    """Wait for the recording task, then read the clip."""
    await asyncio.wait_for(app.state.services.evidence.recorder.wait(clip_id), limit_s)
    resp = await client.get(f"/api/v1/clips/{clip_id}", headers=user["headers"])
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def ffprobe(target: str | Path, entries: str) -> dict[str, Any]:
    """ffprobe's JSON for the first video stream and the format."""
    args = ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", entries,
            "-of", "json"]
    if "extradata" in entries:
        args.append("-show_data")
    if str(target).startswith("rtsp://"):
        # The SDP carries the codec parameters: no need to wait ~2 s probing packets.
        args += ["-rtsp_transport", "tcp", "-analyzeduration", "0", "-probesize", "32"]
    out = subprocess.run([*args, str(target)], capture_output=True, text=True, timeout=20,
                         check=True)
    data: dict[str, Any] = json.loads(out.stdout)
    return data


def duration(path: Path) -> float:
    """The clip's length exactly as the issue asks it to be measured."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
         str(path)],
        capture_output=True, text=True, timeout=20, check=True,
    )
    return float(out.stdout.strip())
