"""The synthetic demo data set, built by pure functions (no database).

All of it is invented for demonstrations and training: people, phone numbers, e-mail
addresses, businesses, cameras and boxes. Phone numbers use the unallocated 073-000-xxxx
block and e-mail addresses the reserved ``.example`` domain, so nothing here can reach a
real person. The same seed always gives the same data.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Final

from safezone.auth.roles import Role
from safezone.demo.geography import (
    PLACES,
    STREETS,
    XY,
    Street,
    StreetSpot,
    beside,
    clearly_inside,
    clearly_outside,
    in_town,
    spots_along,
    to_lonlat,
    zone_geojson,
    zone_polygon_m,
)
from safezone.orgs.models import OrganisationKind

SEED: Final = 2024_06_25
SYNTHETIC_NOTE: Final = "ข้อมูลสังเคราะห์เพื่อการสาธิต — ไม่ใช่ข้อมูลจริง / Synthetic demo data — not real"

MUNICIPAL_CAMERAS: Final = 200
MUNICIPAL_CAMERAS_IN_ZONE: Final = 50
STREET_LIGHTS: Final = 60
LIGHTS_NOT_WORKING: Final = 5

# (username, role, display name): the order in which the CLI lists the logins.
DEMO_USERS: Final[tuple[tuple[str, Role, str], ...]] = (
    ("admin", Role.admin, "ผู้ดูแลระบบ (สาธิต)"),
    ("supervisor", Role.supervisor, "สารวัตรป้องกันปราบปราม (สาธิต)"),
    ("operator", Role.operator, "เจ้าหน้าที่ศูนย์สั่งการ (สาธิต)"),
    ("patrol", Role.patrol, "ตำรวจสายตรวจ (สาธิต)"),
    ("partner", Role.partner, "เจ้าหน้าที่เทศบาล (สาธิต)"),
    ("viewer", Role.viewer, "ผู้สังเกตการณ์ (สาธิต)"),
)
# The organisation each demo user belongs to (partners must have one).
USER_ORGANISATION: Final[dict[str, str]] = {
    "admin": "police", "supervisor": "police", "operator": "police", "patrol": "police",
    "partner": "municipality",
}

STATION: Final[dict[str, Any]] = {
    "code": "NWT-MUEANG",
    "name_th": "สถานีตำรวจภูธรเมืองนราธิวาส",
    "name_en": "Mueang Narathiwat Provincial Police Station",
    "province_th": "นราธิวาส",
    "province_en": "Narathiwat",
    "address": "ถ.พิชิตบำรุง ต.บางนาค อ.เมืองนราธิวาส จ.นราธิวาส 96000 (ที่อยู่สาธิต)",
    "phone": "073-000-1000",
    **dict(zip(("lon", "lat"), to_lonlat(*PLACES["police"].at), strict=True)),
}

ZONE: Final[dict[str, Any]] = {
    "name_th": "บางนาค สมาร์ท เซฟตี้",
    "name_en": "Bang Nak Smart Safety",
    "description": (
        f"{SYNTHETIC_NOTE}. เขตปลอดภัยรอบแยกเสด็จ (หอนาฬิกา) ตลาดสดบางนาค และย่านการค้า"
        " ใจกลางเมืองนราธิวาส — ขอบเขต ตัวเลข และอุปกรณ์ทั้งหมดสร้างขึ้นเพื่อการฝึกและการสาธิต."
        " Safe zone around the Sadet intersection (clock tower), Bang Nak fresh market and the"
        " shopping streets of central Narathiwat; boundary, figures and devices are invented for"
        " training and demonstrations."
    ),
    "reasons": [
        {"kind": "risk", "text": "ลักทรัพย์ยามวิกาลรอบตลาดสด / Night-time thefts around the"
                                 " fresh market"},
        {"kind": "risk", "text": "ลักรถจักรยานยนต์บริเวณย่านการค้า / Motorcycle theft in the"
                                 " shopping streets"},
        {"kind": "landmark", "text": "แยกเสด็จและหอนาฬิกา ตลาดสดบางนาค / Sadet intersection and"
                                     " clock tower, Bang Nak fresh market"},
        {"kind": "economic", "text": "ร้านค้า ธนาคาร ร้านทอง และตลาดสด / Shops, banks, gold shops"
                                     " and the fresh market"},
    ],
    "population": 3050,
    "households": 910,
}


@dataclass(frozen=True)
class OrganisationSpec:
    key: str
    values: dict[str, Any]  # OrganisationCreate fields, contacts included


def _org(key: str, kind: OrganisationKind, th: str, en: str, phone: str, email: str,
         contacts: list[tuple[str, str, str]]) -> OrganisationSpec:
    return OrganisationSpec(key, {
        "name_th": th, "name_en": en, "kind": kind, "phone": phone,
        "email": f"{email}@narathiwat-demo.example", "notes": SYNTHETIC_NOTE,
        "address": "อ.เมืองนราธิวาส จ.นราธิวาส 96000 (ที่อยู่สาธิต)",
        "contacts": [
            {"name": name, "position": position, "phone": tel} for name, position, tel in contacts
        ],
    })


K = OrganisationKind
ORGANISATIONS: Final[tuple[OrganisationSpec, ...]] = (
    _org("police", K.police, "สถานีตำรวจภูธรเมืองนราธิวาส",
         "Mueang Narathiwat Provincial Police Station", "073-000-1000", "police",
         [("พ.ต.ท. สมชาย ใจดี (สมมติ)", "สารวัตรป้องกันปราบปราม", "073-000-1001"),
          ("ร.ต.อ. อับดุลเลาะ สาเมาะ (สมมติ)", "รองสารวัตรป้องกันปราบปราม", "073-000-1002")]),
    _org("municipality", K.local_government, "เทศบาลเมืองนราธิวาส",
         "Narathiwat Town Municipality", "073-000-2000", "municipality",
         [("นายสมศักดิ์ รักเมือง (สมมติ)", "หัวหน้าฝ่ายป้องกันและบรรเทาสาธารณภัย", "073-000-2001"),
          ("นางสาวนูรีซัน ดอเลาะ (สมมติ)", "เจ้าหน้าที่ดูแลระบบกล้อง", "073-000-2002")]),
    _org("bank", K.private_business, "ธนาคารสาธิตไทย สาขานราธิวาส",
         "Demo Thai Bank, Narathiwat branch", "073-000-3000", "bank",
         [("นายวิชัย มั่นคง (สมมติ)", "ผู้จัดการสาขา", "073-000-3001")]),
    _org("gold", K.private_business, "ร้านทองเยาวราชนรา", "Yaowarat Nara Gold Shop",
         "073-000-3100", "goldshop",
         [("นางเพ็ญศรี ทองคำ (สมมติ)", "เจ้าของร้าน", "073-000-3101")]),
    _org("minimart", K.private_business, "มินิมาร์ทบางนาค", "Bang Nak Minimart",
         "073-000-3200", "minimart",
         [("นายฮาซัน ยูโซ๊ะ (สมมติ)", "ผู้จัดการร้าน", "073-000-3201")]),
    _org("community", K.community, "คณะกรรมการชุมชนบางนาค", "Bang Nak Community Committee",
         "073-000-4000", "community",
         [("นายมะรอนิง ดือราแม (สมมติ)", "ประธานชุมชน", "073-000-4001"),
          ("นางสาวกัลยา ศรีสุข (สมมติ)", "เลขานุการชุมชน", "073-000-4002")]),
    _org("volunteers", K.volunteer, "อปพร. เทศบาลเมืองนราธิวาส",
         "Narathiwat Municipality Civil Defence Volunteers (OPPOR)", "073-000-5000", "oppor",
         [("นายสุริยา กล้าหาญ (สมมติ)", "หัวหน้าชุด อปพร.", "073-000-5001")]),
    _org("school", K.school, "โรงเรียนนราธิวาส", "Narathiwat School", "073-000-6000", "school",
         [("นางวันดี สอนดี (สมมติ)", "รองผู้อำนวยการฝ่ายกิจการนักเรียน", "073-000-6001")]),
    _org("hospital", K.hospital, "โรงพยาบาลนราธิวาสราชนครินทร์",
         "Narathiwat Ratchanakharin Hospital", "073-000-7000", "hospital",
         [("นพ. อารีฟ เจ๊ะมะ (สมมติ)", "หัวหน้าห้องฉุกเฉิน", "073-000-7001"),
          ("นางสาวปิยะนุช ใจงาม (สมมติ)", "พยาบาลศูนย์รับแจ้งเหตุ", "073-000-7002")]),
    _org("mosque", K.religious, "คณะกรรมการมัสยิดบางนาค", "Bang Nak Mosque Committee",
         "073-000-8000", "mosque",
         [("นายอิสมาแอ มะแซ (สมมติ)", "อิหม่าม", "073-000-8001")]),
)


@dataclass(frozen=True)
class AssetSpec:
    """One asset to create: its kind (registry path), owner key and Create-schema fields."""

    kind: str
    owner: str | None
    values: dict[str, Any] = field(default_factory=dict)
    # Cameras: the owner gives the centre a stream (the camera is "linked" once it has a URL).
    linked: bool = False


def _point(code: str, th: str, en: str, at: XY, **extra: Any) -> dict[str, Any]:
    lon, lat = to_lonlat(*at)
    return {"code": code, "name_th": th, "name_en": en, "lat": lat, "lon": lon,
            "notes": SYNTHETIC_NOTE, **extra}


def _near(rng: random.Random, at: XY, spread_m: float) -> XY:
    return (at[0] + rng.uniform(-spread_m, spread_m), at[1] + rng.uniform(-spread_m, spread_m))


def _pick(rng: random.Random, spots: list[StreetSpot], count: int) -> list[StreetSpot]:
    """``count`` spots at random, kept in street order so numbering runs along each street."""
    if len(spots) < count:
        raise ValueError(f"only {len(spots)} candidate spots for {count} items")
    chosen = set(rng.sample(range(len(spots)), count))
    return [spot for index, spot in enumerate(spots) if index in chosen]


def _street_spots(step_in_zone: float, step_main: float, step_minor: float
                  ) -> tuple[list[StreetSpot], list[StreetSpot]]:
    """Candidate pole positions inside and outside the zone (denser on main roads)."""
    zone = zone_polygon_m()
    inside: list[StreetSpot] = []
    outside: list[StreetSpot] = []
    for street in STREETS:
        inside += [s for s in spots_along(street, step_in_zone) if clearly_inside(zone, s.at, 8)]
        step = step_main if street.main else step_minor
        outside += [s for s in spots_along(street, step)
                    if in_town(s.at) and clearly_outside(zone, s.at, 8)]
    return inside, outside


def municipal_cameras(rng: random.Random) -> list[AssetSpec]:
    """The municipality's CCTV network: ~200 poles along the streets, a quarter in the zone."""
    inside, outside = _street_spots(32.0, 55.0, 95.0)
    spots = _pick(rng, inside, MUNICIPAL_CAMERAS_IN_ZONE) + _pick(
        rng, outside, MUNICIPAL_CAMERAS - MUNICIPAL_CAMERAS_IN_ZONE)
    order = {street.key: index for index, street in enumerate(STREETS)}
    spots.sort(key=lambda s: (order[s.street.key], s.along_m))
    numbers: dict[str, int] = {}
    cameras = []
    for index, spot in enumerate(spots, start=1):
        number = numbers[spot.street.key] = numbers.get(spot.street.key, 0) + 1
        ptz = rng.random() < 0.1
        # Fixed cameras look along the street one way or the other; PTZ domes default north-ish.
        bearing = spot.heading_deg + rng.choice((0.0, 180.0)) + rng.uniform(-25, 25)
        values = _camera(
            f"NWT-CAM-{index:03d}", spot.street, number, beside(spot, rng.choice((-1, 1)), 6.0),
            bearing=bearing, fov=rng.uniform(60, 75) if ptz else rng.uniform(70, 110),
            range_m=rng.uniform(60, 80) if ptz else rng.uniform(30, 70),
            height=rng.uniform(6, 8) if ptz else rng.uniform(4, 6.5), ptz=ptz,
        )
        linked = rng.random() >= 0.08  # a few poles have no link to the centre yet
        cameras.append(AssetSpec("cameras", "municipality", values, linked=linked))
    return cameras


