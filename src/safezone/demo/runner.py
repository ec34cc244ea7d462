"""`safezone demo`: fresh data directory, synthetic seed, server, printed logins."""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

import typer
import uvicorn

from safezone.db.engine import Database
from safezone.db.migrate import upgrade
from safezone.settings import Settings

DEFAULT_DEMO_PASSWORD = "safezone-demo"  # noqa: S105 - a published demo password, by design


def run_demo(*, host: str, port: int, data_dir: Path | None) -> None:
    """Seed a fresh demo and serve it until interrupted."""
    from safezone.app import create_app
    from safezone.demo.seed import seed_demo

    if data_dir is None:
        data_dir = Path(tempfile.mkdtemp(prefix="safezone-demo-"))
    elif data_dir.exists() and any(data_dir.iterdir()):
        raise typer.BadParameter(f"{data_dir} is not empty; the demo needs a fresh directory")
    data_dir.mkdir(parents=True, exist_ok=True)
    # The demo always uses its own embedded database, whatever the environment says.
    os.environ.pop("SAFEZONE_DATABASE_URL", None)
    settings = Settings(data_dir=data_dir, host=host, port=port, demo_mode=True, database_url=None)
    password = (
        settings.demo_password.get_secret_value()
        if settings.demo_password
        else DEFAULT_DEMO_PASSWORD
    )

    async def seed() -> object:
        db = Database(settings.resolved_database_url)
        try:
            await upgrade(db)
            return await seed_demo(db, password=password, csv_dir=data_dir)
        finally:
            await db.dispose()

    summary = asyncio.run(seed())
    url = f"http://{host}:{port}/"
    typer.secho("SafeZone demo — synthetic data (ข้อมูลสังเคราะห์)", bold=True)
    typer.echo(f"  data directory: {data_dir}")
    typer.echo(f"  seeded: {summary}")
    typer.echo(f"  open:   {url}")
    typer.echo(f"  logins (password: {password}):")
    for username, role in getattr(summary, "users", []):
        typer.echo(f"    {username:<12} {role}")
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")
