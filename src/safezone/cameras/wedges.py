"""A camera's field of view as geometry: the wedge (circular sector) on the map and the exact
"is this point in view" test.

Both are defined on the WGS84 ellipsoid. A point is in view when its geodesic distance from
the camera is at most ``range_m`` and the forward azimuth from the camera to it lies within
``bearing ± fov/2`` (clockwise from true north). The wedge polygon is built from the same
definition: each arc vertex is the *direct geodesic* destination (``Geod.fwd``) at that
azimuth and exactly ``range_m`` away. We chose ``Geod.fwd`` over a local azimuthal-equidistant
projection centred on the camera because it needs no per-camera transformer, vectorises over
all arc vertices in one call, and is the very definition that ``Geod.inv`` (the containment
test) and ``geodesic_area_km2`` (the zone's area) use, so the map, the coverage figure and
"which cameras see P" cannot disagree by more than the arc's chord error (≤ 5 cm).

Not handled: wedges that cross the antimeridian or reach a pole (no Thai camera does).
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Final

import numpy as np
import numpy.typing as npt
from pyproj import Geod
from shapely.geometry import Polygon

# Geod is immutable after construction, so one shared instance is safe to reuse.
_GEOD: Final = Geod(ellps="WGS84")
# Arc vertices: at most 1° apart, and close enough that the chord never cuts more than
# ARC_SAGITTA_M inside the true arc. At 1° the polygon's area is short of the true sector by
# ~0.005 % (1 - sin x / x); at 2 km range the sagitta rule tightens the step to ~0.8°.
MAX_ARC_STEP_DEG: Final = 1.0
ARC_SAGITTA_M: Final = 0.05
# The map's copy: chords within 0.5 m of the arc, vertices at most 6° apart, 7 decimals (~1 cm).
DISPLAY_SAGITTA_M: Final = 0.5
DISPLAY_MAX_STEP_DEG: Final = 6.0
DISPLAY_DECIMALS: Final = 7
FULL_CIRCLE_DEG: Final = 360.0
# Metres per degree of latitude are at least this everywhere on WGS84 (the equator's value);
# used for conservative bounding boxes around a camera.
MIN_M_PER_DEG_LAT: Final = 110_574.0
# Metres per degree of longitude at the equator (WGS84 semi-major axis × π/180).
M_PER_DEG_LON_EQUATOR: Final = 111_319.49

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def has_fov(bearing_deg: float | None, fov_deg: float | None, range_m: float | None) -> bool:
    """Whether a camera's fields describe a wedge (a 360° camera needs no bearing)."""
    if fov_deg is None or range_m is None or fov_deg <= 0 or range_m <= 0:
        return False
    return bearing_deg is not None or fov_deg >= FULL_CIRCLE_DEG


def arc_step_deg(
    range_m: float, *, sagitta_m: float = ARC_SAGITTA_M, max_step_deg: float = MAX_ARC_STEP_DEG
) -> float:
    """Angular spacing of arc vertices so that no chord cuts more than ``sagitta_m`` inside
    the true arc, and never wider than ``max_step_deg``."""
    if range_m <= sagitta_m:
        return max_step_deg
    step = math.degrees(2.0 * math.acos(1.0 - sagitta_m / range_m))
    return min(max_step_deg, step)


def _sector(
    lat: float,
    lon: float,
    bearing_deg: float | None,
    fov_deg: float,
    range_m: float,
    step: float,
) -> Polygon:
    if not has_fov(bearing_deg, fov_deg, range_m):
        raise ValueError("a wedge needs fov_deg > 0, range_m > 0 and a bearing (unless 360°)")
    if fov_deg >= FULL_CIRCLE_DEG:
        segments = max(8, math.ceil(FULL_CIRCLE_DEG / step))
        azimuths = np.linspace(0.0, FULL_CIRCLE_DEG, segments, endpoint=False)
    else:
        bearing = 0.0 if bearing_deg is None else bearing_deg  # has_fov above ensures a value
        segments = max(2, math.ceil(fov_deg / step))
        half = fov_deg / 2.0
        azimuths = np.linspace(bearing - half, bearing + half, segments + 1)
    n = azimuths.size
    lons, lats, _back = _GEOD.fwd(
        np.full(n, lon), np.full(n, lat), azimuths, np.full(n, float(range_m))
    )
    arc = list(zip(np.asarray(lons).tolist(), np.asarray(lats).tolist(), strict=True))
    if fov_deg >= FULL_CIRCLE_DEG:
        return Polygon(arc)
    # Apex first, then the arc clockwise (bearing - fov/2 → bearing + fov/2); shapely closes it.
    return Polygon([(lon, lat), *arc])


