"""Writing a checked camera spreadsheet into the registry, row by row.

Each row goes through the ordinary asset service (so credentials are sealed, the tier derived,
partners scoped, and the change audited) inside its own savepoint: a bad row writes nothing, a
good row lands together with its audit entry, and one bad row never costs the good ones.
``run_import`` commits in batches so a 20,000-row file does not hold the database's write lock
for the whole import (SOS alarms must keep flowing), and a dry run rolls every batch back.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import ValidationError
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from safezone.assets.kinds import BY_PATH
from safezone.assets.service import create_asset, update_asset
from safezone.audit.service import Actor, record
from safezone.auth.roles import Role
from safezone.auth.service import Principal
from safezone.cameras.bulk_import import (
    ImportFileError,
    RowIssue,
    Sheet,
    SheetRow,
    safe_cell,
    validation_issues,
)
from safezone.cameras.models import Camera
from safezone.cameras.schemas import CameraCreate, CameraUpdate
from safezone.db.engine import Database
from safezone.i18n import translate
from safezone.orgs.models import Organisation
from safezone.problems import Problem
from safezone.settings import Settings

CAMERA = BY_PATH["cameras"]
BATCH_ROWS = 200
Outcome = Literal["created", "updated", "unchanged", "failed"]
# Which column a service refusal is about, so the report can point at the cell.
_PROBLEM_FIELD = {
    "duplicate_code": "code",
    "unknown_organisation": "owner",
    "outside_partner_org": "owner",
    "camera_policy_owner_only": "sharing_policy",
    "camera_credentials_conflict": "stream_url",
    "camera_credentials_unreadable": "password",
}
_DEFAULT_LABELS = {"code": "external_id", "name_th": "name", "bearing_deg": "bearing",
                   "fov_deg": "fov"}
_NOT_COMPARED = frozenset({"updated_at", "created_at"})


@dataclass(frozen=True)
class CliPrincipal(Principal):
    """The command line acting with admin rights; audited as ``cli``, not as a user."""

    @property
    def actor(self) -> Actor:
        return Actor(id=None, name="cli")


def cli_principal() -> Principal:
    """The principal the ``safezone camera import`` command acts as."""
    return CliPrincipal(user_id=0, username="cli", display_name="cli", role=Role.admin,
                        organisation_id=None, via="cli")


@dataclass
class RowResult:
    row: int
    external_id: str | None
    name: str | None
    outcome: Outcome
    camera_id: int | None = None
    changed: list[str] = field(default_factory=list)
    issues: list[RowIssue] = field(default_factory=list)


@dataclass
class ImportReport:
    filename: str
    sheet: Sheet
    dry_run: bool
    results: list[RowResult]

    @property
    def counts(self) -> dict[str, int]:
        tally = Counter(r.outcome for r in self.results)
        return {"rows": len(self.results),
                **{k: tally[k] for k in ("created", "updated", "unchanged", "failed")}}

    def as_dict(self, lang: str) -> dict[str, Any]:
        """The report as JSON, messages in ``lang``; cells echoed formula-safe."""
        return {
            "file": {
                "name": safe_cell(self.filename), "format": self.sheet.format,
                "encoding": self.sheet.encoding, "header_row": self.sheet.header_row,
                "columns": {k: safe_cell(v) for k, v in self.sheet.columns.items()},
                "ignored_columns": self.sheet.ignored,
            },
            "dry_run": self.dry_run,
            "counts": self.counts,
            "rows": [
                {
                    "row": r.row, "external_id": safe_cell(r.external_id) or None,
                    "name": safe_cell(r.name) or None, "outcome": r.outcome,
                    "camera_id": r.camera_id, "changed": r.changed,
                    "errors": [issue_dict(i, lang) for i in r.issues],
                }
                for r in self.results
            ],
        }


def issue_dict(issue: RowIssue, lang: str) -> dict[str, Any]:
    """One problem as {field, code, message} in ``lang``."""
    return {"field": safe_cell(issue.field) if issue.field else None, "code": issue.code,
            "message": translate(issue.key, lang, **issue.params)}


class OwnerIndex:
    """Organisations by id and by Thai or English name (case and spacing ignored)."""

    def __init__(self, rows: list[tuple[int, str, str]]) -> None:
        self.ids = {org_id for org_id, _, _ in rows}
        self.names: dict[str, set[int]] = {}
        for org_id, th, en in rows:
            for name in (th, en):
                if name:
                    self.names.setdefault(self._key(name), set()).add(org_id)

    @staticmethod
    def _key(name: str) -> str:
        return " ".join(name.split()).casefold()

    @classmethod
    async def load(cls, session: AsyncSession) -> OwnerIndex:
        """Every organisation (a station has tens, not thousands)."""
        rows = await session.execute(
            select(Organisation.id, Organisation.name_th, Organisation.name_en)
        )
        return cls([(int(i), str(th or ""), str(en or "")) for i, th, en in rows])

    def resolve(self, text: str) -> int | str:
        """The organisation id, or the message key saying why not."""
        if text.strip().isdigit() and int(text) in self.ids:
            return int(text)
        found = self.names.get(self._key(text), set())
        if len(found) == 1:
            return next(iter(found))
        return "camera_import.row.ambiguous_owner" if found else "camera_import.row.unknown_owner"


def _label(row: SheetRow, name: str) -> str:
    return row.labels.get(name) or _DEFAULT_LABELS.get(name, name)


def _problem_issue(row: SheetRow, exc: Problem) -> RowIssue:
    column = _PROBLEM_FIELD.get(exc.code)
    label = _label(row, column) if column else None
    return RowIssue(label, exc.code, f"problem.{exc.code}", dict(exc.params))


def _snapshot(camera: Camera) -> dict[str, Any]:
    return {a.key: getattr(camera, a.key) for a in inspect(Camera).column_attrs
            if a.key not in _NOT_COMPARED}


async def _apply_row(
    session: AsyncSession, row: SheetRow, result: RowResult, *, existing: Camera | None,
    owner: int | None, who: Principal, settings: Settings | None, synthetic: bool,
) -> None:
    if existing is None:
        payload = {**row.values, **({"organisation_id": owner} if owner is not None else {})}
        try:
            create = CameraCreate.model_validate(payload)
        except ValidationError as exc:
            labels = {k: _label(row, k) for k in CameraCreate.model_fields}
            result.issues.extend(validation_issues(exc, labels))
            return
        async with session.begin_nested():
            camera = await create_asset(session, kind=CAMERA, who=who, data=create,
                                        synthetic=synthetic, settings=settings)
        result.outcome, result.camera_id = "created", camera.id
        return
    if who.role == Role.partner and existing.organisation_id != who.organisation_id:
        result.issues.append(RowIssue(_label(row, "code"), "not_your_camera",
                                      "camera_import.row.not_your_camera",
                                      {"code": safe_cell(row.code)}))
        return
    payload = {k: v for k, v in row.values.items() if k != "code"}
    if owner is not None:
        payload["organisation_id"] = owner
    before = _snapshot(existing)
    async with session.begin_nested():
        await update_asset(session, kind=CAMERA, who=who, asset_id=existing.id,
                           data=CameraUpdate.model_validate(payload), settings=settings)
    after = _snapshot(existing)
    changed = sorted("credentials" if k == "credentials_enc" else k
                     for k in after if after[k] != before[k])
    result.outcome, result.camera_id, result.changed = (
        ("updated" if changed else "unchanged"), existing.id, changed)


async def apply_rows(
    session: AsyncSession,
    *,
    rows: list[SheetRow],
    who: Principal,
    settings: Settings | None,
    default_owner: int | None = None,
    synthetic: bool = False,
    owners: OwnerIndex | None = None,
) -> list[RowResult]:
    """Create or update (by external_id) one camera per row, each row in its own savepoint.

    ``default_owner`` applies to new cameras whose row names no owner. Rows that already
    carry issues from reading are reported and skipped.
    """
    owners = owners or await OwnerIndex.load(session)
    codes = [r.code for r in rows if r.code and not r.issues]
    found = (await session.scalars(select(Camera).where(Camera.code.in_(codes)))).all()
    existing = {c.code: c for c in found}
    results = []
    for row in rows:
        result = RowResult(row.number, row.code, row.name, "failed", issues=list(row.issues))
        results.append(result)
        if result.issues:
            continue
        owner: int | None = None
        if row.owner is not None:
            resolved = owners.resolve(row.owner)
            if isinstance(resolved, str):
                result.issues.append(RowIssue(_label(row, "owner"), resolved.split(".")[-1],
                                              resolved, {"owner": safe_cell(row.owner)}))
                continue
            owner = resolved
        elif row.code not in existing:
            owner = default_owner
        if who.role == Role.partner and owner not in (None, who.organisation_id):
            result.issues.append(RowIssue(_label(row, "owner"), "outside_partner_org",
                                          "problem.outside_partner_org", {}))
            continue
        try:
            await _apply_row(session, row, result, existing=existing.get(row.code or ""),
                             owner=owner, who=who, settings=settings, synthetic=synthetic)
        except Problem as exc:
            result.issues.append(_problem_issue(row, exc))
        except IntegrityError:
            result.issues.append(RowIssue(None, "database_refused",
                                          "camera_import.row.database_refused", {}))
    return results


class _RollBack(Exception):
    """Raised inside a dry run's transaction so that it ends in a rollback."""


