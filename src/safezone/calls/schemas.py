"""Call schemas (the API's view of ``calls.service.call_views``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from safezone.schemas import Input


class CallOut(BaseModel):
    id: str = Field(description="The call id (UUID); also the call_id in the box protocol.")
    state: str = Field(description="requested | connected | ended")
    alarm_id: int | None
    incident_id: int | None
    box_id: int | None
    box_code: str | None
    operator_id: int | None
    operator: str | None = Field(description="User name of the operator who called.")
    requested_at: datetime
    connected_at: datetime | None
    ended_at: datetime | None
    duration_s: float | None = Field(description="Connected to ended, in seconds.")
    end_reason: str | None = Field(
        description="operator_hangup | operator_left | no_answer | setup_timeout | "
        "max_duration | link_down | bad_answer | lost | server_stopping | box:<reason>"
    )


class CallStartOut(BaseModel):
    call: CallOut
    signal_url: str = Field(description="The call's signalling WebSocket (path).")
    ice_servers: list[dict[str, Any]] = Field(description="RTCIceServer list for the browser.")
    answer_timeout_s: float
    setup_timeout_s: float


class CallEndIn(Input):
    reason: str | None = Field(default=None, max_length=60, pattern=r"^[a-z_:]+$")
