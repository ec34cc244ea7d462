"""Alarm and incident schemas (the API's view of ``alarms.views``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from safezone.schemas import Input


class BoxBrief(BaseModel):
    id: int
    code: str
    name_th: str
    name_en: str
    address: str | None
    lat: float
    lon: float
    zone_id: int | None
    status: str
    has_camera: bool
    battery_pct: float | None
    mains_ok: bool | None
    last_heartbeat_at: datetime | None


class CameraBrief(BaseModel):
    id: int
    code: str
    name_th: str
    name_en: str
    lat: float
    lon: float
    status: str
    tier: str
    sharing_policy: str
    distance_m: float | None = Field(description="From the camera to the alarm (geodesic).")


class AlarmOut(BaseModel):
    id: int
    event_id: str = Field(description="The box event that raised it (unique).")
    kind: str = Field(description="sos | tamper | door_open")
    silent: bool = Field(description="Listed without sound or flashing (tamper).")
    priority: int = Field(description="1 = most urgent.")
    status: str = Field(description="new | acknowledged | resolved | cancelled")
    lat: float | None
    lon: float | None
    zone_id: int | None
    incident_id: int | None
    device_time: datetime | None
    raised_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: int | None
    escalated_at: datetime | None
    escalations: int
    cancelled_at: datetime | None
    resolved_at: datetime | None
    camera_match: str = Field(
        description="fov: the cameras' fields of view hold the box; nearest: no wedge does, "
        "these are the nearest cameras; none: no camera near."
    )
    nearby_alarms: list[int] = Field(description="Other alarms within 200 m and 10 minutes.")
    box: BoxBrief | None
    cameras: list[CameraBrief]


class ResolveIn(Input):
    note: str | None = Field(default=None, max_length=2000)


class NoteIn(Input):
    text: str = Field(min_length=1, max_length=4000)


class CloseIn(Input):
    note: str | None = Field(default=None, max_length=2000)


class IncidentOut(BaseModel):
    id: int
    kind: str
    priority: int
    status: str
    title: str
    description: str | None
    lat: float | None
    lon: float | None
    zone_id: int | None
    opened_at: datetime
    acknowledged_at: datetime | None
    closed_at: datetime | None
    source_box_id: int | None

    model_config = {"from_attributes": True}


class TimelineEntry(BaseModel):
    id: int
    at: datetime
    kind: str
    actor_id: int | None
    actor: str
    data: dict[str, Any]

    model_config = {"from_attributes": True}


class IncidentDetail(IncidentOut):
    timeline: list[TimelineEntry]
    alarms: list[AlarmOut]


class StandardOut(BaseModel):
    within_s: float
    target_share: float
    share: float | None
    met: bool | None


class AckStatsOut(BaseModel):
    start: datetime = Field(serialization_alias="from")
    end: datetime = Field(serialization_alias="to")
    kind: str
    raised: int
    answerable: int = Field(description="Raised, less those cancelled at the box unanswered.")
    acknowledged: int
    unacknowledged: int
    cancelled_unanswered: int
    within: dict[int, int] = Field(description="Acknowledged within 10 / 15 / 20 s (counts).")
    share_within: dict[int, float | None] = Field(
        description="within / answerable; null when nothing was answerable."
    )
    median_s: float | None
    p90_s: float | None = Field(description="Nearest-rank 90th percentile.")
    standards: dict[str, StandardOut] = Field(
        description="NENA (90 % within 15 s) and NFPA 1225 (90 % within 10 s)."
    )
