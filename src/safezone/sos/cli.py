"""``safezone box``: provision SOS boxes and write Mosquitto password/ACL files."""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from safezone.audit.service import Actor
from safezone.db.engine import Database
from safezone.settings import get_settings
from safezone.sos import mosquitto
from safezone.sos.provision import box_config, new_secret, provision_box, render_config

box_app = typer.Typer(help="SOS boxes: provisioning and broker files.", no_args_is_help=True)


class ConfigFormat(StrEnum):
    toml = "toml"
    json = "json"


PasswdOption = Annotated[
    Path | None,
    typer.Option("--mosquitto-passwd", help="Add/replace the entry in this Mosquitto passwd file."),
]
AclOption = Annotated[
    Path | None,
    typer.Option("--mosquitto-acl", help="Write the per-box Mosquitto ACL file here."),
]


@box_app.command("provision")
def provision(
    code: Annotated[str, typer.Argument(help="The box's code (e.g. SOS-SADET).")],
    broker_url: Annotated[
        str | None, typer.Option(help="Broker URL the box connects to (default from settings).")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the config here (mode 600).")
    ] = None,
    fmt: Annotated[ConfigFormat, typer.Option("--format", help="Config file format.")] = (
        ConfigFormat.toml
    ),
    mosquitto_passwd: PasswdOption = None,
    mosquitto_acl: AclOption = None,
) -> None:
    """Issue a new secret for a box (the old one stops working) and print its config once."""
    from safezone.cli import run_db

    settings = get_settings()

    async def job(db: Database) -> str:
        async with db.write() as session:
            _box, secret = await provision_box(
                session, code=code, actor=Actor(None, "cli"), settings=settings
            )
        return secret

    secret = run_db(settings, job)
    text = render_config(
        box_config(settings, code=code, secret=secret, broker_url=broker_url), fmt.value
    )
    if mosquitto_passwd is not None:
        mosquitto.set_password(mosquitto_passwd, code, secret)
        typer.echo(f"# {mosquitto_passwd}: entry for {code} written (send mosquitto SIGHUP)",
                   err=True)
    if mosquitto_acl is not None:
        mosquitto.write_acl(mosquitto_acl, settings.mqtt_topic_root, settings.mqtt_server_username)
        typer.echo(f"# {mosquitto_acl}: ACL written", err=True)
    if output is not None:
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        typer.echo(f"# box {code} provisioned; config written to {output}", err=True)
    else:
        typer.echo(text, nl=False)


@box_app.command("server-credential")
def server_credential(
    mosquitto_passwd: PasswdOption = None,
    mosquitto_acl: AclOption = None,
    host: Annotated[str, typer.Option(help="Broker host for the printed URL.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Broker port for the printed URL.")] = 1883,
) -> None:
    """Create the server's own Mosquitto user; prints the SAFEZONE_MQTT_URL to use (once)."""
    settings = get_settings()
    password = new_secret()
    user = settings.mqtt_server_username
    if mosquitto_passwd is not None:
        mosquitto.set_password(mosquitto_passwd, user, password)
    if mosquitto_acl is not None:
        mosquitto.write_acl(mosquitto_acl, settings.mqtt_topic_root, user)
    typer.echo(f"SAFEZONE_MQTT_URL=mqtt://{user}:{password}@{host}:{port}")
