"""The ``safezone`` command: init, serve, user, zone, audit, demo."""

from __future__ import annotations

import asyncio
import getpass
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from safezone.audit.service import Actor, Verdict, verify
from safezone.auth.roles import Role
from safezone.cameras.cli import camera_app
from safezone.db.engine import Database
from safezone.db.migrate import upgrade
from safezone.evidence.cli import evidence_app
from safezone.i18n import translate
from safezone.problems import Problem
from safezone.settings import Settings, get_settings
from safezone.sim.cli import sim_app
from safezone.sos.cli import box_app

T = TypeVar("T")

app = typer.Typer(help="SafeZone: command platform for a Smart Safety Zone.", no_args_is_help=True)
user_app = typer.Typer(help="Manage accounts.", no_args_is_help=True)
zone_app = typer.Typer(help="Manage safe zones.", no_args_is_help=True)
audit_app = typer.Typer(help="Check the audit chain.", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(zone_app, name="zone")
app.add_typer(audit_app, name="audit")
app.add_typer(camera_app, name="camera")
app.add_typer(evidence_app, name="evidence")
app.add_typer(box_app, name="box")
app.add_typer(sim_app, name="sim")


def _lang() -> str:
    env = os.environ.get("SAFEZONE_LANG") or os.environ.get("LANG", "")
    return "th" if env.lower().startswith("th") else "en"


def fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    return typer.Exit(code)


def run_db(settings: Settings, job: Callable[[Database], Awaitable[T]]) -> T:
    """Run ``job`` against a migrated database; Problems become readable CLI errors."""

    async def main() -> T:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        db = Database(settings.resolved_database_url)
        try:
            await upgrade(db)
            return await job(db)
        finally:
            await db.dispose()

    try:
        return asyncio.run(main())
    except Problem as exc:
        raise fail(translate(f"problem.{exc.code}", _lang(), **exc.params)) from None


@app.command()
def init() -> None:
    """Create the data directory and apply database migrations."""
    settings = get_settings()

    async def job(db: Database) -> None:
        return None

    run_db(settings, job)
    typer.echo(f"database ready: {_safe_url(settings.resolved_database_url)}")


def _safe_url(url: str) -> str:
    # Never print a password that sits in the URL.
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':')[0]}:***@{host}"
    return url


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default from settings).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default from settings).")] = None,
) -> None:
    """Run the server (migrations are applied on start)."""
    import uvicorn

    from safezone.app import FREEZE_AFTER_START, UVICORN_OPTIONS, create_app, freeze_heap

    settings = get_settings()
    if host:
        settings.host = host
    if port:
        settings.port = port
    app = create_app(settings)
    setattr(app.state, FREEZE_AFTER_START, True)
    freeze_heap()
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
        **UVICORN_OPTIONS,
    )


@user_app.command("add")
def user_add(
    username: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[Role, typer.Option(help="Role of the account.")] = Role.operator,
    display_name: Annotated[str | None, typer.Option(help="Name shown in the console.")] = None,
    organisation_id: Annotated[int | None, typer.Option(help="Organisation (partners).")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Add an account. The password is asked for (or read from stdin), never an argument."""
    from safezone.auth.service import create_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat: ") != password:
            raise fail("the passwords differ")

    async def job(db: Database) -> int:
        async with db.write() as session:
            user = await create_user(
                session,
                actor=Actor(None, "cli"),
                username=username,
                password=password,
                role=role,
                display_name=display_name,
                organisation_id=organisation_id,
            )
            return user.id

    user_id = run_db(get_settings(), job)
    typer.echo(f"user #{user_id} {username} ({role.value}) added")


@zone_app.command("import")
def zone_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="GeoJSON, KML or KMZ.")],
    name_th: Annotated[str | None, typer.Option(help="Thai name (default: from the file).")] = None,
    name_en: Annotated[str | None, typer.Option(help="English name.")] = None,
    station_id: Annotated[int | None, typer.Option(help="Station the zone belongs to.")] = None,
) -> None:
    """Import a safe zone boundary and report its area on the WGS84 ellipsoid."""
    from safezone.geo.errors import GeometryError
    from safezone.geo.zone_import import load_zone_file
    from safezone.zones.schemas import ZoneCreate
    from safezone.zones.service import create_zone, geometry_problem

    settings = get_settings()
    data = file.read_bytes()
    try:
        imported = load_zone_file(data, file.name)
        body = ZoneCreate(
            name_th=name_th or imported.name_th or imported.name_en or file.stem,
            name_en=name_en or imported.name_en or "",
            station_id=station_id,
            description=imported.description,
            geometry=imported.geometry,
        )
    except GeometryError as exc:
        problem = geometry_problem(exc)
        raise fail(translate(f"problem.{problem.code}", _lang(), **problem.params)) from None

    async def job(db: Database) -> tuple[int, float]:
        async with db.write() as session:
            zone = await create_zone(
                session,
                actor=Actor(None, "cli"),
                data=body,
                max_area_km2=settings.max_zone_area_km2,
                auto_close=imported.source_format == "kml",
                source=f"cli:{file.name}",
            )
            return zone.id, zone.area_km2

    zone_id, area = run_db(settings, job)
    typer.echo(f"zone #{zone_id} '{body.name_th}' imported: {area:.4f} km² (WGS84 ellipsoid)")


@audit_app.command("verify")
def audit_verify() -> None:
    """Walk the audit chain; exit 1 naming the first entry that was edited, removed or moved."""

    async def job(db: Database) -> Verdict:
        async with db.session() as session:
            return await verify(session)

    verdict = run_db(get_settings(), job)
    if not verdict.ok:
        raise fail(f"audit chain broken at entry #{verdict.bad_id}: {verdict.reason}")
    typer.echo(f"audit chain intact: {verdict.checked} entries, head {verdict.head_hash}")


@app.command()
def demo(
    port: Annotated[int, typer.Option(help="HTTP port.")] = 8080,
    host: Annotated[str, typer.Option(help="Bind address.")] = "127.0.0.1",
    data_dir: Annotated[
        Path | None, typer.Option(help="Fresh data directory (default: a new temporary one).")
    ] = None,
) -> None:
    """Create a fresh data directory, seed the synthetic Bang Nak demo and serve it."""
    from safezone.demo.runner import run_demo

    run_demo(host=host, port=port, data_dir=data_dir)


@app.command("config")
def config_reference(
    markdown: Annotated[bool, typer.Option(help="Print a Markdown table (for the docs).")] = False,
) -> None:
    """List every setting: environment variable, default and meaning."""
    from safezone.settings import settings_markdown, settings_reference

    if markdown:
        typer.echo(settings_markdown(), nl=False)
        return
    for row in settings_reference():
        typer.echo(f"{row.env}\n    {row.title} (default {row.default}): {row.description}")


def main() -> None:
    app()
