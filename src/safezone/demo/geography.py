"""The synthetic town plan behind the demo: streets, places and the zone boundary.

Everything is laid out in metres on a local east/north plane centred on Mueang Narathiwat
(the zone is about 500 m across, so a flat-earth conversion is off by millimetres) and
converted to WGS84 only at the end. The street names are real Narathiwat street names, but
their lines, the places and the boundary are invented: plausible, not surveyed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from shapely.geometry import LineString, Point, Polygon

# Town centre of Mueang Narathiwat (lon, lat): the origin of the local plane.
CENTRE: Final = (101.823, 6.425)
# The area the municipal cameras cover: roughly 2.5 km east-west by 2 km north-south.
HALF_WIDTH_M: Final = 1250.0
HALF_HEIGHT_M: Final = 1000.0

_PHI: Final = math.radians(CENTRE[1])
# Length of one degree on WGS84 at the centre's latitude (standard series expansions).
M_PER_DEG_LAT: Final = 111_132.92 - 559.82 * math.cos(2 * _PHI) + 1.175 * math.cos(4 * _PHI)
M_PER_DEG_LON: Final = 111_412.84 * math.cos(_PHI) - 93.5 * math.cos(3 * _PHI)

XY = tuple[float, float]


def to_lonlat(x: float, y: float) -> tuple[float, float]:
    """Local metres east/north of the centre to (lon, lat), rounded to 7 decimals (~1 cm)."""
    return (
        round(CENTRE[0] + x / M_PER_DEG_LON, 7),
        round(CENTRE[1] + y / M_PER_DEG_LAT, 7),
    )


def to_xy(lon: float, lat: float) -> XY:
    """(lon, lat) back to local metres east/north of the centre."""
    return ((lon - CENTRE[0]) * M_PER_DEG_LON, (lat - CENTRE[1]) * M_PER_DEG_LAT)


@dataclass(frozen=True)
class Street:
    key: str
    name_th: str  # as it appears in a camera name: "ถ.ภูผาภักดี"
    name_en: str  # "Phupha Phakdi Rd"
    main: bool  # main roads get denser camera coverage
    line: tuple[XY, ...]

    @property
    def geometry(self) -> LineString:
        return LineString(self.line)


STREETS: Final[tuple[Street, ...]] = (
    Street("phichit", "ถ.พิชิตบำรุง", "Phichit Bamrung Rd", True,
           ((-250, -1000), (-224, -214), (-220, 0), (-218, 236), (-205, 1000))),
    Street("suriya", "ถ.สุริยะประดิษฐ์", "Suriya Pradit Rd", True,
           ((200, -1000), (212, -206), (218, 0), (224, 238), (235, 1000))),
    Street("pracha", "ถ.ประชาวิวัฒน์", "Pracha Wiwat Rd", True,
           ((-1250, 215), (-218, 236), (224, 238), (1000, 260))),
    Street("rangae", "ถ.ระแงะมรรคา", "Ra-ngae Mankha Rd", True,
           ((1000, -200), (212, -206), (-224, -214), (-650, -520), (-1250, -950))),
    Street("chamrun", "ถ.จำรูญนรา", "Chamrun Nara Rd", True,
           ((-1250, -30), (-220, 0), (0, 4), (218, 0), (985, 10))),
    Street("phupha", "ถ.ภูผาภักดี", "Phupha Phakdi Rd", True,
           ((1010, -1000), (985, -420), (985, 10), (1000, 480), (1060, 1000))),
    Street("chaloem", "ถ.เฉลิมพระเกียรติ", "Chaloem Phra Kiat Rd", False,
           ((-10, -1000), (0, -214), (0, 4), (-4, 236), (-8, 290))),
    Street("market", "ซอยตลาดสด", "Fresh Market Lane", False, ((0, -120), (212, -118))),
    Street("khokkhao", "ถ.โคกเขาใต้", "Khok Khao Tai Rd", False,
           ((-1250, 690), (-210, 700), (228, 705), (1000, 720))),
    Street("wichit", "ถ.วิจิตรไชยศรี", "Wichit Chaisri Rd", False,
           ((-720, -1000), (-700, 0), (-690, 1000))),
    Street("sopha", "ถ.โสภาพิสัย", "Sophaphisai Rd", False,
           ((-705, -700), (205, -690), (990, -680))),
    Street("bangnak", "ถ.บางนาค", "Bang Nak Rd", False, ((590, -1000), (600, 0), (610, 1000))),
)

# The zone follows the street blocks, drawn ~12 m outside the bounding streets so that both
# kerbs belong to it; the two jogs take in the bank block (east) and the mosque (north).
ZONE_OUTLINE_M: Final[tuple[XY, ...]] = (
    (-236, -228), (224, -220), (231, -20), (300, -14), (306, 112), (236, 118),
    (240, 252), (40, 250), (34, 300), (-110, 303), (-116, 248), (-231, 246),
)


@dataclass(frozen=True)
class Place:
    name_th: str
    name_en: str
    at: XY


PLACES: Final[dict[str, Place]] = {
    "sadet": Place("แยกเสด็จ (หอนาฬิกา)", "Sadet intersection (clock tower)", (0, 4)),
    "market": Place("ตลาดสดบางนาค", "Bang Nak fresh market", (95, -150)),
    "bank": Place("ธนาคารสาธิตไทย สาขานราธิวาส", "Demo Thai Bank, Narathiwat branch", (268, 30)),
    "atm": Place("ตู้ ATM หน้าตลาด", "ATM by the market", (150, -100)),
    "gold": Place("ร้านทองเยาวราชนรา", "Yaowarat Nara gold shop", (60, 22)),
    "minimart": Place("มินิมาร์ทบางนาค", "Bang Nak minimart", (-150, 18)),
    "mosque": Place("มัสยิดบางนาค", "Bang Nak mosque", (-40, 275)),
    "dark_alley": Place("ซอยเปลี่ยวหลังตลาด", "Dark alley behind the market", (130, -185)),
    "vacant_lot": Place("ที่ดินว่างริมถนนพิชิตบำรุง", "Vacant lot, Phichit Bamrung Rd",
                        (-185, 160)),
    "school": Place("โรงเรียนนราธิวาส", "Narathiwat School", (-460, 450)),
    "hospital": Place("โรงพยาบาลนราธิวาสราชนครินทร์", "Narathiwat Ratchanakharin Hospital",
                      (-900, 330)),
    "police": Place("สภ.เมืองนราธิวาส", "Mueang Narathiwat police station", (-330, 520)),
    "municipality": Place("สำนักงานเทศบาลเมืองนราธิวาส", "Narathiwat Town Municipality office",
                          (620, 420)),
    "bus": Place("สถานีขนส่งนราธิวาส", "Narathiwat bus terminal", (700, -450)),
    "abandoned": Place("อาคารร้างริมถนนระแงะมรรคา", "Abandoned building, Ra-ngae Mankha Rd",
                       (480, -230)),
    "accident": Place("ทางโค้งถนนระแงะมรรคา", "Bend on Ra-ngae Mankha Rd", (-520, -430)),
    "riverside": Place("ริมแม่น้ำบางนรา", "Bang Nara riverside", (1000, -100)),
}


def zone_polygon_m() -> Polygon:
    """The zone boundary on the local plane (metres)."""
    return Polygon(ZONE_OUTLINE_M)


def zone_geojson() -> dict[str, object]:
    """The zone boundary as a closed GeoJSON Polygon (counter-clockwise, lon/lat)."""
    ring = [list(to_lonlat(x, y)) for x, y in ZONE_OUTLINE_M]
    ring.append(ring[0])
    return {"type": "Polygon", "coordinates": [ring]}


@dataclass(frozen=True)
class StreetSpot:
    """A point along a street: where a pole can stand."""

    street: Street
    along_m: float
    at: XY
    heading_deg: float  # direction of travel along the street, clockwise from north


def spots_along(street: Street, step_m: float) -> list[StreetSpot]:
    """Points every ``step_m`` along the street, starting half a step in."""
    line = street.geometry
    spots: list[StreetSpot] = []
    along = step_m / 2
    while along < line.length:
        here = line.interpolate(along)
        ahead = line.interpolate(min(along + 1.0, line.length))
        behind = line.interpolate(max(along - 1.0, 0.0))
        dx, dy = ahead.x - behind.x, ahead.y - behind.y
        heading = math.degrees(math.atan2(dx, dy)) % 360
        spots.append(StreetSpot(street, along, (here.x, here.y), heading))
        along += step_m
    return spots


def beside(spot: StreetSpot, side: int, offset_m: float) -> XY:
    """A point ``offset_m`` to the right (side=1) or left (side=-1) of the street."""
    right = math.radians(spot.heading_deg + 90 * side)
    return (spot.at[0] + offset_m * math.sin(right), spot.at[1] + offset_m * math.cos(right))


def in_town(at: XY) -> bool:
    return abs(at[0]) <= HALF_WIDTH_M and abs(at[1]) <= HALF_HEIGHT_M


def clearly_inside(zone: Polygon, at: XY, margin_m: float = 3.0) -> bool:
    """Inside the zone and not within ``margin_m`` of its boundary (no edge cases)."""
    point = Point(at)
    return bool(zone.contains(point)) and zone.exterior.distance(point) > margin_m


def clearly_outside(zone: Polygon, at: XY, margin_m: float = 3.0) -> bool:
    point = Point(at)
    return not zone.contains(point) and zone.exterior.distance(point) > margin_m