@lru_cache(maxsize=16_384)
def wedge(
    lat: float, lon: float, bearing_deg: float | None, fov_deg: float, range_m: float
) -> Polygon:
    """The field-of-view polygon (lon/lat, EPSG:4326) of a camera; a circle when fov ≥ 360°.

    Measurement precision (chords within 5 cm of the arc). Cached by the geometry fields
    themselves, so a camera whose position or aim changes gets a fresh wedge and an unchanged
    one is never rebuilt (shapely geometries are immutable, so sharing one is safe).
    """
    return _sector(lat, lon, bearing_deg, fov_deg, range_m, arc_step_deg(range_m))


@lru_cache(maxsize=16_384)
def display_ring(
    lat: float, lon: float, bearing_deg: float | None, fov_deg: float, range_m: float
) -> tuple[tuple[float, float], ...]:
    """The wedge's exterior ring for the map: counter-clockwise (RFC 7946), 7 decimals, and
    with chords within DISPLAY_SAGITTA_M of the arc (less than a pixel at street zoom).

    The map needs far fewer vertices than the area measurement: a 360° camera of 400 m range
    is 63 vertices here instead of 360, which keeps a layer of thousands of wedges small to
    send and quick to draw. Cached, and immutable (tuples), so serialising it copies nothing.
    """
    step = arc_step_deg(range_m, sagitta_m=DISPLAY_SAGITTA_M, max_step_deg=DISPLAY_MAX_STEP_DEG)
    ring = _sector(lat, lon, bearing_deg, fov_deg, range_m, step).exterior
    coords = np.round(np.asarray(ring.coords), DISPLAY_DECIMALS)
    if not ring.is_ccw:
        coords = coords[::-1]
    return tuple((float(x), float(y)) for x, y in coords)


def angle_off(azimuth_deg: FloatArray, bearing_deg: FloatArray) -> FloatArray:
    """Absolute angle in degrees (0..180) between azimuths and the cameras' bearings."""
    result: FloatArray = np.abs((azimuth_deg - bearing_deg + 180.0) % 360.0 - 180.0)
    return result


def in_view(
    cam_lat: FloatArray,
    cam_lon: FloatArray,
    bearing_deg: FloatArray,
    fov_deg: FloatArray,
    range_m: FloatArray,
    lat: FloatArray | float,
    lon: FloatArray | float,
) -> tuple[BoolArray, FloatArray, FloatArray]:
    """The exact test, vectorised: which (camera, point) pairs are in view.

    Arrays broadcast against each other (one point against many cameras, or many points
    against one camera). ``bearing_deg`` may be NaN for 360° cameras. Returns the mask, the
    geodesic distances (m) and the azimuths from each camera to its point (degrees, 0..360).
    """
    cam_lat, cam_lon, bearing, fov, rng, p_lat, p_lon = np.broadcast_arrays(
        np.asarray(cam_lat, dtype=np.float64),
        np.asarray(cam_lon, dtype=np.float64),
        np.asarray(bearing_deg, dtype=np.float64),
        np.asarray(fov_deg, dtype=np.float64),
        np.asarray(range_m, dtype=np.float64),
        np.asarray(lat, dtype=np.float64),
        np.asarray(lon, dtype=np.float64),
    )
    if cam_lat.size == 0:
        empty = np.zeros(cam_lat.shape, dtype=np.float64)
        return np.zeros(cam_lat.shape, dtype=np.bool_), empty, empty
    az, _back, dist = _GEOD.inv(
        np.ravel(cam_lon), np.ravel(cam_lat), np.ravel(p_lon), np.ravel(p_lat)
    )
    azimuth = np.asarray(az, dtype=np.float64).reshape(cam_lat.shape) % 360.0
    distance = np.asarray(dist, dtype=np.float64).reshape(cam_lat.shape)
    full = fov >= FULL_CIRCLE_DEG
    # A point on the camera itself has no azimuth; it counts as seen (it is the apex).
    within_angle = full | (distance == 0.0) | (angle_off(azimuth, bearing) <= fov / 2.0)
    mask: BoolArray = (distance <= rng) & within_angle
    return mask, distance, azimuth


def grow_box(box: tuple[float, float, float, float], metres: float) -> tuple[float, ...]:
    """A lon/lat box (west, south, east, north) grown to hold every point within ``metres``
    of ``box``; 1 % slack covers geodesics bowing away from the parallels."""
    west, south, east, north = box
    reach = metres * 1.01 + 1.0
    dlat = reach / MIN_M_PER_DEG_LAT
    # Degrees of longitude are shortest on the parallel farthest from the equator.
    far_lat = min(89.9, max(abs(south), abs(north)) + dlat)
    dlon = reach / (M_PER_DEG_LON_EQUATOR * math.cos(math.radians(far_lat)))
    return west - dlon, south - dlat, east + dlon, north + dlat


def degree_box(lat: float, lon: float, metres: float) -> tuple[float, ...]:
    """A lon/lat box certain to hold every point within ``metres`` of (lat, lon)."""
    return grow_box((lon, lat, lon, lat), metres)
