"""``safezone-box``: run the agent, or press its buttons from a shell."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import sys
import threading
import urllib.request
from pathlib import Path
from typing import Annotated

import typer

from safezone.box.agent import BoxAgent
from safezone.box.config import BoxConfig, load_config
from safezone.box.devices import GpioInputs
from safezone.box.http import serve_http
from safezone.box.outbox import OutboxStore

app = typer.Typer(help="SafeZone SOS box agent.", no_args_is_help=True)
ConfigOption = Annotated[
    Path, typer.Option("--config", "-c", exists=True, dir_okay=False, help="Box config file.")
]
KEYS = "Enter/p: SOS press · c: cancel · t: tamper · d/D: door open/closed · " \
       "m/M: mains lost/restored · s: self-test · q: quit"


def _keyboard(agent: BoxAgent, loop: asyncio.AbstractEventLoop) -> None:
    actions = {
        "": agent.press, "p": agent.press, "c": agent.cancel, "t": agent.tamper,
        "d": lambda: agent.door(True), "D": lambda: agent.door(False),
        "m": lambda: agent.power(False), "M": lambda: agent.power(True),
        "s": lambda: asyncio.ensure_future(agent.self_test()), "q": agent.stop,
    }
    for line in sys.stdin:
        action = actions.get(line.strip())
        if action is None:
            print(KEYS)  # noqa: T201 - the keyboard simulation talks to its person
            continue
        loop.call_soon_threadsafe(action)
        if line.strip() == "q":
            return


async def _run(config: BoxConfig, keyboard: bool) -> None:
    agent = BoxAgent(config)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, agent.stop)
    server = None
    if config.http_port is not None:
        server = await serve_http(agent, config.http_port)
    inputs = GpioInputs(config.gpio, agent.on_input) if config.gpio else None
    if keyboard:
        print(KEYS)  # noqa: T201
        threading.Thread(target=_keyboard, args=(agent, loop), daemon=True).start()
    try:
        await agent.run()
    finally:
        if inputs is not None:
            inputs.close()
        if server is not None:
            server.close()


@app.command()
def run(
    config: ConfigOption,
    keyboard: Annotated[bool, typer.Option(help="Read button presses from the keyboard.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run the agent until interrupted."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(_run(load_config(config), keyboard))


@app.command()
def press(
    config: ConfigOption,
    action: Annotated[str, typer.Argument(help="press, cancel, tamper, self-test ...")] = "press",
) -> None:
    """Press a button of the running agent (its local HTTP endpoint); if the agent is not
    running, a press is written to its outbox and goes out when it starts."""
    cfg = load_config(config)
    if cfg.http_port:
        url = f"http://127.0.0.1:{cfg.http_port}/{action}"
        request = urllib.request.Request(url, method="POST")  # noqa: S310 - fixed loopback URL
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
                typer.echo(json.loads(response.read())["event_id"])
                return
    if action != "press":
        raise typer.Exit(code=1)
    store = OutboxStore(cfg.resolved_outbox, sync=cfg.outbox_sync)
    try:
        # Only to write the press durably: no call media, no connection.
        agent = BoxAgent(cfg.model_copy(update={"calls": False}), store=store)
        typer.echo(agent.press())
    finally:
        store.close()


@app.command()
def pending(config: ConfigOption) -> None:
    """List the events waiting for the server's acknowledgement."""
    cfg = load_config(config)
    store = OutboxStore(cfg.resolved_outbox, sync=cfg.outbox_sync)
    try:
        for item in store.box(cfg.box_code).pending():
            typer.echo(f"{item.seq}\t{item.kind}\t{item.event_id}\tattempts={item.attempts}")
    finally:
        store.close()


def main() -> None:
    app()
