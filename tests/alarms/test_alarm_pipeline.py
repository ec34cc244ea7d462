"""The alarm pipeline from a stored box event to alarm, incident, timeline and correlation."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from safezone.alarms.effects import LIVE_ROLES
from safezone.alarms.models import Alarm
from safezone.alerts.models import Alert
from safezone.db.base import utcnow
from safezone.db.engine import Database
from safezone.incidents.models import Incident, IncidentEvent
from safezone.settings import Settings
from safezone.sos.models import SosBox
from tests.alarms.support import LAT, LON, add_box, add_camera, deliver, east_of, north_of, pushes


async def _timeline(db: Database, incident_id: int) -> list[str]:
    async with db.session() as session:
        rows = await session.scalars(
            select(IncidentEvent.kind)
            .where(IncidentEvent.incident_id == incident_id)
            .order_by(IncidentEvent.at, IncidentEvent.id)
        )
        return list(rows)


async def test_sos_press_raises_alarm_opens_incident_and_correlates(
    db: Database, settings: Settings
) -> None:
    now = utcnow()
    async with db.write() as session:
        box = await add_box(session, "SOS-001")
        near = await add_box(session, "SOS-002", lat=north_of(LAT, 150))
        far = await add_box(session, "SOS-003", lat=north_of(LAT, 400))
        # Looks north at the box from 50 m south of it: sees it.
        seeing = await add_camera(session, "CAM-A", lat=north_of(LAT, -50), lon=LON,
                                  bearing_deg=0, fov_deg=60, range_m=100)
        # 60 m east, looking further east: its wedge misses the box.
        await add_camera(session, "CAM-B", lat=LAT, lon=east_of(LAT, LON, 60),
                         bearing_deg=90, fov_deg=60, range_m=100)
        box_id, near_id, far_id = box.id, near.id, far.id
    _e, near_fx = await deliver(db, settings, near_id, "sos_pressed", at=now - timedelta(minutes=2))
    await deliver(db, settings, far_id, "sos_pressed", at=now - timedelta(minutes=1))
    event, effects = await deliver(db, settings, box_id, "sos_pressed", at=now)

    (push,) = pushes(effects)
    assert push.type == "alarm.new" and push.roles == LIVE_ROLES
    view = push.payload
    assert view["kind"] == "sos" and view["priority"] == 1 and view["status"] == "new"
    assert view["silent"] is False and view["event_id"] == event.event_id
    assert view["box"]["code"] == "SOS-001"
    assert [c["id"] for c in view["cameras"]] == [seeing.id]
    assert view["camera_match"] == "fov"
    assert 49 < view["cameras"][0]["distance_m"] < 51
    near_alarm_id = pushes(near_fx)[0].payload["id"]
    assert view["nearby_alarms"] == [near_alarm_id]

    async with db.session() as session:
        alarm = await session.scalar(select(Alarm).where(Alarm.event_id == event.event_id))
        assert alarm is not None and alarm.incident_id == view["incident_id"]
        incident = await session.get(Incident, alarm.incident_id)
        assert incident is not None
        assert (incident.kind, incident.priority, incident.status) == ("sos", 1, "open")
        assert incident.source_box_id == box_id and incident.lat == LAT
        # The link is kept both ways: the earlier alarm now lists the new one.
        earlier = await session.get(Alarm, near_alarm_id)
        assert earlier is not None and earlier.related["nearby_alarms"] == [alarm.id]
    assert await _timeline(db, view["incident_id"]) == ["opened", "correlated"]


async def test_nearest_cameras_when_no_field_of_view_holds_the_box(
    db: Database, settings: Settings
) -> None:
    async with db.write() as session:
        box = await add_box(session, "SOS-010")
        # No bearing / FOV recorded: coverage cannot say; distance can.
        c80 = await add_camera(session, "CAM-80", lat=north_of(LAT, 80), lon=LON)
        c30 = await add_camera(session, "CAM-30", lat=north_of(LAT, -30), lon=LON)
        await add_camera(session, "CAM-150", lat=north_of(LAT, 150), lon=LON)
        box_id = box.id
    _event, effects = await deliver(db, settings, box_id, "sos_pressed")
    view = pushes(effects)[0].payload
    assert view["camera_match"] == "nearest"
    assert [c["id"] for c in view["cameras"]] == [c30.id, c80.id]


async def test_second_press_within_ten_minutes_attaches(db: Database, settings: Settings) -> None:
    start = utcnow() - timedelta(minutes=30)
    async with db.write() as session:
        box_id = (await add_box(session, "SOS-020")).id
    _e, first = await deliver(db, settings, box_id, "sos_pressed", at=start)
    _e, second = await deliver(db, settings, box_id, "sos_pressed",
                               at=start + timedelta(minutes=9))
    # 9 minutes after the second press: still within 10 minutes of the incident's last alarm.
    _e, third = await deliver(db, settings, box_id, "sos_pressed",
                              at=start + timedelta(minutes=18))
    _e, fourth = await deliver(db, settings, box_id, "sos_pressed",
                               at=start + timedelta(minutes=29))
    ids = [pushes(fx)[0].payload["incident_id"] for fx in (first, second, third, fourth)]
    assert ids[0] == ids[1] == ids[2] != ids[3]
    assert await _timeline(db, ids[0]) == ["opened", "alarm_attached", "alarm_attached"]
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Incident)) == 2
        assert await session.scalar(select(func.count()).select_from(Alarm)) == 4


async def test_tamper_is_a_silent_alarm(db: Database, settings: Settings) -> None:
    async with db.write() as session:
        box_id = (await add_box(session, "SOS-030")).id
    _event, effects = await deliver(db, settings, box_id, "tamper")
    (push,) = pushes(effects)
    assert push.type == "alarm.new"
    assert push.payload["kind"] == "tamper" and push.payload["silent"] is True
    assert push.payload["priority"] == 2
    async with db.session() as session:
        incident = await session.get(Incident, push.payload["incident_id"])
        assert incident is not None and incident.kind == "tamper"


async def test_door_open_is_low_priority_and_opens_no_incident(
    db: Database, settings: Settings
) -> None:
    async with db.write() as session:
        box_id = (await add_box(session, "SOS-040")).id
    _event, effects = await deliver(db, settings, box_id, "door_open")
    view = pushes(effects)[0].payload
    assert (view["kind"], view["priority"], view["silent"]) == ("door_open", 3, False)
    assert view["incident_id"] is None
    # A press then a door alarm: the door alarm joins the press's incident.
    _e, press = await deliver(db, settings, box_id, "sos_pressed")
    _e, door = await deliver(db, settings, box_id, "door_open")
    assert pushes(door)[0].payload["incident_id"] == pushes(press)[0].payload["incident_id"]


async def test_cancel_marks_the_alarm_cancelled_and_keeps_the_incident(
    db: Database, settings: Settings
) -> None:
    async with db.write() as session:
        box_id = (await add_box(session, "SOS-050")).id
        other_id = (await add_box(session, "SOS-051", lat=north_of(LAT, 500))).id
    press, effects = await deliver(db, settings, box_id, "sos_pressed")
    view = pushes(effects)[0].payload
    # Another box naming this press is ignored.
    _e, foreign = await deliver(db, settings, other_id, "sos_cancelled",
                                payload={"cancels": press.event_id})
    assert foreign == []
    _e, cancel = await deliver(db, settings, box_id, "sos_cancelled",
                               payload={"cancels": press.event_id})
    (push,) = pushes(cancel)
    assert push.type == "alarm.cancelled" and push.payload["status"] == "cancelled"
    async with db.session() as session:
        incident = await session.get(Incident, view["incident_id"])
        assert incident is not None and incident.status == "open"
    assert await _timeline(db, view["incident_id"]) == ["opened", "alarm_cancelled"]
    # Nothing left to cancel: a second cancel changes nothing.
    _e, again = await deliver(db, settings, box_id, "sos_cancelled")
    assert again == []


async def test_cancel_without_reference_takes_the_latest_open_press(
    db: Database, settings: Settings
) -> None:
    async with db.write() as session:
        box_id = (await add_box(session, "SOS-060")).id
    _e, first = await deliver(db, settings, box_id, "sos_pressed",
                              at=utcnow() - timedelta(seconds=30))
    _e, second = await deliver(db, settings, box_id, "sos_pressed")
    _e, cancel = await deliver(db, settings, box_id, "sos_cancelled")
    assert pushes(cancel)[0].payload["id"] == pushes(second)[0].payload["id"]
    async with db.session() as session:
        alarm = await session.get(Alarm, pushes(first)[0].payload["id"])
        assert alarm is not None and alarm.status == "new"


async def test_many_power_losses_fold_into_one_area_alert(
    db: Database, settings: Settings
) -> None:
    now = utcnow()
    async with db.write() as session:
        ids = [(await add_box(session, f"SOS-P{i}", lat=north_of(LAT, 400 * i))).id
               for i in range(5)]
        lone = (await add_box(session, "SOS-LONE")).id
    # A loss long before the window does not count towards the fold.
    await deliver(db, settings, lone, "power_lost", at=now - timedelta(minutes=30))
    all_effects = []
    for i, box_id in enumerate(ids):
        _e, fx = await deliver(db, settings, box_id, "power_lost",
                               at=now + timedelta(seconds=10 * i))
        all_effects.append(fx)
    async with db.session() as session:
        open_alerts = list(await session.scalars(
            select(Alert).where(Alert.cleared_at.is_(None)).order_by(Alert.id)
        ))
        assert await session.scalar(select(func.count()).select_from(Alarm)) == 0
        mains = list(await session.scalars(select(SosBox.mains_ok).where(SosBox.id.in_(ids))))
    assert mains == [False] * 5
    kinds = sorted(a.kind for a in open_alerts)
    # The lone box (30 minutes earlier) keeps its own alert; the five became one.
    assert kinds == ["power_area", "sos_box_power_lost"]
    area = next(a for a in open_alerts if a.kind == "power_area")
    assert sorted(area.details["boxes"]) == sorted(ids)
    assert "5" in area.message_en and "5" in area.message_th
    # Two box alerts were raised before the fold, then cleared into it.
    first_two = [p.type for fx in all_effects[:2] for p in pushes(fx)]
    assert first_two == ["alert.new", "alert.new"]
    fold = [p.type for p in pushes(all_effects[2])]
    assert fold == ["alert.new", "alert.cleared", "alert.cleared"]
    assert [p.type for fx in all_effects[3:] for p in pushes(fx)] == ["alert.updated"] * 2

    # Power comes back: the area alert clears only with its last box.
    for box_id in ids[:-1]:
        await deliver(db, settings, box_id, "power_restored")
    _e, last = await deliver(db, settings, ids[-1], "power_restored")
    assert [p.type for p in pushes(last)] == ["alert.cleared"]
    async with db.session() as session:
        cleared = await session.get(Alert, area.id)
        assert cleared is not None and cleared.cleared_at is not None


async def test_self_test_is_not_the_pipelines_business(db: Database, settings: Settings) -> None:
    async with db.write() as session:
        box_id = (await add_box(session, "SOS-070")).id
    _event, effects = await deliver(db, settings, box_id, "self_test", payload={"ok": True})
    assert effects == []
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Alarm)) == 0
