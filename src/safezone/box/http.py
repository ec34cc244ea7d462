"""A tiny local HTTP endpoint on 127.0.0.1 for pressing a simulated box's buttons:
``POST /press``, ``/cancel``, ``/tamper``, ``/door/open``, ``/door/closed``, ``/power/lost``,
``/power/restored``, ``/self-test``; ``GET /status``. Loopback only, and only these few fixed
routes, so no framework is needed on the box.

``serve_fleet_http`` serves the same routes for many agents in one process (the demo, the
simulator): the box is named in the query, ``POST /press?box=SOS-SADET``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

if TYPE_CHECKING:
    from safezone.box.agent import BoxAgent

log = logging.getLogger(__name__)
_MAX_HEADER = 8192


def _routes(agent: BoxAgent) -> dict[tuple[str, str], Callable[[], Any]]:
    return {
        ("POST", "/press"): agent.press,
        ("POST", "/cancel"): agent.cancel,
        ("POST", "/tamper"): agent.tamper,
        ("POST", "/door/open"): lambda: agent.door(True),
        ("POST", "/door/closed"): lambda: agent.door(False),
        ("POST", "/power/lost"): lambda: agent.power(False),
        ("POST", "/power/restored"): lambda: agent.power(True),
        ("POST", "/self-test"): agent.self_test,
        ("GET", "/status"): lambda: {
            "box": agent.code,
            "connected": agent.connected.is_set(),
            "pending": agent.outbox.count(),
            "acked": agent.acked,
            "outputs": dict(agent.outputs.state),
        },
    }


async def _respond(writer: asyncio.StreamWriter, status: int, body: dict[str, Any]) -> None:
    data = json.dumps(body).encode()
    reason = {200: "OK", 202: "Accepted", 400: "Bad Request", 404: "Not Found"}[status]
    writer.write(
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode() + data
    )
    await writer.drain()


async def serve_http(agent: BoxAgent, port: int) -> asyncio.Server:
    """Start the endpoint on 127.0.0.1:``port`` (0: any free port)."""
    routes = _routes(agent)
    return await _serve(lambda _query: routes, port)


async def serve_fleet_http(agents: Mapping[str, BoxAgent], port: int) -> asyncio.Server:
    """One endpoint for many agents (by box code): ``POST /press?box=CODE`` and so on."""
    routes = {code: _routes(agent) for code, agent in agents.items()}

    def pick(query: str) -> dict[tuple[str, str], Callable[[], Any]] | None:
        code = parse_qs(query).get("box", [""])[0]
        return routes.get(code)

    return await _serve(pick, port)


async def _serve(
    pick: Callable[[str], dict[tuple[str, str], Callable[[], Any]] | None], port: int
) -> asyncio.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            if len(head) > _MAX_HEADER:
                await _respond(writer, 400, {"error": "header too large"})
                return
            method, target, *_ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
            path, _, query = target.partition("?")
            routes = pick(query)
            if routes is None:
                await _respond(writer, 404, {"error": "no such box"})
                return
            action = routes.get((method, path))
            if action is None:
                await _respond(writer, 404, {"error": "no such action"})
                return
            result = action()
            if asyncio.iscoroutine(result):
                result = await result
            body = result if isinstance(result, dict) else {"event_id": result}
            await _respond(writer, 200 if method == "GET" else 202, body)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError):
            await _respond(writer, 400, {"error": "bad request"})
        except ConnectionError:
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", port, limit=_MAX_HEADER)
