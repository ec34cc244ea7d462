"""Evidence clip schemas."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, Field

from safezone.schemas import Input, Output


class ClipCreate(Input):
    """A request to record a camera for a time window."""

    start: AwareDatetime = Field(
        description="Window start, ISO 8601 with an offset. In the past: taken from the "
        "camera's rolling buffer as far as it reaches."
    )
    end: AwareDatetime = Field(
        description="Window end, ISO 8601 with an offset. In the future: recorded live."
    )
    reason: str = Field(
        min_length=3, max_length=500, description="Why the clip is taken (chain of custody)."
    )
    incident_id: int | None = Field(default=None, description="Incident the clip belongs to.")


class ClipOut(Output):
    id: str
    camera_id: int | None
    camera_code: str
    incident_id: int | None
    requested_by: int | None
    reason: str | None
    start_at: datetime = Field(description="Asked window start (UTC).")
    end_at: datetime = Field(description="Asked window end (UTC).")
    status: str = Field(description="pending | recording | complete | failed | purged")
    size_bytes: int | None
    sha256: str | None = Field(description="SHA-256 of the MP4, set when complete.")
    duration_s: float | None
    error: str | None
    created_at: datetime
    completed_at: datetime | None
    retain_until: datetime | None
    recorded_start_at: datetime | None = Field(description="First recorded picture (UTC).")
    recorded_end_at: datetime | None = Field(description="End of the last recorded picture.")
    unavailable_s: float | None = Field(
        description="Seconds of the asked window that could not be recorded."
    )
    note: str | None = Field(
        description="preroll_unavailable | preroll_partial | stream_ended | partial | resumed"
    )
    note_text: str | None = Field(default=None, description="The note, in words.")


class PurgeOut(Output):
    id: str
    camera_code: str
    retain_until: datetime | None
