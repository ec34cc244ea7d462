"""The live hub on its own: role filtering, unsubscribe, a failing listener, other threads."""

from __future__ import annotations

import asyncio
import json
import threading

from safezone.auth.roles import Role
from safezone.live.hub import LiveHub, LiveMessage


async def test_roles_unsubscribe_and_a_failing_listener() -> None:
    hub = LiveHub()
    operator: list[LiveMessage] = []
    supervisor: list[LiveMessage] = []

    def broken(message: LiveMessage) -> None:
        raise RuntimeError("console went away")

    hub.subscribe(broken, role=Role.operator)
    stop_operator = hub.subscribe(operator.append, role=Role.operator)
    hub.subscribe(supervisor.append, role=Role.supervisor)
    sent = hub.publish("alarm.new", {"id": 1})
    hub.publish("supervisor.notify", {"id": 1}, roles=frozenset({Role.supervisor}))
    assert [m.type for m in operator] == ["alarm.new"]
    assert [m.type for m in supervisor] == ["alarm.new", "supervisor.notify"]
    body = json.loads(sent.text)
    assert body["id"] == sent.id and body["type"] == "alarm.new"
    assert body["payload"] == {"id": 1} and body["time"].endswith("Z")
    stop_operator()
    stop_operator()  # twice is harmless
    hub.publish("alarm.resolved", {"id": 1})
    assert len(operator) == 1 and hub.subscriber_count == 2


async def test_publish_from_another_thread_runs_on_the_hub_loop() -> None:
    hub = LiveHub()
    got = asyncio.Event()
    seen: list[tuple[str, int]] = []

    def listener(message: LiveMessage) -> None:
        seen.append((message.type, threading.get_ident()))
        got.set()

    hub.subscribe(listener)
    worker = threading.Thread(target=lambda: hub.publish("alert.new", {"id": 5}))
    worker.start()
    worker.join()
    await asyncio.wait_for(got.wait(), 5)
    assert seen == [("alert.new", threading.get_ident())]
