"""The wire protocol: the documented examples, the JSON Schema files and the server's pydantic
models agree; generated valid payloads pass both; mutated or garbage ones fail both, with a
reason, and no exception ever escapes the parser."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from safezone.sos.protocol import (
    COMMANDS,
    EVENT_KINDS,
    Rejection,
    Topic,
    parse_command,
    parse_rfc3339,
    parse_topic,
    parse_upstream,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "protocol"
SCHEMAS = {
    path.name.removesuffix(".schema.json"): json.loads(path.read_text())
    for path in (DOCS / "schemas").glob("*.schema.json")
}
CODE = "SOS-TEST"


def _date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        parse_rfc3339(value)
    except ValueError:
        return False
    return True


FORMATS = jsonschema.FormatChecker(formats=())
FORMATS.checks("date-time")(_date_time)
VALIDATORS = {
    name: jsonschema.Draft202012Validator(schema, format_checker=FORMATS)
    for name, schema in SCHEMAS.items()
}


def schema_ok(name: str, payload: Any) -> bool:
    return VALIDATORS[name].is_valid(payload)


def model_ok(name: str, payload: Any) -> bool:
    raw = json.dumps(payload).encode()
    if name == "ack":
        from safezone.sos.protocol import parse_ack

        return not isinstance(parse_ack(raw), Rejection)
    if name == "cmd":
        return not isinstance(parse_command(raw), Rejection)
    code = payload.get("box_id", CODE) if isinstance(payload, dict) else CODE
    code = code if isinstance(code, str) and re.fullmatch(r"[A-Za-z0-9._-]{1,64}", code) \
        else CODE
    return not isinstance(parse_upstream(Topic(code, name), raw), Rejection)


def doc_examples() -> list[tuple[str, Any]]:
    text = (DOCS / "sos-box.md").read_text()
    found = re.findall(r"<!-- example: (\w+) -->\s*```json\n(.*?)```", text, re.S)
    return [(name, json.loads(body)) for name, body in found]


def test_schema_files_are_valid_json_schema() -> None:
    assert set(SCHEMAS) == {"event", "heartbeat", "status", "ack", "cmd", "call"}
    for schema in SCHEMAS.values():
        jsonschema.Draft202012Validator.check_schema(schema)


def test_documented_examples_validate_against_schema_and_models() -> None:
    examples = doc_examples()
    kinds = {e["kind"] for name, e in examples if name == "event"}
    assert kinds == set(EVENT_KINDS)
    assert {e["type"] for name, e in examples if name == "cmd"} >= {
        "help_coming", "strobe", "play_message", "self_test", "call_offer"}
    assert {name for name, _ in examples} == set(SCHEMAS)
    for name, example in examples:
        VALIDATORS[name].validate(example)
        assert model_ok(name, example), (name, example)


def test_topics() -> None:
    assert parse_topic("safezone/v1", "safezone/v1/box/SOS-1/event") == Topic("SOS-1", "event")
    for bad in ("safezone/v1/box/SOS-1/ack", "safezone/v1/box/SOS-1", "other/box/SOS-1/event",
                "safezone/v1/box/SOS 1/event", "safezone/v1/box/SOS-1/event/x"):
        assert parse_topic("safezone/v1", bad) is None


# --- generated payloads ---------------------------------------------------------------------

times = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
).map(lambda d: d.isoformat().replace("+00:00", "Z"))
uuids = st.uuids().map(str)
short = st.text(max_size=40)
pct = st.floats(min_value=0, max_value=100, allow_nan=False)
nonneg = st.floats(min_value=0, max_value=3600, allow_nan=False)
check = st.fixed_dictionaries({"ok": st.booleans()}, optional={"detail": short})
kind_fields: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "sos_pressed": st.fixed_dictionaries({}, optional={"button": short}),
    "sos_cancelled": st.fixed_dictionaries({}, optional={"cancels": uuids, "reason": short}),
    "tamper": st.fixed_dictionaries(
        {"sensor": st.sampled_from(["enclosure", "tilt", "camera", "wiring", "other"])},
        optional={"detail": short}),
    "power_lost": st.fixed_dictionaries({}, optional={"battery_pct": pct,
                                                      "report_delay_s": nonneg}),
    "power_restored": st.fixed_dictionaries({}, optional={"outage_s": nonneg}),
    "door_open": st.fixed_dictionaries({"open": st.booleans()}, optional={"door": short}),
    "self_test": st.fixed_dictionaries(
        {"ok": st.booleans()},
        optional={"checks": st.dictionaries(short, check, max_size=5), "request_id": uuids}),
}


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(EVENT_KINDS))
    base = {"event_id": draw(uuids), "box_id": CODE, "seq": draw(st.integers(0, 2**53)),
            "time": draw(times), "kind": kind}
    if draw(st.booleans()):
        base["v"] = 1
    return {**base, **draw(kind_fields[kind])}


heartbeats = st.fixed_dictionaries(
    {"box_id": st.just(CODE), "time": times},
    optional={"battery_pct": pct, "mains": st.booleans(),
              "temperature_c": st.floats(-60, 125, allow_nan=False),
              "signal_dbm": st.floats(-150, 0, allow_nan=False), "firmware": short,
              "uptime_s": nonneg, "outbox": st.integers(0, 10**6)},
)
VALID = {"event": events(), "heartbeat": heartbeats}


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(VALID)).flatmap(lambda n: st.tuples(st.just(n), VALID[n])))
def test_valid_payloads_are_accepted_by_both(case: tuple[str, dict[str, Any]]) -> None:
    name, payload = case
    assert schema_ok(name, payload)
    assert model_ok(name, payload)


# Mutations that make a payload invalid under the schema (integral floats for integer fields
# are left out: JSON Schema counts 1.0 as an integer, the server does not).
def _drop(key: str) -> Any:
    return lambda p: {k: v for k, v in p.items() if k != key} if key in p else None


MUTATIONS = {
    "drop_event_id": _drop("event_id"),
    "drop_time": _drop("time"),
    "drop_box_id": _drop("box_id"),
    "bad_uuid": lambda p: {**p, "event_id": "not-a-uuid"} if "event_id" in p else None,
    "bad_time": lambda p: {**p, "time": "2026-02-30T10:00:00Z"},
    "naive_time": lambda p: {**p, "time": "2026-01-01T10:00:00"},
    "seq_as_string": lambda p: {**p, "seq": "1"} if "seq" in p else None,
    "negative_seq": lambda p: {**p, "seq": -1} if "seq" in p else None,
    "unknown_kind": lambda p: {**p, "kind": "explosion"} if "kind" in p else None,
    "version_2": lambda p: {**p, "v": 2},
    "battery_over_100": lambda p: {**p, "battery_pct": 100.5} if "kind" not in p else None,
    "mains_as_int": lambda p: {**p, "mains": 1} if "kind" not in p else None,
    "long_firmware": lambda p: {**p, "firmware": "x" * 41} if "kind" not in p else None,
    "not_an_object": lambda p: [p],
}


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(sorted(VALID)).flatmap(lambda n: st.tuples(st.just(n), VALID[n])),
    st.sampled_from(sorted(MUTATIONS)),
)
def test_mutated_payloads_are_rejected_by_both_with_a_reason(
    case: tuple[str, dict[str, Any]], mutation: str
) -> None:
    name, payload = case
    mutated = MUTATIONS[mutation](payload)
    if mutated is None:
        return
    assert not schema_ok(name, mutated)
    assert not model_ok(name, mutated)
    code = CODE
    result = parse_upstream(Topic(code, name), json.dumps(mutated).encode())
    assert isinstance(result, Rejection) and result.reason and result.detail


@settings(max_examples=300)
@given(st.binary(max_size=300), st.sampled_from(["event", "heartbeat", "status", "call"]))
def test_garbage_never_raises(payload: bytes, leaf: str) -> None:
    result = parse_upstream(Topic(CODE, leaf), payload)
    assert isinstance(result, Rejection)
    assert isinstance(parse_command(payload), Rejection)


@settings(max_examples=200)
@given(st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(["event_id", "box_id", "seq", "time", "kind", "v", "ok",
                                       "type", "on", "x"]), children, max_size=6),
    max_leaves=12,
))
def test_arbitrary_json_gets_a_verdict_not_an_exception(value: Any) -> None:
    raw = json.dumps(value).encode()
    for leaf in ("event", "heartbeat", "status", "call"):
        parse_upstream(Topic(CODE, leaf), raw)
    parse_command(raw)


def test_commands_round_trip_through_the_schema() -> None:
    command = COMMANDS.validate_python({"cmd_id": str(uuid.uuid4()), "type": "strobe",
                                        "on": False, "time": datetime.now(UTC)})
    VALIDATORS["cmd"].validate(json.loads(command.encode()))
