"""POST /api/v1/cameras/import: good rows land (each with its audit entry) while bad rows are
reported, re-imports update by external_id, a dry run writes nothing, partners stay in their own
organisation, and the guards (size, rows, encoding) hold."""

from __future__ import annotations

import io
from typing import Any

import httpx
from openpyxl import Workbook
from sqlalchemy import select

from safezone.audit.models import AuditEntry
from safezone.auth.roles import Role
from safezone.cameras.credentials import CredentialBox
from safezone.cameras.models import Camera
from safezone.db.engine import Database
from safezone.settings import Settings
from tests.cameras.registry_support import (
    ENGLISH,
    SECRET,
    THAI,
    audit_actions,
    audit_text,
    count,
    csv_bytes,
    row,
)
from tests.conftest import UserFactory

URL = "/api/v1/cameras/import"
EN = {"Accept-Language": "en"}


async def _import(client: httpx.AsyncClient, user: dict[str, Any], data: bytes,
                  name: str = "cams.csv", **form: Any) -> httpx.Response:
    return await client.post(URL, headers={**user["headers"], **EN},
                             files={"file": (name, data, "text/csv")},
                             data={k: str(v).lower() if isinstance(v, bool) else v
                                   for k, v in form.items()})


def _by_row(report: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {r["row"]: r for r in report["rows"]}


async def test_good_rows_land_bad_rows_are_reported(
    client: httpx.AsyncClient, make_user: UserFactory, db: Database, settings: Settings,
    partner_org: int,
) -> None:
    admin = await make_user(Role.supervisor)
    data = csv_bytes(ENGLISH, [
        row("CAM-1", "กล้องหนึ่ง", url=f"rtsp://cam:{SECRET}@192.0.2.1/1", owner="Test Shop"),
        row("CAM-2", "กล้องสอง", lat=91),
        row("CAM-3", "กล้องสาม", owner="Nobody Ltd"),
        row("CAM-4", "กล้องสี่", url="rtsp://192.0.2.1/4", user="u", password=SECRET),
        row("=1+2", "สูตร"),
    ])
    resp = await _import(client, admin, data)
    assert resp.status_code == 200, resp.text
    report = resp.json()
    assert report["counts"] == {"rows": 5, "created": 2, "updated": 0, "unchanged": 0,
                                "failed": 3}
    rows = _by_row(report)
    assert rows[2]["outcome"] == "created" and rows[5]["outcome"] == "created"
    assert rows[3]["errors"] == [{"field": "lat", "code": "less_than_equal",
                                  "message": "lat: must be at most 90.0."}]
    assert rows[4]["errors"][0]["field"] == "owner"
    assert rows[4]["errors"][0]["message"] == 'No organisation is called "Nobody Ltd".'
    assert rows[6]["external_id"] == "'=1+2"  # echoed formula-safe
    assert SECRET not in resp.text
    # Each good row is there with its own audit entry; the bad rows left nothing behind.
    assert await count(db) == 2
    assert await audit_actions(db, "camera.") == ["camera.create", "camera.create",
                                                  "camera.import"]
    async with db.session() as session:
        one = await session.scalar(select(Camera).where(Camera.code == "CAM-1"))
        import_entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "camera.import"))
    assert one is not None and one.organisation_id == partner_org and one.tier == "linked"
    assert one.stream_url == "rtsp://192.0.2.1/1"
    box = CredentialBox(settings.resolved_credentials_key())
    assert box.open(one.credentials_enc) == ("cam", SECRET)
    assert import_entry is not None and import_entry.details["failed_rows"] == [3, 4, 6]
    assert SECRET not in await audit_text(db)


async def test_reimport_updates_by_external_id(
    client: httpx.AsyncClient, make_user: UserFactory, db: Database
) -> None:
    admin = await make_user(Role.admin)
    first = [row("R-1", "กล้องหนึ่ง"), row("R-2", "กล้องสอง"),
             row("R-3", "กล้องสาม", url="rtsp://192.0.2.3/s", user="a", password=SECRET)]
    assert (await _import(client, admin, csv_bytes(THAI, first))).json()["counts"]["created"] == 3
    creates = len(await audit_actions(db, "camera.create"))
    second = [row("R-1", "กล้องหนึ่ง (ย้าย)", bearing=270),
              row("R-2", "กล้องสอง"),
              row("R-3", "กล้องสาม", url="rtsp://192.0.2.3/s", user="a", password=SECRET),
              row("R-4", "กล้องใหม่"),
              # Blank cells leave stored values alone: R-3's password stays.
              ]
    report = (await _import(client, admin, csv_bytes(THAI, second), "again.csv")).json()
    assert report["counts"] == {"rows": 4, "created": 1, "updated": 1, "unchanged": 2,
                                "failed": 0}
    rows = _by_row(report)
    assert rows[2]["changed"] == ["bearing_deg", "name_th"]
    assert rows[3]["outcome"] == rows[4]["outcome"] == "unchanged"
    assert len(await audit_actions(db, "camera.update")) == 1
    assert len(await audit_actions(db, "camera.create")) == creates + 1
    # A new password is an update that names only "credentials".
    third = (await _import(client, admin, csv_bytes(
        ["รหัส", "รหัสผ่าน"], [["R-3", "an0ther-pass"]]))).json()
    assert _by_row(third)[2]["changed"] == ["credentials"]
    async with db.session() as session:
        r1 = await session.scalar(select(Camera).where(Camera.code == "R-1"))
    assert r1 is not None and r1.bearing_deg == 270 and r1.name_th == "กล้องหนึ่ง (ย้าย)"


