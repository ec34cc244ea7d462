"""Validation and normalisation of safe-zone polygons given as GeoJSON (RFC 7946).

Input comes from officers' browsers and uploaded files, so nothing about its shape is
trusted: every level of nesting is checked explicitly and every failure becomes a
GeometryError with a stable code that the API layer can translate.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.polygon import orient
from shapely.validation import explain_validity

from .area import geodesic_area_km2
from .errors import GeometryError

COORD_DECIMALS: Final = 7  # ~1 cm; more digits are GPS noise and bloat storage.
DEFAULT_MAX_AREA_KM2: Final = 50.0
# Under 1 m² nothing is patrollable; e.g. "collinear" points whose geodesic edges
# enclose a few m² in lon/lat rounding noise. Reported as "empty".
MIN_AREA_KM2: Final = 1e-6
_SLIVER_RATIO: Final = 1e-9  # hull area / perimeter² below this = collinear points
DEFAULT_MAX_VERTICES: Final = 10_000  # far above any hand-drawn zone; bounds CPU work.
POLYGONAL_TYPES: Final = frozenset({"Polygon", "MultiPolygon"})
# Valid GeoJSON types that are not polygons: reported as "not_polygon" (not "malformed")
# because the user sent a well-formed object of the wrong kind.
OTHER_GEOJSON_TYPES: Final = frozenset(
    {"Point", "MultiPoint", "LineString", "MultiLineString", "GeometryCollection"}
    | {"Feature", "FeatureCollection"}
)
_LOCATION_RE: Final = re.compile(r"\[\s*(\S+)\s+(\S+)\s*\]")

Position = tuple[float, float]
Ring = list[Position]


@dataclass(frozen=True, slots=True)
class ValidZone:
    """A validated, normalised zone geometry."""

    geometry: dict[str, Any]  # GeoJSON Polygon/MultiPolygon, CCW exteriors, 7 decimals
    shape: Polygon | MultiPolygon
    area_km2: float
    centroid: tuple[float, float]  # (lon, lat)
    bbox: tuple[float, float, float, float]  # (min_lon, min_lat, max_lon, max_lat)


# str/bytes are Sequences too, so only real JSON arrays (list, or tuple from Python
# callers) count as arrays; isinstance against this alias also narrows for mypy.
_ARRAY: Final = (list, tuple)


class _Reader:
    """Reads GeoJSON coordinates while counting vertices (to stop huge inputs early)."""

    def __init__(self, *, auto_close: bool, max_vertices: int) -> None:
        self.auto_close = auto_close
        self.max_vertices = max_vertices
        self.vertices = 0

    def number(self, value: object, path: str) -> float:
        # bool is an int subclass, but true/false in a coordinate is certainly a bug.
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise GeometryError(
                "malformed", f"Coordinate at {path} is not a number: {value!r:.40}", path=path
            )
        try:
            result = float(value)
        except OverflowError:  # ints beyond float range
            result = math.inf
        if not math.isfinite(result):
            raise GeometryError(
                "malformed", f"Coordinate at {path} is not a finite number", path=path
            )
        return result

    def position(self, value: object, path: str) -> Position:
        if not isinstance(value, _ARRAY):
            raise GeometryError("malformed", f"Expected a [lon, lat] position at {path}", path=path)
        if len(value) not in (2, 3):
            raise GeometryError(
                "malformed",
                f"Position at {path} must have 2 or 3 numbers (lon, lat[, alt]), got {len(value)}",
                path=path,
            )
        lon = self.number(value[0], f"{path}[0]")
        lat = self.number(value[1], f"{path}[1]")
        if len(value) == 3:
            self.number(value[2], f"{path}[2]")  # altitude is dropped but must be sane
        if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
            raise GeometryError(
                "coordinate_out_of_range",
                f"Coordinate at {path} is out of range: lon={lon}, lat={lat} "
                "(longitude must be within -180..180 and latitude within -90..90; "
                "were lon and lat swapped?)",
                path=path,
                lon=lon,
                lat=lat,
            )
        # "+ 0.0" turns -0.0 into 0.0 so equal points serialise identically.
        return (round(lon, COORD_DECIMALS) + 0.0, round(lat, COORD_DECIMALS) + 0.0)

    def ring(self, value: object, path: str) -> Ring:
        if not isinstance(value, _ARRAY):
            raise GeometryError("malformed", f"Expected a ring (array) at {path}", path=path)
        points: Ring = []
        for index, item in enumerate(value):
            self.vertices += 1
            if self.vertices > self.max_vertices:
                raise GeometryError(
                    "too_many_points",
                    f"Geometry has more than {self.max_vertices} points",
                    limit=self.max_vertices,
                )
            points.append(self.position(item, f"{path}[{index}]"))
        # An open triangle is reported as "not closed" (fixable) rather than "too few".
        if len(points) >= 3 and points[0] != points[-1]:
            if not self.auto_close:
                raise GeometryError(
                    "ring_not_closed",
                    f"Ring at {path} is not closed: the first position {list(points[0])} "
                    f"differs from the last {list(points[-1])}",
                    path=path,
                    first=list(points[0]),
                    last=list(points[-1]),
                )
            points.append(points[0])
        if len(points) < 4:
            raise GeometryError(
                "too_few_points",
                f"Ring at {path} has {len(points)} positions; at least 4 are required",
                path=path,
                count=len(points),
                minimum=4,
            )
        return points

    def polygon(self, value: object, path: str) -> Polygon:
        if not isinstance(value, _ARRAY):
            raise GeometryError("malformed", f"Expected an array of rings at {path}", path=path)
        if not value:
            raise GeometryError("empty", f"Polygon at {path} has no rings", path=path)
        rings = [self.ring(item, f"{path}[{index}]") for index, item in enumerate(value)]
        hull = Polygon(rings[0]).convex_hull
        # Points that are (almost) collinear are reported as "empty" rather than as a
        # self-intersection: that matches what the user sees (a zone with no area).
        # The test is scale-free (area vs perimeter²) so it flags numeric slivers only;
        # even a 10 m x 5 km corridor scores ~5e-4, far above the threshold.
        if hull.area <= _SLIVER_RATIO * hull.length**2:
            raise GeometryError(
                "empty", f"Polygon at {path} has zero area", path=path, area_km2=0.0
            )
        return Polygon(rings[0], rings[1:])


def _parse_shape(
    geometry: Mapping[str, Any], *, auto_close: bool, max_vertices: int
) -> Polygon | MultiPolygon:
    geom_type = geometry.get("type")
    if not isinstance(geom_type, str):
        raise GeometryError("malformed", "Geometry has no 'type' member", path="type")
    if geom_type not in POLYGONAL_TYPES:
        if geom_type in OTHER_GEOJSON_TYPES:
            raise GeometryError(
                "not_polygon",
                f"A zone must be a Polygon or MultiPolygon, got {geom_type}",
                type=geom_type,  # the i18n catalogue's placeholder is {type}
            )
        raise GeometryError(
            "malformed", f"Unknown GeoJSON type {geom_type!r:.40}", type=geom_type[:40]
        )
    if "coordinates" not in geometry:
        raise GeometryError(
            "malformed", f"{geom_type} has no 'coordinates' member", path="coordinates"
        )
    coordinates = geometry["coordinates"]
    reader = _Reader(auto_close=auto_close, max_vertices=max_vertices)
    if geom_type == "Polygon":
        return reader.polygon(coordinates, "coordinates")
    if not isinstance(coordinates, _ARRAY):
        raise GeometryError(
            "malformed", "Expected an array of polygons at coordinates", path="coordinates"
        )
    polygons = [reader.polygon(item, f"coordinates[{i}]") for i, item in enumerate(coordinates)]
    if not polygons:
        raise GeometryError("empty", "MultiPolygon has no polygons", path="coordinates")
    return MultiPolygon(polygons)


def _check_validity(shape: Polygon | MultiPolygon) -> None:
    reason = str(explain_validity(shape))
    if reason == "Valid Geometry":
        return
    # The API message always shows a location, so fall back to a point inside the
    # shape if GEOS gave none (or changed its format).
    point = shape.representative_point()
    lon, lat = float(point.x), float(point.y)
    match = _LOCATION_RE.search(reason)
    if match:
        with contextlib.suppress(ValueError):
            lon, lat = float(match.group(1)), float(match.group(2))
    # Every GEOS invalidity (crossing edges, hole outside shell, overlapping parts) is
    # reported under one code, as agreed with the API layer; "reason" keeps the detail.
    raise GeometryError(
        "self_intersection",
        f"Polygon edges cross or overlap near lon={lon}, lat={lat} ({reason})",
        lon=lon,
        lat=lat,
        reason=reason,
    )


def _ring_coords(ring: Any) -> list[list[float]]:
    return [[float(x), float(y)] for x, y, *_ in ring.coords]


def _polygon_coords(polygon: Polygon) -> list[list[list[float]]]:
    return [_ring_coords(polygon.exterior)] + [_ring_coords(r) for r in polygon.interiors]


def validate_zone_geometry(
    geojson_geometry: Mapping[str, Any],
    *,
    max_area_km2: float = DEFAULT_MAX_AREA_KM2,
    auto_close: bool = False,
    max_vertices: int = DEFAULT_MAX_VERTICES,
) -> ValidZone:
    """Validate a GeoJSON Polygon/MultiPolygon and return it normalised.

    Normalisation: rings closed, exterior rings counter-clockwise and holes clockwise
    (RFC 7946 §3.1.6), coordinates rounded to 7 decimals, altitude dropped.
    ``auto_close=True`` closes open rings instead of rejecting them (KML habit).

    Raises:
        GeometryError: with code malformed, not_polygon, coordinate_out_of_range,
            too_few_points, too_many_points, ring_not_closed, self_intersection,
            empty or too_large.
    """
    if not isinstance(geojson_geometry, Mapping):
        raise GeometryError(
            "malformed",
            f"Geometry must be a JSON object, got {type(geojson_geometry).__name__}",
        )
    shape = _parse_shape(geojson_geometry, auto_close=auto_close, max_vertices=max_vertices)
    # Validity is planar in lon/lat (as PostGIS geometry and web maps see it), area is
    # geodesic; at zone sizes the two notions of "edge" differ by millimetres.
    # Zones crossing the antimeridian are not supported (irrelevant for Thailand).
    _check_validity(shape)

    if isinstance(shape, Polygon):
        shape = orient(shape, sign=1.0)
        geometry: dict[str, Any] = {"type": "Polygon", "coordinates": _polygon_coords(shape)}
    else:
        shape = MultiPolygon([orient(p, sign=1.0) for p in shape.geoms])
        geometry = {
            "type": "MultiPolygon",
            "coordinates": [_polygon_coords(p) for p in shape.geoms],
        }

    area_km2 = geodesic_area_km2(shape)
    if area_km2 < MIN_AREA_KM2:
        raise GeometryError("empty", "Zone has (almost) zero area", area_km2=area_km2)
    if area_km2 > max_area_km2:
        raise GeometryError(
            "too_large",
            f"Zone area {area_km2:.3f} km² exceeds the limit of {max_area_km2:g} km²",
            area_km2=round(area_km2, 4),
            limit_km2=max_area_km2,
        )
    centroid = shape.centroid
    min_lon, min_lat, max_lon, max_lat = (float(v) for v in shape.bounds)
    return ValidZone(
        geometry=geometry,
        shape=shape,
        area_km2=area_km2,
        centroid=(
            round(float(centroid.x), COORD_DECIMALS),
            round(float(centroid.y), COORD_DECIMALS),
        ),
        bbox=(min_lon, min_lat, max_lon, max_lat),
    )


def _geometry_type_of(feature: object) -> str | None:
    if isinstance(feature, Mapping):
        geometry = feature.get("geometry")
        if isinstance(geometry, Mapping) and isinstance(geometry.get("type"), str):
            return str(geometry["type"])[:40]
    return None


def check_single_polygon(types: list[str | None], container: str, item: str) -> None:
    """Require exactly one item, and that it is polygonal (shared with KML import).

    A single non-polygonal item gets "not_polygon" (param ``type``); any other count
    gets "malformed" with ``container``, ``count``, ``polygon_count``, ``geometry_types``.
    """
    polygon_count = sum(1 for t in types if t in POLYGONAL_TYPES)
    if len(types) == 1 and polygon_count == 1:
        return
    if len(types) == 1 and types[0] is not None:
        raise GeometryError(
            "not_polygon",
            f"A zone must be a Polygon or MultiPolygon, got {types[0]}",
            type=types[0],
        )
    found = ", ".join(str(t) for t in types[:10]) or "none"
    raise GeometryError(
        "malformed",
        f"{container} must contain exactly one Polygon or MultiPolygon {item}; found "
        f"{len(types)} {item}(s), {polygon_count} polygonal ({found})",
        container=container,
        count=len(types),
        polygon_count=polygon_count,
        geometry_types=types[:10],
    )


def _unwrap_feature(feature: Mapping[str, Any]) -> tuple[Mapping[str, Any], dict[str, Any]]:
    geometry = feature.get("geometry")
    if not isinstance(geometry, Mapping):
        raise GeometryError("malformed", "Feature has no geometry object", path="geometry")
    properties = feature.get("properties")
    if properties is None:
        properties = {}
    if not isinstance(properties, Mapping):
        raise GeometryError(
            "malformed", "Feature 'properties' must be an object or null", path="properties"
        )
    return geometry, {str(key): value for key, value in properties.items()}


def extract_zone_feature(obj: object) -> tuple[Mapping[str, Any], dict[str, Any]]:
    """Return ``(geometry, properties)`` from a Feature, FeatureCollection or geometry.

    A FeatureCollection must contain exactly one feature and it must be polygonal.
    A bare geometry is returned with empty properties. The geometry itself is not
    validated here; pass it to ``validate_zone_geometry``.

    Raises:
        GeometryError: code "malformed" (counts in params for FeatureCollections).
    """
    if not isinstance(obj, Mapping):
        raise GeometryError("malformed", f"Expected a JSON object, got {type(obj).__name__}")
    obj_type = obj.get("type")
    if obj_type == "Feature":
        return _unwrap_feature(obj)
    if obj_type == "FeatureCollection":
        features = obj.get("features")
        if not isinstance(features, _ARRAY):
            raise GeometryError(
                "malformed", "FeatureCollection has no 'features' array", path="features"
            )
        types = [_geometry_type_of(feature) for feature in features]
        check_single_polygon(types, "FeatureCollection", "feature")
        feature = features[0]
        if not isinstance(feature, Mapping) or feature.get("type") != "Feature":
            raise GeometryError("malformed", "features[0] is not a Feature", path="features[0]")
        return _unwrap_feature(feature)
    if isinstance(obj_type, str) and (
        obj_type in POLYGONAL_TYPES or obj_type in OTHER_GEOJSON_TYPES
    ):
        return obj, {}
    raise GeometryError("malformed", "Object is not GeoJSON (missing or unknown 'type')")
