"""Camera registry routes beyond plain CRUD: bulk import, access requests, the view decision.

(The CRUD routes themselves come from the generic asset router, ``assets/api.py``.)
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from starlette.datastructures import UploadFile as StarletteUpload

from safezone.auth.access import Access
from safezone.auth.roles import ALL_ROLES, EDITORS, STAFF, Role
from safezone.auth.service import Principal
from safezone.cameras import access_requests as access
from safezone.cameras.bulk_import import ImportFileError, read_sheet
from safezone.cameras.import_service import ImportReport, run_import
from safezone.cameras.schemas import (
    AccessDecision,
    AccessRequestCreate,
    AccessRequestOut,
    ImportReportOut,
    ViewDecisionOut,
)
from safezone.db.engine import Database
from safezone.deps import DatabaseDep, ReadSession, SettingsDep
from safezone.problems import Problem, request_language
from safezone.schemas import ListOut, PageDep
from safezone.settings import Settings

router = APIRouter(tags=["cameras"])

Importer = Annotated[Principal, Depends(Access(EDITORS | {Role.partner}))]
Requester = Annotated[Principal, Depends(Access(STAFF))]
Decider = Annotated[Principal, Depends(Access({Role.admin, Role.partner}))]
RequestReader = Annotated[Principal, Depends(Access(STAFF | {Role.partner}))]
Anyone = Annotated[Principal, Depends(Access(ALL_ROLES))]
_CHUNK = 1024 * 1024


async def read_upload(upload: StarletteUpload, max_bytes: int) -> bytes:
    """The uploaded file, refused with 413 as soon as it passes ``max_bytes``."""
    chunks: list[bytes] = []
    size = 0
    while chunk := await upload.read(_CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise Problem(413, "camera_import.too_large", max_mb=round(max_bytes / 2**20, 1))
        chunks.append(chunk)
    return b"".join(chunks)


async def import_file(
    db: Database,
    settings: Settings,
    *,
    who: Principal,
    data: bytes,
    filename: str,
    dry_run: bool,
    owner: str | None,
) -> ImportReport:
    """Read, check and import one uploaded camera list (shared by the API and the page)."""
    try:
        sheet = read_sheet(data, filename, max_rows=settings.camera_import_max_rows)
        return await run_import(
            db, sheet=sheet, filename=filename, who=who, settings=settings, dry_run=dry_run,
            default_owner=owner or None,
        )
    except ImportFileError as exc:
        raise Problem(422, f"camera_import.{exc.code}", **exc.params) from None


@router.post(
    "/cameras/import",
    response_model=ImportReportOut,
    summary="Import cameras from a CSV or XLSX file (upsert by external_id, row-by-row report)",
)
async def import_cameras(
    request: Request,
    db: DatabaseDep,
    settings: SettingsDep,
    who: Importer,
    file: Annotated[UploadFile, File(description="CSV (UTF-8 or TIS-620) or XLSX camera list")],
    dry_run: Annotated[bool, Form(description="Check every row, write nothing")] = False,
    owner: Annotated[
        str | None,
        Form(max_length=200, description="Owner of new cameras whose row names none"),
    ] = None,
) -> dict[str, Any]:
    size = request.headers.get("content-length", "")
    if size.isdigit() and int(size) > settings.camera_import_max_bytes + 64 * 1024:
        max_mb = round(settings.camera_import_max_bytes / 2**20, 1)
        raise Problem(413, "camera_import.too_large", max_mb=max_mb)
    data = await read_upload(file, settings.camera_import_max_bytes)
    report = await import_file(
        db, settings, who=who, data=data, filename=file.filename or "upload",
        dry_run=dry_run, owner=owner,
    )
    return report.as_dict(request_language(request))


@router.get(
    "/cameras/{camera_id}/view-decision",
    response_model=ViewDecisionOut,
    summary="May I view this camera now, and why (owner's sharing policy)",
)
async def view_decision(session: ReadSession, who: Anyone, camera_id: int) -> dict[str, Any]:
    return await access.view_decision(session, who=who, camera_id=camera_id)


@router.post(
    "/cameras/{camera_id}/access-requests",
    response_model=AccessRequestOut,
    status_code=201,
    summary="Ask the owner for access to an on_request camera",
)
async def request_access(
    db: DatabaseDep, who: Requester, camera_id: int, body: AccessRequestCreate
) -> dict[str, Any]:
    async with db.write() as session:
        row = await access.request_access(
            session, who=who, camera_id=camera_id, reason=body.reason
        )
        return access.out(row)


@router.post(
    "/camera-access-requests/{request_id}/decision",
    response_model=AccessRequestOut,
    summary="Approve (for 1–72 hours) or refuse an access request (owner or admin)",
)
async def decide(
    db: DatabaseDep, who: Decider, request_id: int, body: AccessDecision
) -> dict[str, Any]:
    async with db.write() as session:
        row = await access.decide(
            session, who=who, request_id=request_id, approve=body.approve, hours=body.hours
        )
        return access.out(row)


@router.get(
    "/camera-access-requests",
    response_model=ListOut[AccessRequestOut],
    summary="Access requests: owners see their cameras', requesters their own",
)
async def list_requests(
    session: ReadSession,
    who: RequestReader,
    page: PageDep,
    status: Annotated[str | None, Query(pattern="^(pending|approved|denied)$")] = None,
    camera_id: Annotated[int | None, Query()] = None,
) -> dict[str, Any]:
    rows, total = await access.list_requests(
        session, who=who, limit=page.limit, offset=page.offset, status=status,
        camera_id=camera_id,
    )
    return {"data": [access.out(r) for r in rows], "count": total,
            "limit": page.limit, "offset": page.offset}
