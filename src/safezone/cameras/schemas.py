"""Camera schemas: the registry (two tiers, write-only credentials), access requests and the
view decision.

Credentials go in (``username``/``password``, or user-info inside a stream URL) and never come
out: the ``Out`` schema has ``has_credentials`` instead, and stream URLs are stored and returned
without user-info.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from safezone.assets.schemas import (
    AssetCreate,
    AssetOut,
    AssetUpdate,
    Bearing,
    Fov,
    Height,
    Range,
)
from safezone.schemas import Input, Output

STREAM_SCHEMES = ("rtsp", "rtsps", "http", "https")
SharingPolicy = Literal["always", "on_alarm", "on_request", "off"]


def _stream_url(value: str) -> str:
    # The message never repeats the value: it may carry a password in its user-info.
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        raise PydanticCustomError("stream_url", "not a valid stream URL") from None
    if parts.scheme.lower() not in STREAM_SCHEMES or not parts.hostname:
        raise PydanticCustomError("stream_url", "not a valid stream URL") from None
    if any(ch.isspace() for ch in value):
        raise PydanticCustomError("stream_url", "not a valid stream URL") from None
    return value


StreamUrl = Annotated[
    str,
    Field(
        min_length=1,
        max_length=500,
        description=(
            "rtsp://, rtsps://, http:// or https:// URL of the stream. User-info "
            "(user:password@) is split off and stored encrypted; it is never returned."
        ),
    ),
    AfterValidator(_stream_url),
]
# writeOnly tells API clients (and the OpenAPI docs) that these never come back.
Username = Annotated[
    str | None,
    Field(default=None, max_length=200, description="Stream login (write-only, encrypted).",
          json_schema_extra={"writeOnly": True}),
]
Password = Annotated[
    str | None,
    Field(default=None, max_length=200, description="Stream password (write-only, encrypted).",
          json_schema_extra={"writeOnly": True, "format": "password"}),
]
AlarmRadius = Annotated[
    float,
    Field(
        gt=0,
        le=5000,
        description="on_alarm: the camera is viewable while an incident within this radius (m) "
        "is open.",
    ),
]
BufferSeconds = Annotated[
    int, Field(ge=0, le=300, description="Rolling pre-record buffer for clips, seconds (0: none).")
]


class CameraCreate(AssetCreate):
    bearing_deg: Bearing | None = None
    fov_deg: Fov | None = None
    range_m: Range | None = None
    height_m: Height | None = None
    ptz: bool = False
    stream_url: StreamUrl | None = None
    sub_stream_url: StreamUrl | None = None
    username: Username = None
    password: Password = None
    sharing_policy: SharingPolicy = Field(
        default="always", description="Set by the owner: who at the centre may view, and when."
    )
    alarm_radius_m: AlarmRadius = 200.0
    buffer_seconds: BufferSeconds = 0


class CameraUpdate(AssetUpdate):
    """Only the fields sent change. Credentials: send ``username``/``password`` to change them
    (the one left out keeps its value); send both as null to remove them."""

    bearing_deg: Bearing | None = None
    fov_deg: Fov | None = None
    range_m: Range | None = None
    height_m: Height | None = None
    ptz: bool | None = None
    stream_url: StreamUrl | None = None
    sub_stream_url: StreamUrl | None = None
    username: Username = None
    password: Password = None
    sharing_policy: SharingPolicy | None = None
    alarm_radius_m: AlarmRadius | None = None
    buffer_seconds: BufferSeconds | None = None


class CameraOut(AssetOut):
    bearing_deg: float | None
    fov_deg: float | None
    range_m: float | None
    height_m: float | None
    ptz: bool
    tier: str = Field(description="registered (a pin, no stream) or linked (has a stream URL).")
    stream_url: str | None
    sub_stream_url: str | None
    has_credentials: bool = Field(description="Stream credentials are stored (never returned).")
    sharing_policy: str
    alarm_radius_m: float
    buffer_seconds: int
    status: str


class AccessRequestCreate(Input):
    reason: str = Field(
        min_length=3, max_length=500, description="Why the centre needs to view this camera."
    )


class AccessDecision(Input):
    approve: bool
    hours: int = Field(default=8, ge=1, le=72, description="How long an approval lasts.")


class AccessRequestOut(Output):
    id: int
    camera_id: int
    requested_by: int
    reason: str
    status: str = Field(description="pending, approved or denied.")
    requested_at: datetime
    decided_by: int | None
    decided_at: datetime | None
    valid_until: datetime | None
    active: bool = Field(description="Approved and not yet expired.")


class ViewDecisionOut(Output):
    camera_id: int
    allowed: bool
    reason: str
    sharing_policy: str
    can_request: bool = Field(
        description="The caller may ask the owner for access now (on_request, none pending)."
    )
    pending_request_id: int | None
    valid_until: datetime | None = Field(description="When the caller's approved access ends.")


class ImportIssueOut(Output):
    field: str | None = Field(description="The column header as written in the file.")
    code: str
    message: str


class ImportRowOut(Output):
    row: int = Field(description="Row number as the spreadsheet program shows it.")
    external_id: str | None
    name: str | None
    outcome: Literal["created", "updated", "unchanged", "failed"]
    camera_id: int | None
    changed: list[str]
    errors: list[ImportIssueOut]


class ImportFileOut(Output):
    name: str
    format: Literal["csv", "xlsx"]
    encoding: str | None
    header_row: int
    columns: dict[str, str] = Field(description="Recognised column -> header in the file.")
    ignored_columns: list[str]


class ImportCountsOut(Output):
    rows: int
    created: int
    updated: int
    unchanged: int
    failed: int


class ImportReportOut(Output):
    """Row by row: what was created, updated, left unchanged, and what failed and why."""

    file: ImportFileOut
    dry_run: bool
    counts: ImportCountsOut
    rows: list[ImportRowOut]
