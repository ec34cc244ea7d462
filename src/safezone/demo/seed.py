"""Write the synthetic demo data set into a database, through the ordinary service functions
(so every row is validated and every creation is in the audit chain)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from safezone.assets.kinds import BY_PATH, KINDS
from safezone.assets.service import create_asset
from safezone.audit.service import SYSTEM
from safezone.auth.roles import Role
from safezone.auth.service import Principal, create_user
from safezone.cameras.bulk_import import read_sheet
from safezone.cameras.import_service import apply_rows
from safezone.cameras.models import Camera
from safezone.db.engine import Database
from safezone.demo import data
from safezone.demo.municipal_csv import FILENAME, municipal_csv
from safezone.geo.zone_geometry import DEFAULT_MAX_AREA_KM2
from safezone.orgs.schemas import OrganisationCreate
from safezone.orgs.service import create_organisation
from safezone.zones.models import Station
from safezone.zones.schemas import StationCreate, ZoneCreate
from safezone.zones.service import create_station, create_zone

# The order in which the CLI prints the demo logins.
DEMO_USERS: tuple[tuple[str, Role], ...] = tuple((name, role) for name, role, _ in data.DEMO_USERS)


@dataclass(frozen=True)
class DemoSummary:
    """What ``seed_demo`` created."""

    station_id: int
    zone_id: int
    zone_area_km2: float
    organisations: int
    contacts: int
    # Assets created, by kind registry path ("cameras", "sos_boxes", ...).
    assets: dict[str, int]
    municipal_cameras: int
    cameras_in_zone: int
    users: tuple[tuple[str, Role], ...]

    @property
    def total_assets(self) -> int:
        return sum(self.assets.values())

    def __str__(self) -> str:
        """One line for the CLI."""
        a = self.assets
        return (
            f"1 zone ({self.zone_area_km2:.3f} km²), {self.organisations} organisations, "
            f"{a['cameras']} cameras ({self.municipal_cameras} municipal, "
            f"{self.cameras_in_zone} of them in the zone), {a['sos_boxes']} SOS boxes, "
            f"{a['checkpoints']} checkpoints, {a['risk_points']} risk points, "
            f"{a['street_lights']} street lights, {len(self.users)} users"
        )


class DemoAlreadyPresent(Exception):
    """The database already holds the demo data set."""


async def demo_present(session: AsyncSession) -> bool:
    """True when the demo station already exists."""
    found = await session.scalar(select(Station.id).where(Station.code == data.STATION["code"]))
    return found is not None


async def seed_demo(
    db: Database,
    *,
    password: str,
    seed: int = data.SEED,
    max_area_km2: float = DEFAULT_MAX_AREA_KM2,
    stream_base: str | None = None,
    csv_dir: Path | None = None,
) -> DemoSummary:
    """Create the demo station, zone, partners, assets and one user per role, all in one
    write transaction: either the whole data set is there afterwards or none of it.

    The municipal cameras come in as the municipality's CSV through the camera importer;
    ``csv_dir`` keeps a copy of that file (to show or re-import). ``stream_base`` (a simulated
    RTSP source) gives the linked ones a stream URL; without it they stay ``registered``.
    Every asset and the zone are flagged ``synthetic``. Raises ``DemoAlreadyPresent`` when the
    demo station exists, and ``Problem`` (409) when a demo username or asset code is taken.
    """
    demo = data.build(seed)
    async with db.write() as session:
        if await demo_present(session):
            raise DemoAlreadyPresent(data.STATION["code"])
        return await _seed(
            session, demo, password=password, max_area_km2=max_area_km2,
            stream_base=stream_base, csv_dir=csv_dir,
        )


async def _import_municipal_cameras(
    session: AsyncSession, cameras: list[data.AssetSpec], *, admin: Principal,
    stream_base: str | None, csv_dir: Path | None,
) -> list[int]:
    """The municipality's CSV through the importer; the new cameras' ids."""
    owner = next(o for o in data.ORGANISATIONS if o.key == "municipality").values["name_th"]
    text = municipal_csv(cameras, owner_name=owner, stream_base=stream_base)
    raw = text.encode("utf-8-sig")  # as Excel saves "CSV UTF-8"
    if csv_dir is not None:
        (csv_dir / FILENAME).write_bytes(raw)
    results = await apply_rows(
        session, rows=read_sheet(raw, FILENAME).rows, who=admin, settings=None, synthetic=True
    )
    failed = [r for r in results if r.outcome != "created"]
    if failed:  # the demo's own file must import cleanly; anything else is a bug
        raise RuntimeError(f"demo camera row {failed[0].row} was {failed[0].outcome}: "
                           f"{[i.code for i in failed[0].issues]}")
    return [r.camera_id for r in results if r.camera_id is not None]


async def _seed(
    session: AsyncSession, demo: data.DemoData, *, password: str, max_area_km2: float,
    stream_base: str | None, csv_dir: Path | None,
) -> DemoSummary:
    orgs: dict[str, int] = {}
    contacts = 0
    for spec in data.ORGANISATIONS:
        org = await create_organisation(
            session, actor=SYSTEM, data=OrganisationCreate.model_validate(spec.values)
        )
        orgs[spec.key] = org.id
        contacts += len(spec.values["contacts"])
    station = await create_station(
        session, actor=SYSTEM, data=StationCreate.model_validate(data.STATION)
    )
    zone = await create_zone(
        session, actor=SYSTEM,
        data=ZoneCreate.model_validate(
            {**data.ZONE, "station_id": station.id, "geometry": demo.zone_geometry}
        ),
        max_area_km2=max_area_km2, synthetic=True, source="demo",
    )
    users: list[tuple[str, Role]] = []
    admin: Principal | None = None
    for username, role, display_name in data.DEMO_USERS:
        org_key = data.USER_ORGANISATION.get(username)
        user = await create_user(
            session, actor=SYSTEM, username=username, password=password, role=role,
            display_name=display_name, organisation_id=orgs[org_key] if org_key else None,
        )
        users.append((username, role))
        if role == Role.admin:
            admin = Principal(
                user_id=user.id, username=user.username, display_name=user.display_name,
                role=role, organisation_id=user.organisation_id, via="system",
            )
    if admin is None:  # pragma: no cover - DEMO_USERS always has an admin
        raise RuntimeError("the demo data set has no admin user")
    counts: Counter[str] = Counter()
    municipal_specs = [a for a in demo.assets if a.kind == "cameras" and a.owner == "municipality"]
    municipal_ids = await _import_municipal_cameras(
        session, municipal_specs, admin=admin, stream_base=stream_base, csv_dir=csv_dir
    )
    municipal = len(municipal_ids)
    counts["cameras"] += municipal
    in_zone = int(await session.scalar(
        select(func.count()).select_from(Camera)
        .where(Camera.id.in_(municipal_ids), Camera.zone_id == zone.id)
    ) or 0)
    for asset in demo.assets:
        if asset.kind == "cameras" and asset.owner == "municipality":
            continue  # imported above
        kind = BY_PATH[asset.kind]
        values = {**asset.values, "organisation_id": orgs[asset.owner] if asset.owner else None}
        await create_asset(
            session, kind=kind, who=admin, data=kind.create.model_validate(values),
            synthetic=True,
        )
        counts[asset.kind] += 1
    return DemoSummary(
        station_id=station.id,
        zone_id=zone.id,
        zone_area_km2=zone.area_km2,
        organisations=len(orgs),
        contacts=contacts,
        assets={k.path: counts[k.path] for k in KINDS},
        municipal_cameras=municipal,
        cameras_in_zone=in_zone,
        users=tuple(users),
    )
