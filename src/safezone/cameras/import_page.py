"""The console page for importing a camera list (CSV/XLSX) and reading its row-by-row report,
plus a blank template in the person's language."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import select
from starlette.datastructures import UploadFile

from safezone.auth.access import Access
from safezone.auth.roles import EDITORS, Role
from safezone.auth.service import Principal
from safezone.cameras.import_columns import COLUMNS
from safezone.cameras.registry_api import import_file, read_upload
from safezone.db.engine import Database
from safezone.orgs.models import Organisation
from safezone.problems import Problem
from safezone.settings import Settings
from safezone.web.templating import page_language, render

router = APIRouter(include_in_schema=False)
Importer = Annotated[Principal | None, Depends(Access(EDITORS | {Role.partner}))]
# Failed rows are always listed; of the others the page shows this many (the API has all).
SHOWN_ROWS = 1000
_TEMPLATE_COLUMNS = ("external_id", "name", "name_en", "lat", "lon", "bearing", "fov", "range_m",
                     "height_m", "ptz", "stream_url", "sub_stream_url", "username", "password",
                     "owner", "sharing_policy", "notes")


def _person(principal: Principal | None) -> Principal:
    if principal is None:  # Access(...) never lets None through; this keeps mypy honest
        raise Problem(401, "unauthenticated")
    return principal


def _thai(headers: tuple[str, ...]) -> str:
    return next((h for h in headers if not h.isascii()), headers[0])


async def _organisations(request: Request, who: Principal) -> list[dict[str, Any]]:
    db: Database = request.app.state.db
    query = select(Organisation.id, Organisation.name_th, Organisation.name_en).order_by(
        Organisation.name_th
    )
    if who.role == Role.partner:
        query = query.where(Organisation.id == who.organisation_id)
    async with db.session() as session:
        return [dict(r._mapping) for r in await session.execute(query)]


async def _page(
    request: Request, who: Principal, *, status_code: int = 200, **context: Any
) -> Response:
    lang = page_language(request)
    columns = [
        {"key": c.key, "th": _thai(c.headers),
         "others": ", ".join(h for h in c.headers if h not in (c.key, _thai(c.headers))),
         "help": c.help_th if lang == "th" else c.help_en}
        for c in COLUMNS
    ]
    context.setdefault("report", None)
    context.setdefault("error", None)
    context.setdefault("owner", "")
    return render(
        request, "camera_import.html", status_code=status_code, principal=who,
        columns=columns, organisations=await _organisations(request, who),
        shown_rows=SHOWN_ROWS, **context,
    )


@router.get("/cameras/import")
async def import_form(request: Request, principal: Importer) -> Response:
    """The upload form and the list of accepted columns."""
    return await _page(request, _person(principal))


@router.post("/cameras/import")
async def import_upload(request: Request, principal: Importer) -> Response:
    """Import (or only check) the uploaded file and show the report as a table."""
    who = _person(principal)
    settings: Settings = request.app.state.settings
    form = await request.form()  # already parsed (and cached) by the CSRF check
    upload = form.get("file")
    owner = form.get("owner")
    owner_text = owner.strip()[:200] if isinstance(owner, str) else ""
    dry_run = form.get("mode") != "import"
    if not isinstance(upload, UploadFile) or not upload.filename:
        return await _page(request, who, status_code=422, owner=owner_text,
                           error=("ui.camera_import.no_file", {}))
    try:
        data = await read_upload(upload, settings.camera_import_max_bytes)
        report = await import_file(
            request.app.state.db, settings, who=who, data=data, filename=upload.filename,
            dry_run=dry_run, owner=owner_text or None,
        )
    except Problem as exc:
        if exc.status not in (403, 413, 422):
            raise
        return await _page(request, who, status_code=exc.status, owner=owner_text,
                           error=(f"problem.{exc.code}", exc.params))
    as_dict = report.as_dict(page_language(request))
    failed = [r for r in as_dict["rows"] if r["outcome"] == "failed"]
    return await _page(request, who, owner=owner_text, report=as_dict, failed=failed,
                       rows=as_dict["rows"][:SHOWN_ROWS])


@router.get("/cameras/import/template.csv")
async def import_template(request: Request, principal: Importer) -> Response:
    """An empty camera list with headers in the page's language and one example row."""
    _person(principal)
    thai = page_language(request) == "th"
    by_key = {c.key: c for c in COLUMNS}
    headers = [_thai(by_key[k].headers) if thai else k for k in _TEMPLATE_COLUMNS]
    example = ["CAM-001", "กล้องหน้าตลาด 1", "Market camera 1", "6.4255", "101.8231", "90",
               "80", "50", "5", "ไม่ใช่" if thai else "no", "rtsp://192.0.2.10:554/stream1", "",
               "", "", "", "เสมอ" if thai else "always", ""]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(headers)
    writer.writerow(example)
    # The BOM makes Excel open the file as UTF-8, so Thai headers are not garbled.
    return Response(
        "\ufeff" + out.getvalue(), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="cameras-template.csv"'},
    )
