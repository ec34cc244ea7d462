"""Validation/normalisation of zone geometries, including property-based tests."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import Geod
from shapely.geometry import Polygon

from safezone.geo.errors import ERROR_CODES, GeometryError
from safezone.geo.zone_geometry import ValidZone, extract_zone_feature, validate_zone_geometry

GEOD = Geod(ellps="WGS84")
# ~0.5 km x 0.5 km box in Narathiwat, listed clockwise on purpose.
CW_BOX = [
    [101.8207, 6.4227],
    [101.8207, 6.4272],
    [101.8252, 6.4272],
    [101.8252, 6.4227],
    [101.8207, 6.4227],
]


def poly(*rings: list[list[Any]]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [list(r) for r in rings]}


def rejected(geometry: Any, code: str, **kwargs: Any) -> GeometryError:
    with pytest.raises(GeometryError) as info:
        validate_zone_geometry(geometry, **kwargs)
    assert info.value.code == code, info.value
    assert info.value.code in ERROR_CODES
    assert str(info.value)  # always a readable message
    return info.value


def signed_area(ring: list[list[float]]) -> float:
    return sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in zip(ring, ring[1:], strict=False))


# --- valid input -----------------------------------------------------------------


def test_valid_polygon_is_normalised() -> None:
    noisy = [[x + 1.23e-9, y - 4.4e-9, 12.5] for x, y in CW_BOX[:-1]]
    noisy.append(list(noisy[0]))
    zone = validate_zone_geometry(poly(noisy))
    assert isinstance(zone, ValidZone)
    ring = zone.geometry["coordinates"][0]
    assert zone.geometry["type"] == "Polygon"
    assert ring[0] == ring[-1]
    assert all(len(p) == 2 for p in ring)  # altitude dropped
    assert all(round(v, 7) == v for p in ring for v in p)
    assert {tuple(p) for p in ring} == {tuple(p) for p in CW_BOX}
    assert signed_area(ring) > 0  # counter-clockwise exterior (RFC 7946)
    assert zone.area_km2 == pytest.approx(0.2478, rel=0.01)
    assert zone.centroid == pytest.approx((101.82295, 6.42495))
    assert zone.bbox == (101.8207, 6.4227, 101.8252, 6.4272)
    assert zone.shape.is_valid


def test_hole_is_clockwise_and_subtracted() -> None:
    outer = [[101.80, 6.40], [101.82, 6.40], [101.82, 6.42], [101.80, 6.42], [101.80, 6.40]]
    hole = [[101.805, 6.405], [101.81, 6.405], [101.81, 6.41], [101.805, 6.41], [101.805, 6.405]]
    with_hole = validate_zone_geometry(poly(outer, hole))
    assert signed_area(with_hole.geometry["coordinates"][0]) > 0
    assert signed_area(with_hole.geometry["coordinates"][1]) < 0
    without = validate_zone_geometry(poly(outer)).area_km2
    assert with_hole.area_km2 == pytest.approx(without * 0.9375, rel=1e-3)


def test_multipolygon_valid() -> None:
    second = [[x + 0.01, y] for x, y in CW_BOX]
    zone = validate_zone_geometry({"type": "MultiPolygon", "coordinates": [[CW_BOX], [second]]})
    assert zone.geometry["type"] == "MultiPolygon"
    assert len(zone.geometry["coordinates"]) == 2
    assert all(signed_area(p[0]) > 0 for p in zone.geometry["coordinates"])


def test_auto_close() -> None:
    err = rejected(poly(CW_BOX[:-1]), "ring_not_closed")
    assert err.params["path"] == "coordinates[0]"
    assert err.params["first"] == CW_BOX[0] and err.params["last"] == CW_BOX[-2]
    zone = validate_zone_geometry(poly(CW_BOX[:-1]), auto_close=True)
    assert zone.geometry["coordinates"][0][0] == zone.geometry["coordinates"][0][-1]
    assert len(zone.geometry["coordinates"][0]) == 5


# --- rejections ------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, [], "Polygon", 3, {"coordinates": [CW_BOX]}])
def test_not_an_object_or_no_type(value: Any) -> None:
    rejected(value, "malformed")


@pytest.mark.parametrize(
    "geom_type", ["Point", "LineString", "MultiPoint", "GeometryCollection", "Feature"]
)
def test_not_polygon_names_type(geom_type: str) -> None:
    err = rejected({"type": geom_type, "coordinates": [1.0, 2.0]}, "not_polygon")
    assert err.params["type"] == geom_type
    assert geom_type in str(err)


@pytest.mark.parametrize(
    ("geometry", "path"),
    [
        ({"type": "Polygon"}, "coordinates"),
        ({"type": "Polygon", "coordinates": CW_BOX}, "coordinates[0][0]"),  # one level short
        (poly([[101.8, "6.4"], *CW_BOX[1:]]), "coordinates[0][0][1]"),
        (poly([*CW_BOX[:2], [101.8, math.nan], *CW_BOX[3:]]), "coordinates[0][2][1]"),
        (poly([*CW_BOX[:2], [math.inf, 6.4], *CW_BOX[3:]]), "coordinates[0][2][0]"),
        (poly([*CW_BOX[:1], [True, 6.4], *CW_BOX[2:]]), "coordinates[0][1][0]"),
        (poly([*CW_BOX[:1], [101.8], *CW_BOX[2:]]), "coordinates[0][1]"),
        (poly([*CW_BOX[:1], [101.8, 6.4, 0, 0], *CW_BOX[2:]]), "coordinates[0][1]"),
        (poly([*CW_BOX[:1], [10**400, 6.4], *CW_BOX[2:]]), "coordinates[0][1][0]"),
        ({"type": "MultiPolygon", "coordinates": [[[1, 2]]]}, "coordinates[0][0][0]"),
    ],
)
def test_malformed_says_where(geometry: dict[str, Any], path: str) -> None:
    err = rejected(geometry, "malformed")
    assert err.params["path"] == path
    assert path in str(err)


@pytest.mark.parametrize(("lon", "lat"), [(181.0, 6.4), (-180.5, 6.4), (101.8, 90.01)])
def test_coordinate_out_of_range(lon: float, lat: float) -> None:
    ring = [[lon, lat], *CW_BOX[1:-1], [lon, lat]]
    err = rejected(poly(ring), "coordinate_out_of_range")
    assert (err.params["lon"], err.params["lat"]) == (lon, lat)
    assert err.params["path"] == "coordinates[0][0]"


def test_swapped_lat_lon_is_out_of_range() -> None:
    swapped = [[lat, lon] for lon, lat in CW_BOX]  # 101.8 as latitude
    assert rejected(poly(swapped), "coordinate_out_of_range").params["lat"] == 101.8207


@pytest.mark.parametrize("ring", [CW_BOX[:2], [CW_BOX[0], CW_BOX[1], CW_BOX[0]], []])
def test_too_few_points(ring: list[list[float]]) -> None:
    err = rejected(poly(ring), "too_few_points", auto_close=True)
    assert err.params["count"] == len(ring) and err.params["minimum"] == 4


def test_bow_tie_self_intersection() -> None:
    bow_tie = [[101.82, 6.42], [101.83, 6.43], [101.83, 6.42], [101.82, 6.43], [101.82, 6.42]]
    err = rejected(poly(bow_tie), "self_intersection")
    assert err.params["lon"] == pytest.approx(101.825)
    assert err.params["lat"] == pytest.approx(6.425)


def test_hole_outside_shell_and_overlapping_parts() -> None:
    far_hole = [[x + 1, y] for x, y in CW_BOX]
    err = rejected(poly(CW_BOX, far_hole), "self_intersection")
    assert "Hole" in str(err.params["reason"])
    assert isinstance(err.params["lon"], float) and isinstance(err.params["lat"], float)
    shifted = [[x + 0.001, y] for x, y in CW_BOX]
    rejected({"type": "MultiPolygon", "coordinates": [[CW_BOX], [shifted]]}, "self_intersection")


def test_zero_area() -> None:
    line = [[101.8, 6.4], [101.81, 6.41], [101.82, 6.42], [101.8, 6.4]]  # ~collinear
    rejected(poly(line), "empty")
    exact = [[101.8, 6.4], [101.81, 6.4], [101.82, 6.4], [101.8, 6.4]]
    assert rejected(poly(exact), "empty").params["area_km2"] == 0.0
    rejected({"type": "Polygon", "coordinates": []}, "empty")
    rejected({"type": "MultiPolygon", "coordinates": []}, "empty")


def test_too_large() -> None:
    # 0.0725 deg lon x 0.0695 deg lat near 13.7 N is about 7.8 km x 7.7 km = 60 km^2.
    big = [[100.5, 13.7], [100.5725, 13.7], [100.5725, 13.7695], [100.5, 13.7695], [100.5, 13.7]]
    err = rejected(poly(big), "too_large")
    assert err.params["limit_km2"] == 50.0
    area = err.params["area_km2"]
    assert isinstance(area, float) and 58 < area < 62
    assert validate_zone_geometry(poly(big), max_area_km2=100).area_km2 == pytest.approx(area)


def test_too_many_points() -> None:
    circle = [
        [101.8 + 0.01 * math.cos(t / 100), 6.4 + 0.01 * math.sin(t / 100)] for t in range(628)
    ]
    circle.append(circle[0])
    err = rejected(poly(circle), "too_many_points", max_vertices=500)
    assert err.params["limit"] == 500
    assert validate_zone_geometry(poly(circle)).area_km2 > 0


def test_error_to_dict() -> None:
    err = rejected(poly(CW_BOX[:-1]), "ring_not_closed")
    body = err.to_dict()
    assert body["code"] == "ring_not_closed" and body["message"] == str(err)


# --- extract_zone_feature -----------------------------------------------------------


def feature(geometry: Any, **props: Any) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geometry, "properties": props}


def test_extract_feature_and_bare_geometry() -> None:
    geometry, props = extract_zone_feature(feature(poly(CW_BOX), name="x"))
    assert geometry == poly(CW_BOX) and props == {"name": "x"}
    assert extract_zone_feature(poly(CW_BOX)) == (poly(CW_BOX), {})
    no_props = {"type": "Feature", "geometry": poly(CW_BOX), "properties": None}
    assert extract_zone_feature(no_props)[1] == {}


def test_extract_feature_collection() -> None:
    fc = {"type": "FeatureCollection", "features": [feature(poly(CW_BOX), name="z")]}
    assert extract_zone_feature(fc) == (poly(CW_BOX), {"name": "z"})


@pytest.mark.parametrize(
    ("features", "polygons"),
    [([], 0), ([feature(poly(CW_BOX))] * 2, 2), ([feature(poly(CW_BOX)), feature(None)], 1)],
)
def test_extract_feature_collection_counts(features: list[Any], polygons: int) -> None:
    with pytest.raises(GeometryError) as info:
        extract_zone_feature({"type": "FeatureCollection", "features": features})
    assert info.value.code == "malformed"
    assert info.value.params["count"] == len(features)
    assert info.value.params["polygon_count"] == polygons
    assert f"found {len(features)} feature(s)" in str(info.value)


def test_extract_single_point_feature_is_not_polygon() -> None:
    fc = {
        "type": "FeatureCollection",
        "features": [feature({"type": "Point", "coordinates": [1, 2]})],
    }
    with pytest.raises(GeometryError) as info:
        extract_zone_feature(fc)
    assert info.value.code == "not_polygon" and info.value.params["type"] == "Point"


@pytest.mark.parametrize(
    "obj",
    [
        None,
        [],
        {"type": "Feature"},
        {"type": "Feature", "geometry": poly(CW_BOX), "properties": 1},
        {"type": "FeatureCollection"},
        {"type": "Topology"},
    ],
)
def test_extract_malformed(obj: Any) -> None:
    with pytest.raises(GeometryError) as info:
        extract_zone_feature(obj)
    assert info.value.code == "malformed"


# --- property-based ---------------------------------------------------------------


@st.composite
def convex_polygons(draw: st.DrawFn) -> tuple[list[list[float]], float]:
    lon = draw(st.floats(-179.0, 179.0))
    lat = draw(st.floats(-60.0, 60.0))
    radius = draw(st.floats(50.0, 2000.0))
    n = draw(st.integers(3, 24))
    step = 360.0 / n
    azimuths = [i * step + draw(st.floats(0.0, step * 0.5)) for i in range(n)]
    lons, lats, _ = GEOD.fwd([lon] * n, [lat] * n, azimuths, [radius] * n)
    ring = [[float(x), float(y)] for x, y in zip(lons, lats, strict=True)]
    if draw(st.booleans()):
        ring.reverse()  # either winding must be accepted
    return [*ring, ring[0]], radius


@settings(max_examples=300, deadline=None)
@given(convex_polygons())
def test_random_convex_polygons_validate(sample: tuple[list[list[float]], float]) -> None:
    ring, _radius = sample
    zone = validate_zone_geometry(poly(ring))
    out = zone.geometry["coordinates"][0]
    assert out[0] == out[-1] and signed_area(out) > 0
    xs, ys = zip(*out, strict=True)
    reference_m2, _ = GEOD.polygon_area_perimeter(list(xs), list(ys))
    assert zone.area_km2 == pytest.approx(abs(reference_m2) / 1e6, rel=1e-9)
    unrounded_m2, _ = GEOD.polygon_area_perimeter([p[0] for p in ring], [p[1] for p in ring])
    assert zone.area_km2 == pytest.approx(abs(unrounded_m2) / 1e6, rel=1e-3)
    assert Polygon(out).is_valid


_leaf = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8)
)
_keys = st.sampled_from(["type", "coordinates", "geometry", "features", "properties"]) | st.text(
    max_size=6
)
garbage = st.recursive(
    _leaf,
    lambda kids: st.lists(kids, max_size=6) | st.dictionaries(_keys, kids, max_size=5),
    max_leaves=60,
)
nested_numbers = st.recursive(
    st.floats(-200, 200) | st.integers(-200, 200),
    lambda kids: st.lists(kids, max_size=6),
    max_leaves=60,
)
geometry_like = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["Polygon", "MultiPolygon", "Point", "Feature", "Nope"]),
        "coordinates": nested_numbers | garbage,
    }
)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(garbage | geometry_like, st.booleans())
def test_garbage_only_raises_geometry_error(obj: Any, auto_close: bool) -> None:
    try:
        assert isinstance(validate_zone_geometry(obj, auto_close=auto_close), ValidZone)
    except GeometryError as err:
        assert err.code in ERROR_CODES
    try:
        extract_zone_feature(obj)
    except GeometryError as err:
        assert err.code in ERROR_CODES