def _camera(code: str, street: Street, number: int, at: XY, *, bearing: float, fov: float,
            range_m: float, height: float, ptz: bool) -> dict[str, Any]:
    return _point(
        code, f"กล้อง {street.name_th} {number}", f"{street.name_en} camera {number}", at,
        bearing_deg=round(bearing % 360, 1) % 360, fov_deg=round(fov), range_m=round(range_m),
        height_m=round(height, 1), ptz=ptz,
    )


def private_cameras(rng: random.Random) -> list[AssetSpec]:
    """Cameras the businesses own and registered with the station (no stream link)."""
    owners = (("bank", "DTB", 4), ("gold", "YNG", 3), ("minimart", "BNM", 3))
    specs = []
    for owner, prefix, count in owners:
        place = PLACES[owner]
        for number in range(1, count + 1):
            specs.append(AssetSpec("cameras", owner, _point(
                f"{prefix}-CAM-{number:02d}", f"กล้อง{place.name_th} {number}",
                f"{place.name_en} camera {number}", _near(rng, place.at, 12),
                bearing_deg=float(rng.randrange(0, 360)), fov_deg=float(rng.randrange(80, 111)),
                range_m=float(rng.randrange(15, 31)), height_m=round(rng.uniform(2.5, 4), 1),
                ptz=False,
            )))
    return specs


