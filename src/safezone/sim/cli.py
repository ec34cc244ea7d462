"""``safezone sim``: simulators for the demo and for load."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from pathlib import Path
from typing import Annotated

import typer

from safezone.db.engine import Database
from safezone.settings import get_settings
from safezone.sim.boxes import BoxFleet, SimBox, provision_sim_boxes, read_provisioning
from safezone.sos.provision import default_broker_url

sim_app = typer.Typer(help="Simulators (SOS boxes, cameras).", no_args_is_help=True)


@sim_app.command("boxes")
def boxes(
    count: Annotated[int, typer.Option("--count", "-n", min=1, help="How many boxes.")] = 10,
    press_rate: Annotated[
        float, typer.Option(min=0, help="SOS presses per second across all boxes.")
    ] = 0.0,
    heartbeat: Annotated[float, typer.Option(min=0.1, help="Heartbeat interval (s).")] = 30.0,
    duration: Annotated[
        float | None, typer.Option(help="Stop after this many seconds (default: Ctrl-C).")
    ] = None,
    from_file: Annotated[
        Path | None,
        typer.Option(help="Provisioning JSON (list of box configs) instead of the local DB."),
    ] = None,
    prefix: Annotated[str, typer.Option(help="Code prefix of provisioned boxes.")] = "SIM",
    broker_url: Annotated[str | None, typer.Option(help="Default: from settings.")] = None,
    outbox: Annotated[
        Path | None, typer.Option(help="Outbox file (default: data dir/sim-outbox.db).")
    ] = None,
) -> None:
    """Run N simulated boxes: heartbeats, presses, and obeying commands."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    settings = get_settings()

    async def main() -> None:
        if from_file is not None:
            fleet_boxes: list[SimBox] = read_provisioning(from_file)[:count]
        else:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            db = Database(settings.resolved_database_url)
            try:
                from safezone.db.migrate import upgrade

                await upgrade(db)
                fleet_boxes = await provision_sim_boxes(db, settings, count=count, prefix=prefix)
            finally:
                await db.dispose()
        fleet = BoxFleet(
            fleet_boxes,
            broker_url=broker_url or default_broker_url(settings),
            topic_root=settings.mqtt_topic_root,
            outbox=outbox or settings.data_dir / "sim-outbox.db",
            heartbeat_s=heartbeat,
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await fleet.start()
        typer.echo(f"{len(fleet.agents)} boxes started ({fleet_boxes[0].code}…)")
        presser = asyncio.create_task(fleet.press_at_rate(press_rate, duration or 10**9))
        started = time.monotonic()
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), duration)
        finally:
            presser.cancel()
            await fleet.wait_drained(5)
            typer.echo(
                f"{time.monotonic() - started:.0f} s: {fleet.connected()} connected, "
                f"{fleet.presses} presses, {fleet.acked()} acked, {fleet.pending()} pending"
            )
            await fleet.stop()

    asyncio.run(main())


@sim_app.command("cameras")
def cameras(
    port: Annotated[int, typer.Option(help="RTSP port (0: any free port).")] = 8554,
    host: Annotated[str, typer.Option(help="Bind address.")] = "127.0.0.1",
    count: Annotated[
        int | None,
        typer.Option("--count", "-n", min=1,
                     help="Serve N healthy cameras (/municipal/cam-0001 …) instead of the demo's."),
    ] = None,
) -> None:
    """Serve simulated RTSP cameras (the demo's municipal cameras, with their deliberate faults:
    offline, unauthorized, black, frozen) from Debian's GStreamer RTSP server until Ctrl-C."""
    from safezone.sim.cameras import serve

    raise typer.Exit(serve(host=host, port=port, count=count, echo=typer.echo))
