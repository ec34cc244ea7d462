"""Geodesic measurements on the WGS84 ellipsoid.

Planar lon/lat area is meaningless (a square degree shrinks with latitude), so zone
sizes are always measured on the ellipsoid with pyproj's geodesic algorithms.
"""

from __future__ import annotations

from typing import Final

from pyproj import Geod
from shapely.geometry import LinearRing, MultiPolygon, Polygon

# Geod is immutable after construction, so one shared instance is safe to reuse.
_GEOD: Final = Geod(ellps="WGS84")


def _ring_area_m2(ring: LinearRing) -> float:
    lons, lats = ring.xy
    area, _perimeter = _GEOD.polygon_area_perimeter(list(lons), list(lats))
    # The sign only encodes orientation; holes are subtracted explicitly by the caller,
    # so the result does not depend on how the input rings were wound.
    return abs(float(area))


def geodesic_area_km2(geom: Polygon | MultiPolygon) -> float:
    """Return the ellipsoidal area in km² of a lon/lat (EPSG:4326) polygon.

    Holes are subtracted; the result is independent of ring orientation.
    """
    if isinstance(geom, Polygon):
        polygons = [geom]
    elif isinstance(geom, MultiPolygon):
        polygons = list(geom.geoms)
    else:
        raise TypeError(f"expected Polygon or MultiPolygon, got {type(geom).__name__}")
    total_m2 = 0.0
    for polygon in polygons:
        if polygon.is_empty:
            continue
        total_m2 += _ring_area_m2(polygon.exterior)
        for hole in polygon.interiors:
            total_m2 -= _ring_area_m2(hole)
    return abs(total_m2) / 1_000_000.0


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Return the geodesic distance in metres between two lon/lat points on WGS84."""
    _az12, _az21, dist = _GEOD.inv(lon1, lat1, lon2, lat2)
    return float(dist)
