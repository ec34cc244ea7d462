"""Uptime from status transitions: exact arithmetic on synthetic histories."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from safezone.auth.roles import Role
from safezone.auth.service import Principal
from safezone.cameras.health_report import summary, uptime_of, uptimes
from safezone.cameras.models import Camera, CameraStatusChange
from safezone.db.engine import Database
from safezone.orgs.models import Organisation, OrganisationKind

END = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)
D = timedelta(days=1)

HISTORY_1 = [  # (when, status) of camera 1
    (END - 8 * D, "online"),
    (END - 2 * D, "offline"),
    (END - 2 * D + 6 * H, "online"),
    (END - 12 * H, "degraded"),
    (END - 9 * H, "online"),
    (END - 1 * H, "unknown"),  # the monitor was stopped for half an hour
    (END - 30 * timedelta(minutes=1), "online"),
]
HISTORY_2 = [(END - 3 * H, "online"), (END - 1 * H, "offline")]


def test_uptime_of_by_hand() -> None:
    week = uptime_of(None, HISTORY_1, start=END - 7 * D, end=END)
    # online 120 h + 30 h + 8 h + 0.5 h; offline 6 h; degraded 3 h; unknown 0.5 h left out.
    assert (week.up_s, week.known_s) == (158.5 * 3600, 167.5 * 3600)
    day = uptime_of(None, HISTORY_1, start=END - D, end=END)
    assert (day.up_s, day.known_s) == (20.5 * 3600, 23.5 * 3600)
    assert uptime_of(None, HISTORY_2, start=END - D, end=END).ratio == pytest.approx(2 / 3)
    assert uptime_of(None, [], start=END - D, end=END).ratio is None
    assert uptime_of("online", [], start=END - D, end=END).ratio == 1.0


STATUS = st.sampled_from(["online", "offline", "degraded", "unknown", "no_video"])


@given(
    initial=st.one_of(st.none(), STATUS),
    changes=st.lists(st.tuples(st.integers(-50, 300), STATUS), max_size=20),
    length=st.integers(1, 250),
)
def test_uptime_of_matches_second_by_second(
    initial: str | None, changes: list[tuple[int, str]], length: int
) -> None:
    start = END
    ordered = sorted(changes, key=lambda c: c[0])
    timeline = [(start + timedelta(seconds=s), status) for s, status in ordered]
    got = uptime_of(initial, timeline, start=start, end=start + timedelta(seconds=length))
    up = known = 0
    for second in range(length):
        status = initial
        for s, new in ordered:
            if s <= second:
                status = new
        if status is not None and status != "unknown":
            known += 1
            up += status == "online"
    assert (got.up_s, got.known_s) == (up, known)


async def test_uptimes_and_owner_summary_from_the_database(db: Database) -> None:
    async with db.write() as session:
        org = Organisation(name_th="เทศบาล", name_en="Municipality",
                           kind=OrganisationKind.local_government)
        session.add(org)
        await session.flush()
        cams = [
            Camera(code=f"U{i}", name_th=f"กล้อง {i}", lat=6.4, lon=101.8, tier="linked",
                   stream_url=f"rtsp://192.0.2.1/{i}", organisation_id=org.id if i < 3 else None,
                   status=status)
            for i, status in ((1, "online"), (2, "offline"), (3, "unknown"), (4, "online"))
        ]
        session.add_all(cams)
        await session.flush()
        ids = [c.id for c in cams]
        rows = [(ids[0], at, s) for at, s in HISTORY_1] + [(ids[1], at, s) for at, s in HISTORY_2]
        # Two changes at one instant: the later row is the one in force.
        rows += [(ids[3], END - 8 * D, "offline"), (ids[3], END - 8 * D, "online")]
        # A change after the window's end is not counted.
        rows += [(ids[3], END + H, "offline")]
        session.add_all(CameraStatusChange(camera_id=c, at=at, status=s) for c, at, s in rows)

    async with db.session() as session:
        times = await uptimes(session, camera_ids=ids, end=END)
        admin = Principal(1, "admin", "Admin", Role.admin, None, "bearer")
        report = await summary(session, who=admin, zone_id=None, now=END)
    assert times[ids[0]][0].ratio == pytest.approx(20.5 / 23.5)
    assert times[ids[0]][1].ratio == pytest.approx(158.5 / 167.5)
    assert times[ids[1]][0].ratio == pytest.approx(2 / 3)
    assert times[ids[2]][0].ratio is None
    assert times[ids[3]][1].ratio == 1.0

    assert (report["linked"], report["online"], report["ratio"]) == (4, 2, 0.5)
    municipality = next(o for o in report["owners"] if o["name_en"] == "Municipality")
    assert (municipality["cameras"], municipality["online"]) == (2, 1)
    # Time-weighted over the owner's cameras: (20.5 h + 2 h) online of (23.5 h + 3 h) known.
    assert municipality["uptime_24h"] == pytest.approx(22.5 / 26.5)
    assert municipality["uptime_7d"] == pytest.approx((158.5 + 2) / (167.5 + 3))
    nobody = next(o for o in report["owners"] if o["organisation_id"] is None)
    # Camera 3 has no known time at all, camera 4 was online all along.
    assert (nobody["name_en"], nobody["cameras"], nobody["uptime_24h"]) == ("No owner", 2, 1.0)
