"""Field-of-view wedges: shape, size and the exact in-view test, checked against direct
geodesic computations (pyproj ``Geod.inv`` / ``Geod.fwd``) rather than against the code's own
polygons."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pyproj import Geod
from shapely.geometry import Point, Polygon

from safezone.cameras.wedges import (
    arc_step_deg,
    degree_box,
    display_ring,
    has_fov,
    in_view,
    wedge,
)
from safezone.geo.area import geodesic_area_km2

GEOD = Geod(ellps="WGS84")
LAT, LON = 13.7455, 100.5350  # central Bangkok


def _moved(lat: float, lon: float, azimuth: float, metres: float) -> tuple[float, float]:
    """(lat, lon) of the point ``metres`` from (lat, lon) along ``azimuth``."""
    lon2, lat2, _ = GEOD.fwd(lon, lat, azimuth, metres)
    return float(lat2), float(lon2)


def _polygon_holds(poly: object, lat: float, lon: float) -> bool:
    return bool(poly.contains(Point(lon, lat)))  # type: ignore[attr-defined]


def test_east_facing_90_degree_wedge_holds_30m_east_only() -> None:
    poly = wedge(LAT, LON, 90.0, 90.0, 50.0)
    east30 = _moved(LAT, LON, 90.0, 30.0)
    west30 = _moved(LAT, LON, 270.0, 30.0)
    east60 = _moved(LAT, LON, 90.0, 60.0)
    north30 = _moved(LAT, LON, 0.0, 30.0)  # 90° off the bearing: outside a 90° wedge
    assert _polygon_holds(poly, *east30)
    assert not _polygon_holds(poly, *west30)
    assert not _polygon_holds(poly, *east60)
    assert not _polygon_holds(poly, *north30)
    # The exact test agrees.
    cases = ((east30, True), (west30, False), (east60, False), (north30, False))
    for (lat, lon), expected in cases:
        mask, _d, _a = in_view(
            np.array([LAT]), np.array([LON]), np.array([90.0]), np.array([90.0]),
            np.array([50.0]), lat, lon,
        )
        assert bool(mask[0]) is expected


@pytest.mark.parametrize(
    ("bearing", "fov", "range_m"),
    [(90.0, 90.0, 50.0), (0.0, 30.0, 200.0), (315.0, 120.0, 2000.0), (10.0, 2.0, 80.0),
     (180.0, 270.0, 35.0)],
)
def test_wedge_area_is_the_sector_area(bearing: float, fov: float, range_m: float) -> None:
    poly = wedge(LAT, LON, bearing, fov, range_m)
    expected_m2 = math.pi * range_m**2 * fov / 360.0
    measured_m2 = geodesic_area_km2(poly) * 1e6
    assert measured_m2 == pytest.approx(expected_m2, rel=0.01)
    # Inscribed chords make the polygon slightly small, never large.
    assert measured_m2 <= expected_m2 * 1.0001
    # Every arc vertex is exactly range_m from the camera, on the ellipsoid.
    lons, lats = poly.exterior.xy
    for lon, lat in list(zip(lons, lats, strict=True))[1:-1]:
        _az, _back, dist = GEOD.inv(LON, LAT, lon, lat)
        assert dist == pytest.approx(range_m, abs=1e-6)


@pytest.mark.parametrize("range_m", [20.0, 500.0, 2000.0])
def test_360_degrees_is_a_circle(range_m: float) -> None:
    circle = wedge(LAT, LON, None, 360.0, range_m)
    assert circle.is_valid
    # No apex: the camera is in the middle, not on the boundary.
    assert circle.contains(Point(LON, LAT))
    assert circle.exterior.distance(Point(LON, LAT)) > 0
    assert geodesic_area_km2(circle) * 1e6 == pytest.approx(math.pi * range_m**2, rel=0.001)
    for azimuth in range(0, 360, 17):
        assert _polygon_holds(circle, *_moved(LAT, LON, azimuth, range_m * 0.98))
        assert not _polygon_holds(circle, *_moved(LAT, LON, azimuth, range_m * 1.02))
    # A bearing on a 360° camera changes nothing that matters.
    assert geodesic_area_km2(wedge(LAT, LON, 123.0, 360.0, range_m)) == pytest.approx(
        geodesic_area_km2(circle), rel=1e-6
    )


def test_missing_fields_mean_no_wedge() -> None:
    assert not has_fov(None, 90.0, 50.0)
    assert not has_fov(90.0, None, 50.0)
    assert not has_fov(90.0, 90.0, None)
    assert not has_fov(90.0, 0.0, 50.0)
    assert has_fov(None, 360.0, 50.0)
    with pytest.raises(ValueError, match="wedge"):
        wedge(LAT, LON, None, 90.0, 50.0)


def test_wedges_are_cached_by_their_geometry_fields() -> None:
    first = wedge(LAT, LON, 45.0, 60.0, 100.0)
    assert wedge(LAT, LON, 45.0, 60.0, 100.0) is first
    turned = wedge(LAT, LON, 46.0, 60.0, 100.0)
    assert turned is not first and not turned.equals(first)


def test_enough_arc_vertices_for_long_ranges() -> None:
    # The chord between arc vertices never cuts more than ~5 cm inside the true arc.
    for range_m in (10.0, 100.0, 1000.0, 2000.0):
        half = math.radians(arc_step_deg(range_m)) / 2
        assert range_m * (1 - math.cos(half)) <= 0.0501
        assert arc_step_deg(range_m) <= 1.0
    assert len(wedge(LAT, LON, 0.0, 90.0, 2000.0).exterior.coords) > 110


def test_the_map_copy_is_lighter_but_within_half_a_metre() -> None:
    for bearing, fov, range_m in ((90.0, 90.0, 50.0), (None, 360.0, 400.0), (10.0, 120.0, 2000.0)):
        ring = display_ring(LAT, LON, bearing, fov, range_m)
        precise = wedge(LAT, LON, bearing, fov, range_m)
        shown = Polygon(ring)
        assert shown.is_valid and shown.exterior.is_ccw and ring[0] == ring[-1]
        assert len(ring) < len(precise.exterior.coords)
        assert geodesic_area_km2(shown) == pytest.approx(geodesic_area_km2(precise), rel=0.01)
        # Every arc chord's midpoint is within 0.5 m of the true arc.
        for (x1, y1), (x2, y2) in zip(ring, ring[1:], strict=False):
            _a, _b, d1 = GEOD.inv(LON, LAT, x1, y1)
            _a, _b, d2 = GEOD.inv(LON, LAT, x2, y2)
            if abs(d1 - range_m) < 0.01 and abs(d2 - range_m) < 0.01:
                _a, _b, mid = GEOD.inv(LON, LAT, (x1 + x2) / 2, (y1 + y2) / 2)
                assert range_m - 0.51 <= mid <= range_m + 0.01


def test_degree_box_holds_every_point_within_range() -> None:
    west, south, east, north = degree_box(LAT, LON, 500.0)
    for azimuth in range(0, 360, 5):
        lat, lon = _moved(LAT, LON, azimuth, 500.0)
        assert west <= lon <= east and south <= lat <= north


def _margin_m(distance: float, off: float, half: float, range_m: float) -> float:
    """A lower bound of the point's distance (m) from the wedge's boundary."""
    if half >= 180.0:
        return abs(range_m - distance)

    def side(angle: float) -> float:
        # Perpendicular distance to a side's line; beyond 90° the apex is the nearest point.
        return distance * math.sin(math.radians(angle)) if angle < 90 else distance

    if off <= half:
        return min(abs(range_m - distance), side(half - off))
    return side(off - half)


@settings(max_examples=300, deadline=None)
@given(
    lat=st.floats(min_value=-60, max_value=60),
    lon=st.floats(min_value=-179, max_value=179),
    bearing=st.floats(min_value=0, max_value=359.999),
    fov=st.one_of(st.floats(min_value=1, max_value=359), st.just(360.0)),
    range_m=st.floats(min_value=5, max_value=2000),
    azimuth=st.floats(min_value=0, max_value=359.999),
    scale=st.floats(min_value=0.0, max_value=1.6),
)
def test_wedge_containment_matches_geodesic_distance_and_azimuth(
    lat: float, lon: float, bearing: float, fov: float, range_m: float, azimuth: float,
    scale: float,
) -> None:
    p_lat, p_lon = _moved(lat, lon, azimuth, range_m * scale)
    # The reference: distance and azimuth straight from the inverse geodesic problem.
    az, _back, distance = GEOD.inv(lon, lat, p_lon, p_lat)
    off = abs((az - bearing + 180.0) % 360.0 - 180.0)
    half = fov / 2.0
    expected = distance <= range_m and (fov >= 360.0 or off <= half or distance == 0)
    # Points within 10 cm of the boundary are left out: the arc is drawn with chords (≤ 5 cm).
    assume(_margin_m(distance, off, half, range_m) > 0.1 and distance > 0.1)
    poly = wedge(lat, lon, bearing, fov, range_m)
    assert poly.is_valid
    assert _polygon_holds(poly, p_lat, p_lon) is expected
    mask, dist, _az = in_view(
        np.array([lat]), np.array([lon]), np.array([bearing]), np.array([fov]),
        np.array([range_m]), p_lat, p_lon,
    )
    assert bool(mask[0]) is expected
    assert float(dist[0]) == pytest.approx(distance, abs=1e-6)
