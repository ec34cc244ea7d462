"""Geodesic area checked against an independent closed-form ellipsoidal formula."""

from __future__ import annotations

import math
from typing import Any

import pytest
from shapely.geometry import MultiPolygon, Polygon

from safezone.geo.area import distance_m, geodesic_area_km2

# WGS84 constants, written out here on purpose: the reference must not share code
# (or pyproj) with the implementation under test.
WGS84_A = 6378137.0
WGS84_F = 1 / 298.257223563
WGS84_B = WGS84_A * (1 - WGS84_F)
WGS84_E2 = WGS84_F * (2 - WGS84_F)
WGS84_E = math.sqrt(WGS84_E2)


def _q(lat_deg: float) -> float:
    s = math.sin(math.radians(lat_deg))
    return s / (1 - WGS84_E2 * s * s) + (1 / (2 * WGS84_E)) * math.log(
        (1 + WGS84_E * s) / (1 - WGS84_E * s)
    )


def quadrangle_area_km2(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Exact area of the ellipsoidal region bounded by two meridians and two parallels."""
    d_lon = math.radians(lon2 - lon1)
    return abs(WGS84_B**2 * d_lon / 2 * (_q(lat2) - _q(lat1))) / 1e6


def local_planar_area_km2(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Small-box approximation: meridional x prime-vertical radius of curvature."""
    phi = math.radians((lat1 + lat2) / 2)
    w = math.sqrt(1 - WGS84_E2 * math.sin(phi) ** 2)
    m = WGS84_A * (1 - WGS84_E2) / w**3
    n = WGS84_A / w
    return m * math.radians(lat2 - lat1) * n * math.cos(phi) * math.radians(lon2 - lon1) / 1e6


def box(lon1: float, lat1: float, lon2: float, lat2: float) -> Polygon:
    return Polygon([(lon1, lat1), (lon2, lat1), (lon2, lat2), (lon1, lat2), (lon1, lat1)])


def rel_err(actual: float, expected: float) -> float:
    return abs(actual - expected) / expected


# (lon1, lat1, lon2, lat2); edges of these boxes are short enough that the geodesic
# through two corners and the parallel between them bound (almost) the same area.
BOXES = {
    "narathiwat_500m": (101.8207, 6.4227, 101.8252, 6.4272),
    "lat60": (24.90, 60.10, 24.92, 60.11),
    "equator": (101.80, -0.005, 101.81, 0.005),
    "southern": (-58.40, -34.61, -58.39, -34.60),
}


@pytest.mark.parametrize("name", sorted(BOXES))
def test_box_matches_quadrangle_formula(name: str) -> None:
    coords = BOXES[name]
    expected = quadrangle_area_km2(*coords)
    assert rel_err(geodesic_area_km2(box(*coords)), expected) < 0.0005


def test_orientation_does_not_matter() -> None:
    poly = box(*BOXES["narathiwat_500m"])
    reversed_poly = Polygon(list(poly.exterior.coords)[::-1])
    assert geodesic_area_km2(reversed_poly) == pytest.approx(geodesic_area_km2(poly), rel=1e-12)


def test_hole_is_subtracted() -> None:
    outer = (101.80, 6.40, 101.82, 6.42)
    inner = (101.805, 6.405, 101.81, 6.41)
    poly = Polygon(box(*outer).exterior.coords, [box(*inner).exterior.coords])
    expected = quadrangle_area_km2(*outer) - quadrangle_area_km2(*inner)
    assert rel_err(geodesic_area_km2(poly), expected) < 0.0005
    # Hole winding is irrelevant: it is subtracted either way.
    poly_ccw_hole = Polygon(box(*outer).exterior.coords, [list(box(*inner).exterior.coords)[::-1]])
    assert geodesic_area_km2(poly_ccw_hole) == pytest.approx(geodesic_area_km2(poly), rel=1e-12)


def test_multipolygon_sums_parts() -> None:
    a = (101.80, 6.40, 101.81, 6.41)
    b = (101.90, 6.50, 101.905, 6.51)
    multi = MultiPolygon([box(*a), box(*b)])
    expected = quadrangle_area_km2(*a) + quadrangle_area_km2(*b)
    assert rel_err(geodesic_area_km2(multi), expected) < 0.0005


def test_small_box_at_6_4n_sanity() -> None:
    coords = (101.8, 6.4, 101.8045, 6.4045)  # 0.0045 deg x 0.0045 deg
    expected = quadrangle_area_km2(*coords)
    # Two independent references agree with each other and with the implementation.
    assert rel_err(local_planar_area_km2(*coords), expected) < 0.0005
    assert rel_err(geodesic_area_km2(box(*coords)), expected) < 0.0005
    assert 0.24 < expected < 0.26  # ~0.2477 km2: 0.498 km x 0.498 km


def test_rejects_non_polygon() -> None:
    with pytest.raises(TypeError):
        not_a_polygon: Any = "POINT (0 0)"
        geodesic_area_km2(not_a_polygon)


def test_distance_m() -> None:
    # One degree of longitude on the equator is a * pi / 180 along the equator.
    assert distance_m(0.0, 0.0, 1.0, 0.0) == pytest.approx(WGS84_A * math.pi / 180, rel=1e-9)
    assert distance_m(101.8, 6.4, 101.8, 6.4) == 0.0
    d = distance_m(101.8207, 6.4227, 101.8252, 6.4272)
    assert 690 < d < 710  # ~500 m x ~500 m diagonal
