"""The SOS-box wire protocol, version 1: topics and payload models.

Shared by the server (``safezone.sos.link``) and the reference agent (``safezone.box``), so it
imports nothing but pydantic. The JSON Schema files in ``docs/protocol/schemas/`` describe the
same payloads for other vendors; a test validates the documented examples against both.

Parsing never raises: :func:`parse_upstream` returns either a message or a :class:`Rejection`
with a short machine reason (counted in the link's metrics) and a human detail (logged).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    TypeAdapter,
    ValidationError,
    model_validator,
)

PROTOCOL_VERSION = 1
# Upstream messages larger than this are refused before parsing (call signalling carries SDP).
MAX_PAYLOAD = 16 * 1024
MAX_CALL_PAYLOAD = 64 * 1024

BOX_CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
# RFC 3339 date-time with a mandatory offset; the date itself is checked by parsing.
RFC3339_PATTERN = (
    r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:"
    r"[0-5][0-9](\.[0-9]{1,9})?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
)
_RFC3339_RE = re.compile(RFC3339_PATTERN)

UPSTREAM_LEAVES = frozenset({"event", "heartbeat", "status", "call"})
DOWNSTREAM_LEAVES = frozenset({"ack", "cmd"})


def parse_rfc3339(value: object) -> datetime:
    """An aware UTC datetime from an RFC 3339 string (or an aware datetime); ValueError else."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("time must carry a UTC offset")
        return value.astimezone(UTC)
    if not isinstance(value, str) or not _RFC3339_RE.match(value):
        raise ValueError("time must be an RFC 3339 date-time with an offset")
    text = value if value.isupper() or value[-1] == "Z" and "t" not in value else value.upper()
    if len(text) > 30:
        # Python parses at most 6 fractional digits; RFC 3339 allows more.
        text = re.sub(r"(\.[0-9]{6})[0-9]+", r"\1", text)
    return datetime.fromisoformat(text).astimezone(UTC)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


DeviceTime = Annotated[
    datetime,
    BeforeValidator(parse_rfc3339),
    PlainSerializer(_iso, return_type=str),
]
Uuid = Annotated[str, Field(pattern=UUID_PATTERN)]
BoxCode = Annotated[str, Field(pattern=BOX_CODE_RE.pattern)]
Percent = Annotated[float, Field(ge=0, le=100)]
Text200 = Annotated[str, Field(max_length=200)]
ICE_URL_PATTERN = r"^(stun|stuns|turn|turns):[^\s]+$"
Version = Literal[1]


class Message(BaseModel):
    # Strict: "1" is not 1 and 0 is not false, as in the JSON Schema. Unknown fields are ignored
    # so that a minor protocol addition never breaks an older server or box.
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    def encode(self) -> bytes:
        """The JSON bytes to publish (unset optional fields left out)."""
        return self.model_dump_json(exclude_none=True).encode()


class EventBase(Message):
    v: Version = 1
    event_id: Uuid
    box_id: BoxCode
    seq: int = Field(ge=0, le=2**53)
    time: DeviceTime


class SosPressed(EventBase):
    kind: Literal["sos_pressed"]
    button: str | None = Field(default=None, max_length=40)


class SosCancelled(EventBase):
    kind: Literal["sos_cancelled"]
    cancels: Uuid | None = None
    reason: Text200 | None = None


class Tamper(EventBase):
    kind: Literal["tamper"]
    sensor: Literal["enclosure", "tilt", "camera", "wiring", "other"]
    detail: Text200 | None = None


class PowerLost(EventBase):
    kind: Literal["power_lost"]
    battery_pct: Percent | None = None
    report_delay_s: float | None = Field(default=None, ge=0, le=3600)


class PowerRestored(EventBase):
    kind: Literal["power_restored"]
    outage_s: float | None = Field(default=None, ge=0)


class DoorOpen(EventBase):
    kind: Literal["door_open"]
    open: bool
    door: str = Field(default="service", max_length=40)


class CheckResult(Message):
    ok: bool
    detail: Text200 | None = None


class SelfTest(EventBase):
    kind: Literal["self_test"]
    ok: bool
    checks: dict[Annotated[str, Field(max_length=40)], CheckResult] = Field(
        default_factory=dict, max_length=32
    )
    request_id: Uuid | None = None


BoxEventMessage = Annotated[
    SosPressed | SosCancelled | Tamper | PowerLost | PowerRestored | DoorOpen | SelfTest,
    Field(discriminator="kind"),
]
EVENT_KINDS = (
    "sos_pressed",
    "sos_cancelled",
    "tamper",
    "power_lost",
    "power_restored",
    "door_open",
    "self_test",
)


class Heartbeat(Message):
    v: Version = 1
    box_id: BoxCode
    time: DeviceTime
    battery_pct: Percent | None = None
    mains: bool | None = None
    temperature_c: float | None = Field(default=None, ge=-60, le=125)
    signal_dbm: float | None = Field(default=None, ge=-150, le=0)
    firmware: str | None = Field(default=None, max_length=40)
    uptime_s: float | None = Field(default=None, ge=0)
    outbox: int | None = Field(default=None, ge=0)


class Status(Message):
    v: Version = 1
    box_id: BoxCode
    state: Literal["online", "offline"]
    time: DeviceTime | None = None
    firmware: str | None = Field(default=None, max_length=40)


class Ack(Message):
    v: Version = 1
    event_id: Uuid


class CommandBase(Message):
    v: Version = 1
    cmd_id: Uuid
    time: DeviceTime


class HelpComing(CommandBase):
    type: Literal["help_coming"]
    alarm_id: int | None = None
    eta_s: float | None = Field(default=None, ge=0)
    text: str | None = Field(default=None, max_length=500)