async def test_dry_run_writes_nothing(
    client: httpx.AsyncClient, make_user: UserFactory, db: Database
) -> None:
    admin = await make_user(Role.admin)
    await _import(client, admin, csv_bytes(ENGLISH, [row("D-1", "เดิม")]))
    cameras, entries = await count(db), await count(db, AuditEntry)
    data = csv_bytes(ENGLISH, [row("D-1", "ชื่อใหม่"), row("D-2", "ใหม่"), row("D-3", "x", lat=-91)])
    report = (await _import(client, admin, data, dry_run=True)).json()
    assert report["dry_run"] is True
    assert report["counts"] == {"rows": 3, "created": 1, "updated": 1, "unchanged": 0,
                                "failed": 1}
    assert _by_row(report)[3]["camera_id"] is None
    assert (await count(db), await count(db, AuditEntry)) == (cameras, entries)
    async with db.session() as session:
        d1 = await session.scalar(select(Camera.name_th).where(Camera.code == "D-1"))
    assert d1 == "เดิม"


async def test_xlsx_upload(client: httpx.AsyncClient, make_user: UserFactory, db: Database
                           ) -> None:
    wb = Workbook()
    ws = wb.active
    ws.append(THAI + ["การแบ่งปัน", "กล้องหมุน"])
    ws.append(["X-1", "กล้อง X", 6.4255, 101.8231, 10, 90, 30, "rtsp://192.0.2.1/x", "u", 1234,
               None, "เมื่อมีเหตุ", "ใช่"])
    ws.append(["X-2", "กล้อง Y", 6.4255, "101.8231", None, None, None])
    out = io.BytesIO()
    wb.save(out)
    admin = await make_user(Role.admin)
    resp = await client.post(URL, headers=admin["headers"], files={
        "file": ("cams.xlsx", out.getvalue(),
                 "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")})
    report = resp.json()
    assert report["file"]["format"] == "xlsx" and report["counts"]["created"] == 2, report
    async with db.session() as session:
        x1 = await session.scalar(select(Camera).where(Camera.code == "X-1"))
    assert x1 is not None and x1.sharing_policy == "on_alarm" and x1.ptz and x1.has_credentials


async def test_partners_import_only_into_their_own_organisation(
    client: httpx.AsyncClient, make_user: UserFactory, db: Database, partner_org: int
) -> None:
    admin = await make_user(Role.admin)
    await _import(client, admin, csv_bytes(ENGLISH, [row("TOWN-1", "ของเทศบาล")]))
    partner = await make_user(Role.partner)
    data = csv_bytes(ENGLISH, [
        row("SHOP-1", "ร้านหนึ่ง"),
        row("SHOP-2", "ร้านสอง", owner="Test Shop"),
        row("TOWN-1", "ยึดกล้อง"),
    ])
    report = (await _import(client, partner, data)).json()
    rows = _by_row(report)
    assert [rows[n]["outcome"] for n in (2, 3, 4)] == ["created", "created", "failed"]
    assert rows[4]["errors"][0]["code"] == "not_your_camera"
    async with db.session() as session:
        owners = set((await session.scalars(
            select(Camera.organisation_id).where(Camera.code.like("SHOP-%")))).all())
    assert owners == {partner_org}
    refused = await _import(client, partner, data, owner="99999")
    assert refused.status_code == 422 and refused.json()["code"] == "camera_import.unknown_owner"
    async with db.write() as session:
        from safezone.orgs.models import Organisation, OrganisationKind
        other = Organisation(name_th="อื่น", name_en="Other", kind=OrganisationKind.community)
        session.add(other)
        await session.flush()
        other_id = other.id
    outside = await _import(client, partner, data, owner=str(other_id))
    assert outside.status_code == 403 and outside.json()["code"] == "outside_partner_org"
    viewer = await make_user(Role.viewer)
    assert (await _import(client, viewer, data)).status_code == 403


async def test_guards(client: httpx.AsyncClient, make_user: UserFactory, db: Database,
                      settings: Settings) -> None:
    admin = await make_user(Role.admin)
    unreadable = await client.post(URL, headers=admin["headers"],
                                   files={"file": ("x.csv", b"\x81\x8d\xfc\xfd" * 40)})
    body = unreadable.json()
    assert unreadable.status_code == 422 and body["code"] == "camera_import.unreadable_encoding"
    assert "CSV UTF-8" in body["detail"]  # Thai by default, naming the Excel option to use
    settings.camera_import_max_rows = 2
    many = await _import(client, admin, csv_bytes(ENGLISH, [row(f"M-{i}", "x") for i in range(3)]))
    assert many.status_code == 422 and many.json()["code"] == "camera_import.too_many_rows"
    settings.camera_import_max_bytes = 2048
    big = await _import(client, admin, csv_bytes(ENGLISH, [row("B", "x" * 190)] * 15))
    assert big.status_code == 413 and big.json()["code"] == "camera_import.too_large"
    missing = await client.post(URL, headers=admin["headers"], data={"dry_run": "true"})
    assert missing.status_code == 422
    assert await count(db) == 0
