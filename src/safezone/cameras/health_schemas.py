"""Schemas of the camera health API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from safezone.schemas import Output

Share = float | None


class OwnerHealthOut(Output):
    organisation_id: int | None = Field(description="Owner organisation (null: none recorded).")
    name_th: str
    name_en: str
    cameras: int = Field(description="Linked cameras of this owner.")
    online: int = Field(description="Of those, online now.")
    uptime_24h: Share = Field(description="Share of known time online, last 24 h (0..1).")
    uptime_7d: Share = Field(description="Share of known time online, last 7 days (0..1).")


class HealthSummaryOut(Output):
    zone_id: int | None
    at: datetime
    linked: int = Field(description="Cameras with a stream the centre can reach.")
    online: int = Field(description="Linked cameras online now.")
    ratio: Share = Field(description="online / linked: the zone's headline figure (0..1).")
    by_status: dict[str, int] = Field(description="Linked cameras per health status.")
    owners: list[OwnerHealthOut]


class TransitionOut(Output):
    at: datetime
    status: str
    detail: str | None


class CameraHealthOut(Output):
    id: int
    code: str
    name_th: str
    name_en: str
    linked: bool
    status: str = Field(
        description="unknown, online, offline, unauthorized, no_video or degraded (tamper)."
    )
    status_since: datetime | None
    detail: str | None = Field(description="Why, in technical words (never holds credentials).")
    tamper: str | None = Field(description="black, covered, frozen or moved; null when none.")
    codec: str | None
    width: int | None
    height: int | None
    fps: float | None
    last_probe_at: datetime | None = Field(description="Written at least every 5 minutes.")
    last_ok_at: datetime | None
    snapshot_at: datetime | None
    reference_at: datetime | None = Field(description="When the tamper reference view was set.")
    uptime_24h: Share
    uptime_7d: Share
    transitions: list[TransitionOut] = Field(description="The latest status changes, newest first.")


class ReferenceResetOut(Output):
    camera_id: int
    source: Literal["snapshot", "next_picture"] = Field(
        description="snapshot: the latest snapshot is the new reference; next_picture: there is "
        "no snapshot yet, so the next good picture becomes the reference."
    )
    reference_at: datetime | None