async def run_import(
    db: Database,
    *,
    sheet: Sheet,
    filename: str,
    who: Principal,
    settings: Settings,
    dry_run: bool = False,
    default_owner: str | None = None,
    batch_rows: int = BATCH_ROWS,
) -> ImportReport:
    """Import a read sheet in batches of ``batch_rows`` (each batch one transaction); a dry run
    checks every row the same way and rolls each batch back. Raises ``ImportFileError`` when
    ``default_owner`` names no single organisation, ``Problem`` (403) when a partner names
    another organisation."""
    async with db.session() as session:
        owners = await OwnerIndex.load(session)
    owner_id: int | None = None
    if default_owner:
        resolved = owners.resolve(default_owner)
        if isinstance(resolved, str):
            raise ImportFileError(resolved.split(".")[-1], owner=safe_cell(default_owner))
        owner_id = resolved
    if who.role == Role.partner and owner_id not in (None, who.organisation_id):
        raise Problem(403, "outside_partner_org")  # partners import into their own organisation
    results: list[RowResult] = []
    for start in range(0, len(sheet.rows), batch_rows):
        batch = sheet.rows[start:start + batch_rows]
        try:
            async with db.write() as session:
                done = await apply_rows(session, rows=batch, who=who, settings=settings,
                                        default_owner=owner_id, owners=owners)
                if dry_run:
                    raise _RollBack
        except _RollBack:
            for r in done:
                r.camera_id = None if r.outcome == "created" else r.camera_id
        results.extend(done)
    report = ImportReport(filename, sheet, dry_run, results)
    if not dry_run:
        async with db.write() as session:
            failed = [r.row for r in results if r.outcome == "failed"]
            await record(session, actor=who.actor, action="camera.import", entity_type="camera",
                         details={"file": filename[:200], **report.counts,
                                  "failed_rows": failed[:500]})
    return report
