"""CRUD for point assets, scoped for partners, every change in the audit chain."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from safezone.assets.kinds import AssetKind
from safezone.assets.models import PointAsset
from safezone.assets.schemas import AssetCreate, AssetUpdate
from safezone.audit.service import record
from safezone.auth.roles import Role
from safezone.auth.service import Principal
from safezone.orgs.models import Organisation
from safezone.problems import Problem
from safezone.settings import Settings
from safezone.zones.models import Zone
from safezone.zones.service import zone_containing


def scoped(kind: AssetKind, who: Principal) -> Select[Any]:
    """A select of the kind's rows that ``who`` may see (partners: own organisation only)."""
    query = select(kind.model)
    if who.role == Role.partner:
        query = query.where(kind.model.organisation_id == who.organisation_id)
    return query


async def list_assets(
    session: AsyncSession,
    *,
    kind: AssetKind,
    who: Principal,
    limit: int,
    offset: int,
    zone_id: int | None = None,
    organisation_id: int | None = None,
    q: str | None = None,
) -> tuple[list[PointAsset], int]:
    query = scoped(kind, who)
    m = kind.model
    if zone_id is not None:
        query = query.where(m.zone_id == zone_id)
    if organisation_id is not None:
        query = query.where(m.organisation_id == organisation_id)
    if q:
        like = f"%{q.lower()}%"
        query = query.where(
            func.lower(m.name_th).like(like)
            | func.lower(m.name_en).like(like)
            | func.lower(m.code).like(like)
        )
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = (await session.scalars(query.order_by(m.id).limit(limit).offset(offset))).all()
    return list(rows), int(total or 0)


async def get_asset(
    session: AsyncSession, *, kind: AssetKind, who: Principal, asset_id: int
) -> PointAsset:
    """The asset, or 404 (also for a partner asking for another organisation's asset)."""
    row = await session.scalar(scoped(kind, who).where(kind.model.id == asset_id))
    if row is None:
        raise Problem(404, "entity_not_found", entity=kind.name, id=asset_id)
    return row  # type: ignore[no-any-return]


async def _check_refs(
    session: AsyncSession, values: dict[str, Any], who: Principal, *, creating: bool
) -> None:
    if who.role == Role.partner:
        org = values.get("organisation_id")
        if org is not None and org != who.organisation_id:
            raise Problem(403, "outside_partner_org")
        # A partner's new asset always belongs to the partner's own organisation.
        if creating or "organisation_id" in values:
            values["organisation_id"] = who.organisation_id
    if (org_id := values.get("organisation_id")) is not None and await session.get(
        Organisation, org_id
    ) is None:
        raise Problem(422, "unknown_organisation", id=org_id)
    if (zone_id := values.get("zone_id")) is not None and await session.get(Zone, zone_id) is None:
        raise Problem(422, "unknown_zone", id=zone_id)


async def _check_code_free(
    session: AsyncSession, kind: AssetKind, code: str, own_id: int | None = None
) -> None:
    query = select(kind.model.id).where(kind.model.code == code)
    found = await session.scalar(query)
    if found is not None and found != own_id:
        raise Problem(409, "duplicate_code", code=code, entity=kind.name)


async def create_asset(
    session: AsyncSession,
    *,
    kind: AssetKind,
    who: Principal,
    data: AssetCreate,
    synthetic: bool = False,
    settings: Settings | None = None,
) -> PointAsset:
    """Add an asset; ``settings`` is needed by kinds that seal secrets (camera credentials)."""
    values = data.model_dump()
    await _check_refs(session, values, who, creating=True)
    if kind.prepare is not None:
        kind.prepare(values, who=who, current=None, settings=settings)
    await _check_code_free(session, kind, values["code"])
    if values.get("zone_id") is None:
        values["zone_id"] = await zone_containing(session, lon=values["lon"], lat=values["lat"])
    row = kind.model(**values)
    row.synthetic = synthetic
    session.add(row)
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent insert of the same code
        raise Problem(409, "duplicate_code", code=values["code"], entity=kind.name) from exc
    await record(
        session,
        actor=who.actor,
        action=f"{kind.name}.create",
        entity_type=kind.name,
        entity_id=row.id,
        details={
            "code": row.code,
            "values": _jsonable({k: _masked(kind, k, v) for k, v in values.items()}),
        },
    )
    return row


def _refuse_nulls(kind: AssetKind, values: dict[str, Any]) -> None:
    """An explicit null for a required column is a 422, not a database error."""
    columns = sa_inspect(kind.model).columns
    bad = [k for k, v in values.items() if v is None and k in columns and not columns[k].nullable]
    if bad:
        errors = [
            {"field": k, "code": "null_not_allowed", "message": f"{k}: may not be null"}
            for k in bad
        ]
        raise Problem(
            422, "invalid_input", errors=errors, count=len(bad), first=errors[0]["message"]
        )


async def update_asset(
    session: AsyncSession,
    *,
    kind: AssetKind,
    who: Principal,
    asset_id: int,
    data: AssetUpdate,
    settings: Settings | None = None,
) -> PointAsset:
    """Change the fields that were sent; one audit entry lists what changed."""
    row = await get_asset(session, kind=kind, who=who, asset_id=asset_id)
    values = data.model_dump(exclude_unset=True)
    _refuse_nulls(kind, values)
    await _check_refs(session, values, who, creating=False)
    if kind.prepare is not None:
        kind.prepare(values, who=who, current=row, settings=settings)
    if "code" in values:
        await _check_code_free(session, kind, values["code"], own_id=row.id)
    changes: dict[str, Any] = {}
    for key, value in values.items():
        old = getattr(row, key)
        if old != value:
            changes[key] = {"from": _masked(kind, key, old), "to": _masked(kind, key, value)}
            setattr(row, key, value)
    moved = "lat" in changes or "lon" in changes
    if moved and "zone_id" not in values:
        row.zone_id = await zone_containing(session, lon=row.lon, lat=row.lat)
    if changes:
        await session.flush()
        await record(
            session,
            actor=who.actor,
            action=f"{kind.name}.update",
            entity_type=kind.name,
            entity_id=row.id,
            details={"changes": _jsonable(changes)},
        )
    return row


async def delete_asset(
    session: AsyncSession, *, kind: AssetKind, who: Principal, asset_id: int
) -> None:
    row = await get_asset(session, kind=kind, who=who, asset_id=asset_id)
    snapshot = {c: getattr(row, c) for c in ("code", "name_th", "lat", "lon", "organisation_id")}
    await session.delete(row)
    await session.flush()
    await record(
        session,
        actor=who.actor,
        action=f"{kind.name}.delete",
        entity_type=kind.name,
        entity_id=asset_id,
        details={"deleted": _jsonable(snapshot)},
    )


_REDACTED = "[redacted]"


def _masked(kind: AssetKind, key: str, value: Any) -> Any:
    # The audit chain shows that a secret was set, changed or removed, never its value.
    if key in kind.secret_columns:
        return _REDACTED if value else None
    return value


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
