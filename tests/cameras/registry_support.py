"""Helpers shared by the camera registry and import tests."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from sqlalchemy import func, select

from safezone.audit.models import AuditEntry
from safezone.cameras.models import Camera
from safezone.db.engine import Database

LAT0, LON0 = 6.4255, 101.8231  # Mueang Narathiwat
# A password that must never show up anywhere outside the encrypted column.
SECRET = "Zq7-sekr3t-pa55"

ENGLISH = ["external_id", "name", "lat", "lon", "bearing", "fov", "range_m", "stream_url",
           "username", "password", "owner"]
THAI = ["รหัส", "ชื่อ", "ละติจูด", "ลองจิจูด", "ทิศทาง", "มุมมอง", "ระยะ", "ลิงก์สตรีม",
        "ชื่อผู้ใช้", "รหัสผ่าน", "เจ้าของ"]


def camera_body(code: str, /, **over: Any) -> dict[str, Any]:
    """A valid CameraCreate body."""
    body: dict[str, Any] = {
        "code": code, "name_th": f"กล้อง {code}", "name_en": f"Camera {code}",
        "lat": LAT0, "lon": LON0, "bearing_deg": 90, "fov_deg": 80, "range_m": 50,
    }
    body.update(over)
    return body


def csv_bytes(header: list[str], rows: list[list[Any]], encoding: str = "utf-8",
              delimiter: str = ",") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def row(code: str, name: str, lat: float = LAT0, lon: float = LON0, *, bearing: Any = 90,
        fov: Any = 80, range_m: Any = 40, url: str = "", user: str = "", password: str = "",
        owner: str = "") -> list[Any]:
    """One row in the order of ENGLISH / THAI."""
    return [code, name, lat, lon, bearing, fov, range_m, url, user, password, owner]


async def count(db: Database, model: Any = Camera, *where: Any) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where))
                   or 0)


async def audit_text(db: Database) -> str:
    """Every audit entry's action and details, as one string to search."""
    async with db.session() as session:
        rows = (await session.execute(select(AuditEntry.action, AuditEntry.details))).all()
    return "\n".join(f"{a} {json.dumps(d, ensure_ascii=False)}" for a, d in rows)


async def audit_actions(db: Database, prefix: str) -> list[str]:
    async with db.session() as session:
        rows = await session.scalars(
            select(AuditEntry.action).where(AuditEntry.action.like(f"{prefix}%"))
            .order_by(AuditEntry.id)
        )
        return list(rows)
