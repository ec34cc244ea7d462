"""Provisioning: a fresh 256-bit secret per box, stored hashed, and the box's config file.

The secret is shown once (in the config printed for the box) and only its SHA-256 is kept in
``SosBox.secret_hash``; provisioning again replaces it, which locks out the old one.
"""

from __future__ import annotations

import json
import secrets
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from safezone.audit.service import Actor, record
from safezone.db.base import utcnow
from safezone.problems import Problem
from safezone.settings import Settings
from safezone.sos.broker import hash_secret
from safezone.sos.models import SosBox
from safezone.sos.protocol import BOX_CODE_RE


def new_secret() -> str:
    """256 random bits, URL-safe (fits an MQTT password and a TOML string as is)."""
    return secrets.token_urlsafe(32)


async def provision_box(
    session: AsyncSession, *, code: str, actor: Actor, settings: Settings
) -> tuple[SosBox, str]:
    """Give box ``code`` a new secret; returns the box and the secret (shown once)."""
    if not BOX_CODE_RE.match(code):
        raise Problem(422, "box_code_not_topic_safe", code=code)
    if code == settings.mqtt_server_username:
        raise Problem(409, "box_code_reserved", code=code)
    box = await session.scalar(select(SosBox).where(SosBox.code == code))
    if box is None:
        raise Problem(404, "sos_box_not_found", code=code)
    secret = new_secret()
    box.secret_hash = hash_secret(secret)
    box.provisioned_at = utcnow()
    await record(
        session,
        actor=actor,
        action="sos_box.provision",
        entity_type="sos_box",
        entity_id=box.id,
        details={"code": code},  # never the secret, nor its hash
    )
    return box, secret


def default_broker_url(settings: Settings) -> str:
    """Where a box should connect: the external broker's host, or the embedded one's."""
    if settings.mqtt_url:
        url = urlsplit(settings.mqtt_url)
        scheme = "mqtts" if url.scheme == "mqtts" else "mqtt"
        return f"{scheme}://{url.hostname}:{url.port or (8883 if scheme == 'mqtts' else 1883)}"
    host = settings.mqtt_bind if settings.mqtt_bind not in ("0.0.0.0", "", "::") else (  # noqa: S104
        urlsplit(settings.base_url).hostname if settings.base_url else "127.0.0.1"
    )
    return f"mqtt://{host}:{settings.mqtt_port}"


def box_config(
    settings: Settings, *, code: str, secret: str, broker_url: str | None = None
) -> dict[str, Any]:
    """The agent's configuration (see ``safezone.box.config.BoxConfig``)."""
    return {
        "box_code": code,
        "secret": secret,
        "broker_url": broker_url or default_broker_url(settings),
        "topic_root": settings.mqtt_topic_root,
        "heartbeat_s": settings.box_heartbeat_s,
    }


def render_config(config: dict[str, Any], fmt: str = "toml") -> str:
    """The config as TOML (flat keys) or JSON."""
    if fmt == "json":
        return json.dumps(config, indent=2, ensure_ascii=False) + "\n"
    lines = ["# SafeZone SOS box agent configuration. Keep it secret: it holds the box's key."]
    for key, value in config.items():
        # A JSON string or number is also a valid TOML basic string or number.
        lines.append(f"{key} = {json.dumps(value, ensure_ascii=False)}")
    return "\n".join(lines) + "\n"