SOS_BOXES: Final[tuple[tuple[str, str, str, str, str], ...]] = (
    # code, place key, name_th, name_en, address
    ("SOS-SADET", "sadet", "ตู้ SOS แยกเสด็จ", "SOS box, Sadet intersection",
     "แยกเสด็จ หน้าหอนาฬิกา ถ.จำรูญนรา"),
    ("SOS-MARKET", "market", "ตู้ SOS ตลาดสดบางนาค", "SOS box, Bang Nak fresh market",
     "ทางเข้าตลาดสดบางนาค ซอยตลาดสด"),
    ("SOS-MOSQUE", "mosque", "ตู้ SOS หน้ามัสยิดบางนาค", "SOS box, Bang Nak mosque",
     "หน้ามัสยิดบางนาค"),
    ("SOS-SCHOOL", "school", "ตู้ SOS หน้าโรงเรียนนราธิวาส", "SOS box, Narathiwat School",
     "หน้าประตูโรงเรียนนราธิวาส"),
    ("SOS-BUS", "bus", "ตู้ SOS สถานีขนส่ง", "SOS box, bus terminal", "ชานชาลาสถานีขนส่ง"),
    ("SOS-RIVER", "riverside", "ตู้ SOS ริมแม่น้ำบางนรา", "SOS box, Bang Nara riverside",
     "ถ.ภูผาภักดี ริมแม่น้ำ"),
    ("SOS-HOSPITAL", "hospital", "ตู้ SOS หน้าโรงพยาบาล", "SOS box, hospital entrance",
     "หน้าทางเข้าโรงพยาบาล"),
)


