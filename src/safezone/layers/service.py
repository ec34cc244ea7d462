"""GeoJSON for every map layer, built from plain column rows (no ORM objects) so that
thousands of features serialise in milliseconds; and all-or-nothing GeoJSON import."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from safezone.assets import service as assets
from safezone.assets.kinds import KINDS, AssetKind
from safezone.auth.roles import Role
from safezone.auth.service import Principal
from safezone.cameras.fov_layer import CAMERA_FOV, fov_layer_info
from safezone.problems import Problem
from safezone.settings import Settings
from safezone.zones.models import Zone

ZONES = "zones"
LAYER_NAMES: tuple[str, ...] = (ZONES, *(k.path for k in KINDS), CAMERA_FOV)
_BASE = ("id", "code", "name_th", "name_en", "zone_id", "organisation_id")
MAX_IMPORT_FEATURES = 20_000


async def layer_index(session: AsyncSession, who: Principal) -> list[dict[str, Any]]:
    """Every layer with its title, colour and the number of features ``who`` can see."""
    zones = await session.scalar(select(func.count()).select_from(Zone))
    out: list[dict[str, Any]] = [
        {
            "name": ZONES,
            "title_th": "พื้นที่ปลอดภัย",
            "title_en": "Safe zones",
            "geometry": "polygon",
            "color": "#2ca02c",
            "count": int(zones or 0),
        }
    ]
    for kind in KINDS:
        query = select(func.count()).select_from(assets.scoped(kind, who).subquery())
        out.append(
            {
                "name": kind.path,
                "title_th": kind.title_th,
                "title_en": kind.title_en,
                "geometry": "point",
                "color": kind.color,
                "count": int(await session.scalar(query) or 0),
            }
        )
    # Camera wedges last: drawn above the zone, below the points.
    out.append(await fov_layer_info(session, who))
    return out


async def zones_geojson(session: AsyncSession) -> dict[str, Any]:
    rows = await session.execute(
        select(
            Zone.id,
            Zone.name_th,
            Zone.name_en,
            Zone.area_km2,
            Zone.population,
            Zone.households,
            Zone.reasons,
            Zone.station_id,
            Zone.geometry,
            Zone.synthetic,
        ).order_by(Zone.id)
    )
    features = []
    for r in rows:
        props = {
            "id": r.id,
            "name_th": r.name_th,
            "name_en": r.name_en,
            "area_km2": round(r.area_km2, 6),
            "population": r.population,
            "households": r.households,
            "reasons": r.reasons,
            "station_id": r.station_id,
            "synthetic": r.synthetic,
        }
        features.append(
            {"type": "Feature", "id": r.id, "geometry": r.geometry, "properties": props}
        )
    return {"type": "FeatureCollection", "features": features}


async def assets_geojson(
    session: AsyncSession,
    *,
    kind: AssetKind,
    who: Principal,
    bbox: tuple[float, float, float, float] | None = None,
    zone_id: int | None = None,
) -> dict[str, Any]:
    m = kind.model
    names = (*_BASE, *kind.properties)
    columns = [getattr(m, n) for n in names]
    query = select(m.lon, m.lat, *columns).order_by(m.id)
    if who.role == Role.partner:
        query = query.where(m.organisation_id == who.organisation_id)
    if bbox is not None:
        min_lon, min_lat, max_lon, max_lat = bbox
        query = query.where(m.lon >= min_lon, m.lon <= max_lon, m.lat >= min_lat, m.lat <= max_lat)
    if zone_id is not None:
        query = query.where(m.zone_id == zone_id)
    result = await session.execute(query)
    features = []
    for row in result:
        props = dict(zip(names, row[2:], strict=True))
        features.append(
            {
                "type": "Feature",
                "id": props["id"],
                "geometry": {"type": "Point", "coordinates": [row[0], row[1]]},
                "properties": props,
            }
        )
    return {"type": "FeatureCollection", "features": features}


def parse_bbox(text: str | None) -> tuple[float, float, float, float] | None:
    """``minLon,minLat,maxLon,maxLat`` as in the GeoJSON bbox member."""
    if not text:
        return None
    try:
        parts = tuple(float(p) for p in text.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 4 or not (
        -180 <= parts[0] <= parts[2] <= 180 and -90 <= parts[1] <= parts[3] <= 90
    ):
        raise Problem(422, "invalid_input", count=1, first="bbox: minLon,minLat,maxLon,maxLat")
    return parts[0], parts[1], parts[2], parts[3]


def _feature_to_values(feature: Any, index: int) -> dict[str, Any]:
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise ValueError("not a GeoJSON Feature")
    geometry = feature.get("geometry") or {}
    if geometry.get("type") != "Point":
        raise ValueError(f"geometry must be a Point, not {geometry.get('type')}")
    coords = geometry.get("coordinates")
    if not isinstance(coords, list) or len(coords) < 2:
        raise ValueError("Point needs [lon, lat]")
    props = dict(feature.get("properties") or {})
    for key in ("id", "zone_id", "synthetic", "status", "tier", "created_at", "updated_at"):
        props.pop(key, None)  # output-only fields, so an exported layer re-imports as it is
    props["lon"], props["lat"] = coords[0], coords[1]
    return props


async def import_features(
    session: AsyncSession,
    *,
    kind: AssetKind,
    who: Principal,
    collection: Any,
    settings: Settings | None = None,
) -> dict[str, int]:
    """Create or update (by ``code``) one asset per Point feature; all or nothing."""
    if not isinstance(collection, dict) or collection.get("type") != "FeatureCollection":
        raise Problem(422, "invalid_input", count=1, first="body: a GeoJSON FeatureCollection")
    features = collection.get("features")
    if not isinstance(features, list) or len(features) > MAX_IMPORT_FEATURES:
        raise Problem(
            422,
            "invalid_input",
            count=1,
            first=f"features: a list of at most {MAX_IMPORT_FEATURES} features",
        )
    parsed: list[tuple[int, dict[str, Any]]] = []
    errors: list[dict[str, Any]] = []
    codes: set[str] = set()
    for i, feature in enumerate(features):
        try:
            values = _feature_to_values(feature, i)
            kind.create.model_validate(values)
        except ValidationError as exc:
            for err in exc.errors():
                field = ".".join(str(p) for p in err["loc"])
                errors.append(
                    {
                        "field": f"features[{i}].{field}",
                        "code": err["type"],
                        "message": f"features[{i}].{field}: {err['msg']}",
                    }
                )
            continue
        except ValueError as exc:
            errors.append(
                {
                    "field": f"features[{i}]",
                    "code": "value_error",
                    "message": f"features[{i}]: {exc}",
                }
            )
            continue
        if values["code"] in codes:
            errors.append(
                {
                    "field": f"features[{i}].code",
                    "code": "duplicate",
                    "message": f"features[{i}]: code {values['code']} appears twice",
                }
            )
        codes.add(values["code"])
        parsed.append((i, values))
    if errors:
        raise Problem(
            422, "invalid_input", errors=errors[:200], count=len(errors), first=errors[0]["message"]
        )
    existing = (
        dict(
            (
                await session.execute(
                    select(kind.model.code, kind.model.id).where(kind.model.code.in_(codes))
                )
            ).all()
        )
        if codes
        else {}
    )
    created = updated = 0
    for _i, values in parsed:
        if (asset_id := existing.get(values["code"])) is not None:
            data = kind.update.model_validate(values)
            await assets.update_asset(
                session, kind=kind, who=who, asset_id=asset_id, data=data, settings=settings
            )
            updated += 1
        else:
            await assets.create_asset(
                session, kind=kind, who=who, data=kind.create.model_validate(values),
                settings=settings,
            )
            created += 1
    return {"created": created, "updated": updated}


async def import_zones(
    session: AsyncSession, *, who: Principal, collection: Any, max_area_km2: float
) -> dict[str, int]:
    """Create one zone per polygon feature; any bad feature rejects the whole collection."""
    from safezone.zones.schemas import ZoneCreate
    from safezone.zones.service import create_zone

    features = collection.get("features") if isinstance(collection, dict) else None
    if collection.get("type") != "FeatureCollection" or not isinstance(features, list):
        raise Problem(422, "invalid_input", count=1, first="body: a GeoJSON FeatureCollection")
    created = 0
    for i, feature in enumerate(features[:100]):
        props = dict((feature or {}).get("properties") or {}) if isinstance(feature, dict) else {}
        try:
            data = ZoneCreate(
                name_th=props.get("name_th") or props.get("name") or f"zone {i + 1}",
                name_en=props.get("name_en") or "",
                population=props.get("population"),
                households=props.get("households"),
                geometry=(feature or {}).get("geometry") or {},
            )
        except ValidationError as exc:
            raise Problem(
                422, "invalid_input", count=1, first=f"features[{i}]: {exc.errors()[0]['msg']}"
            ) from exc
        await create_zone(
            session,
            actor=who.actor,
            data=data,
            max_area_km2=max_area_km2,
            source="import:geojson-layer",
        )
        created += 1
    return {"created": created, "updated": 0}
