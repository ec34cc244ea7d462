"""`safezone demo`: fresh data directory, simulated cameras, synthetic seed, simulated SOS boxes,
server, printed logins. The camera simulator and the box agents live exactly as long as the demo
(Ctrl-C and SIGTERM included)."""

from __future__ import annotations

import asyncio
import os
import signal
import tempfile
from pathlib import Path
from types import FrameType

import typer
import uvicorn

from safezone.db.engine import Database
from safezone.db.migrate import upgrade
from safezone.settings import Settings

DEFAULT_DEMO_PASSWORD = "safezone-demo"  # noqa: S105 - a published demo password, by design


class _Stopped(Exception):
    """SIGINT or SIGTERM after the server shut down: end the demo cleanly."""


def _stop(signum: int, _frame: FrameType | None) -> None:
    raise _Stopped(signum)


def run_demo(*, host: str, port: int, data_dir: Path | None) -> None:
    """Seed a fresh demo and serve it until interrupted."""
    from safezone.app import FREEZE_AFTER_START, UVICORN_OPTIONS, create_app, freeze_heap
    from safezone.demo.boxes import (
        MQTT_PORT,
        PRESS_PORT,
        DemoBoxes,
        preferred_port,
        provision_demo_boxes,
    )
    from safezone.demo.cameras import describe, monitor_settings, ready_cameras, start_cameras
    from safezone.demo.seed import seed_demo
    from safezone.sim.boxes import SimBox
    from safezone.sim.cameras import CameraSimulator

    if data_dir is None:
        data_dir = Path(tempfile.mkdtemp(prefix="safezone-demo-"))
    elif data_dir.exists() and any(data_dir.iterdir()):
        raise typer.BadParameter(f"{data_dir} is not empty; the demo needs a fresh directory")
    data_dir.mkdir(parents=True, exist_ok=True)
    # The demo always uses its own embedded database and broker, whatever the environment says.
    os.environ.pop("SAFEZONE_DATABASE_URL", None)
    os.environ.pop("SAFEZONE_MQTT_URL", None)
    settings = Settings(
        data_dir=data_dir, host=host, port=port, demo_mode=True, database_url=None,
        mqtt_url=None, **monitor_settings(),
    )
    if "mqtt_port" not in settings.model_fields_set:
        # Unless told otherwise, 1883 if free, else any free port: a Mosquitto already on
        # 1883 (common on a developer's machine and in CI) must not stop the demo.
        settings = settings.model_copy(
            update={"mqtt_port": preferred_port(settings.mqtt_bind, MQTT_PORT)}
        )
    password = (
        settings.demo_password.get_secret_value()
        if settings.demo_password
        else DEFAULT_DEMO_PASSWORD
    )
    notes: list[str] = []
    # Started first: Debian's python3 loads GStreamer while the database is migrated.
    started = start_cameras(notes.append)

    async def seed() -> tuple[CameraSimulator | None, object, list[SimBox]]:
        db = Database(settings.resolved_database_url)
        try:
            await upgrade(db)
            cameras = await asyncio.to_thread(ready_cameras, started, notes.append)
            stream_base = cameras.stream_base if cameras else None
            summary = await seed_demo(
                db, password=password, csv_dir=data_dir, stream_base=stream_base
            )
            boxes = await provision_demo_boxes(db, settings)
            return cameras, summary, boxes
        finally:
            await db.dispose()

    demo_boxes: DemoBoxes | None = None
    try:
        cameras, summary, boxes = asyncio.run(seed())
        demo_boxes = DemoBoxes(
            boxes, settings=settings, outbox=data_dir / "demo-boxes-outbox.db",
            press_port=preferred_port("127.0.0.1", PRESS_PORT), console=typer.echo,
        )
        demo_boxes.start()
        url = f"http://{host}:{port}/"
        typer.secho("SafeZone demo — synthetic data (ข้อมูลสังเคราะห์)", bold=True)
        typer.echo(f"  data directory: {data_dir}")
        typer.echo(f"  seeded: {summary}")
        if cameras is not None:
            describe(cameras, typer.echo)
        for note in notes:
            typer.echo(note)
        typer.echo(f"  MQTT broker (embedded): {demo_boxes.broker_url}")
        if boxes:
            codes = [b.code for b in boxes]
            example = "SOS-SADET" if "SOS-SADET" in codes else codes[0]
            typer.echo(f"  SOS boxes: {len(codes)} simulated agents ({', '.join(codes)})")
            typer.echo("  press a box's SOS button (through its agent, outbox and MQTT):")
            typer.echo(f"    curl -X POST '{demo_boxes.press_url}/press?box={example}'")
            typer.echo(f"    (also /cancel, /tamper, /self-test; GET /status?box={example})")
        typer.echo(f"  open:   {url}")
        typer.echo(f"  logins (password: {password}):")
        for username, role in getattr(summary, "users", []):
            typer.echo(f"    {username:<12} {role}")
        # uvicorn shuts down on these signals and then raises them again: end here, so the
        # finally below stops the simulator (no orphan process).
        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        try:
            app = create_app(settings)
            setattr(app.state, FREEZE_AFTER_START, True)
            freeze_heap()
            uvicorn.run(app, host=host, port=port, log_level="warning", **UVICORN_OPTIONS)
        except _Stopped:
            typer.echo("demo stopped")
    finally:
        if demo_boxes is not None:
            demo_boxes.stop()
        if started is not None:
            started.close()