def sos_boxes(rng: random.Random) -> list[AssetSpec]:
    specs = []
    for code, key, th, en, address in SOS_BOXES:
        # The Sadet box stands right at the corner; the others a few metres off their place.
        at = (PLACES[key].at[0] + 6, PLACES[key].at[1] + 6) if key == "sadet" else _near(
            rng, PLACES[key].at, 10)
        specs.append(AssetSpec("sos_boxes", "police", _point(
            code, th, en, at, address=f"{address} (ที่อยู่สาธิต)", has_camera=True)))
    return specs


CHECKPOINT_PLACES: Final = (
    "sadet", "market", "bank", "gold", "atm", "minimart", "mosque", "dark_alley",
    "vacant_lot", "school", "bus", "abandoned", "riverside",
)


def checkpoints(rng: random.Random) -> list[AssetSpec]:
    """Red boxes (ตู้แดง) where patrols sign in; risky spots are visited more often."""
    specs = []
    for number, key in enumerate(CHECKPOINT_PLACES, start=1):
        place = PLACES[key]
        interval = 60 if key in ("dark_alley", "vacant_lot", "bank", "gold", "atm") else 120
        if key in ("school", "bus", "riverside"):
            interval = 240
        specs.append(AssetSpec("checkpoints", "police", _point(
            f"CP-{number:02d}", f"ตู้แดง {place.name_th}", f"Red box, {place.name_en}",
            _near(rng, place.at, 15), qr_label=f"NWT-SZ-CP-{number:02d}",
            visit_interval_min=interval,
        )))
    return specs