class Strobe(CommandBase):
    type: Literal["strobe"]
    on: bool


class PlayMessage(CommandBase):
    type: Literal["play_message"]
    text: str | None = Field(default=None, max_length=500)
    message_id: str | None = Field(default=None, max_length=40)

    @model_validator(mode="after")
    def _something_to_play(self) -> PlayMessage:
        if self.text is None and self.message_id is None:
            raise ValueError("play_message needs text or message_id")
        return self


class RunSelfTest(CommandBase):
    type: Literal["self_test"]


class CallFields(Message):
    call_id: str = Field(min_length=1, max_length=64)
    sdp: str | None = Field(default=None, max_length=60_000)
    candidate: dict[str, Any] | None = None
    reason: Text200 | None = None


class IceServer(Message):
    """A STUN or TURN server for a call (as in WebRTC's ``RTCIceServer``)."""

    urls: (
        Annotated[str, Field(pattern=ICE_URL_PATTERN, max_length=500)]
        | list[Annotated[str, Field(pattern=ICE_URL_PATTERN, max_length=500)]]
    )
    username: str | None = Field(default=None, max_length=200)
    credential: str | None = Field(default=None, max_length=500)


class CallCommand(CommandBase, CallFields):
    type: Literal["call_offer", "call_answer", "call_ice", "call_end"]
    # call_offer only: the STUN/TURN servers the box should use (none: host candidates only).
    ice_servers: list[IceServer] | None = Field(default=None, max_length=10)


Command = Annotated[
    HelpComing | Strobe | PlayMessage | RunSelfTest | CallCommand, Field(discriminator="type")
]
COMMAND_TYPES = (
    "help_coming",
    "strobe",
    "play_message",
    "self_test",
    "call_offer",
    "call_answer",
    "call_ice",
    "call_end",
)


class CallSignal(CallFields):
    """Box → server call signalling (the answer, ICE candidates, hang-up)."""

    v: Version = 1
    box_id: BoxCode
    type: Literal["call_offer", "call_answer", "call_ice", "call_end"]


EVENTS: TypeAdapter[BoxEventMessage] = TypeAdapter(BoxEventMessage)
COMMANDS: TypeAdapter[Command] = TypeAdapter(Command)
Upstream = BoxEventMessage | Heartbeat | Status | CallSignal


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a message was refused: ``reason`` is counted, ``detail`` is logged."""

    reason: str
    detail: str


@dataclass(frozen=True, slots=True)
class Topic:
    code: str
    leaf: str


def topic_for(root: str, code: str, leaf: str) -> str:
    """``{root}/box/{code}/{leaf}``."""
    return f"{root}/box/{code}/{leaf}"


def parse_topic(root: str, topic: str) -> Topic | None:
    """The box code and leaf of an upstream topic under ``root``; None if it is not one."""
    prefix = f"{root}/box/"
    if not topic.startswith(prefix):
        return None
    code, sep, leaf = topic[len(prefix) :].partition("/")
    if not sep or leaf not in UPSTREAM_LEAVES or not BOX_CODE_RE.match(code):
        return None
    return Topic(code, leaf)


def _describe(exc: ValidationError) -> Rejection:
    errors = exc.errors(include_url=False, include_input=False)
    first = errors[0] if errors else {"type": "invalid", "loc": (), "msg": "invalid"}
    if first["type"] == "json_invalid":
        return Rejection("not_json", str(first["msg"])[:200])
    loc = ".".join(str(p) for p in first["loc"])
    if loc == "v" or loc.endswith(".v"):
        return Rejection("unsupported_version", "protocol version v must be 1")
    return Rejection("invalid", f"{loc or 'payload'}: {first['msg']}"[:300])


_MODELS: dict[str, Any] = {
    "event": EVENTS,
    "heartbeat": TypeAdapter(Heartbeat),
    "status": TypeAdapter(Status),
    "call": TypeAdapter(CallSignal),
}


def parse_upstream(topic: Topic, payload: bytes) -> Upstream | Rejection:
    """Validate a box's message on ``topic``; the body must name the topic's box."""
    try:
        limit = MAX_CALL_PAYLOAD if topic.leaf == "call" else MAX_PAYLOAD
        if len(payload) > limit:
            return Rejection("too_large", f"{len(payload)} bytes > {limit}")
        message: Upstream = _MODELS[topic.leaf].validate_json(payload)
    except ValidationError as exc:
        return _describe(exc)
    except Exception as exc:  # noqa: BLE001 - a parser bug must never stop the consumer
        return Rejection("invalid", f"unparseable: {type(exc).__name__}")
    if message.box_id != topic.code:
        return Rejection("box_mismatch", f"topic names {topic.code}, body names {message.box_id}")
    return message


def parse_command(payload: bytes) -> Command | Rejection:
    """Validate a command received by a box."""
    try:
        if len(payload) > MAX_CALL_PAYLOAD:
            return Rejection("too_large", f"{len(payload)} bytes")
        return COMMANDS.validate_json(payload)
    except ValidationError as exc:
        return _describe(exc)
    except Exception as exc:  # noqa: BLE001
        return Rejection("invalid", f"unparseable: {type(exc).__name__}")


def parse_ack(payload: bytes) -> Ack | Rejection:
    """Validate an acknowledgement received by a box."""
    try:
        return Ack.model_validate_json(payload)
    except ValidationError as exc:
        return _describe(exc)
    except Exception as exc:  # noqa: BLE001
        return Rejection("invalid", f"unparseable: {type(exc).__name__}")