RISK_POINTS: Final[tuple[tuple[str, str, str, int | None, str | None], ...]] = (
    # place key, kind, category, risk level, owner
    ("dark_alley", "risk", "dark_alley", 5, None),
    ("vacant_lot", "risk", "vacant_lot", 4, None),
    ("abandoned", "risk", "abandoned_building", 4, None),
    ("accident", "risk", "accident_spot", 3, None),
    ("atm", "risk", "atm", 3, "bank"),
    ("market", "landmark", "market", 3, "municipality"),
    ("bank", "landmark", "bank", 3, "bank"),
    ("gold", "landmark", "shop", 4, "gold"),
    ("sadet", "landmark", "other", 2, "municipality"),
    ("mosque", "landmark", "mosque", 1, "mosque"),
    ("school", "landmark", "school", 2, "school"),
    ("bus", "landmark", "transport", 3, None),
    ("hospital", "landmark", "hospital", 1, "hospital"),
)


def risk_points() -> list[AssetSpec]:
    return [
        AssetSpec("risk_points", owner, _point(
            f"RP-{number:02d}", PLACES[key].name_th, PLACES[key].name_en, PLACES[key].at,
            kind=kind, category=category, risk_level=level,
        ))
        for number, (key, kind, category, level, owner) in enumerate(RISK_POINTS, start=1)
    ]


def street_lights(rng: random.Random) -> list[AssetSpec]:
    """Municipal street lights along the zone's streets; a few are out (a patrol finding)."""
    inside, _ = _street_spots(18.0, 1e9, 1e9)
    spots = _pick(rng, inside, STREET_LIGHTS)
    broken = set(rng.sample(range(len(spots)), LIGHTS_NOT_WORKING))
    specs = []
    for number, spot in enumerate(spots, start=1):
        working = number - 1 not in broken
        specs.append(AssetSpec("street_lights", "municipality", _point(
            f"NWT-LIGHT-{number:03d}", f"เสาไฟ {spot.street.name_th} {number}",
            f"{spot.street.name_en} light {number}", beside(spot, rng.choice((-1, 1)), 5.0),
            pole_number=f"NWT-L-{number:03d}", working=working,
        )))
    return specs


@dataclass(frozen=True)
class DemoData:
    zone_geometry: dict[str, object]
    assets: list[AssetSpec]


def build(seed: int = SEED) -> DemoData:
    """The whole synthetic data set; the same seed gives exactly the same data."""
    rng = random.Random(seed)
    assets = (municipal_cameras(rng) + private_cameras(rng) + sos_boxes(rng)
              + checkpoints(rng) + risk_points() + street_lights(rng))
    return DemoData(zone_geometry=zone_geojson(), assets=assets)
