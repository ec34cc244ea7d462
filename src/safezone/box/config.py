"""The box agent's configuration: a TOML or JSON file as printed by ``safezone box provision``,
plus optional keys for the hardware this box has."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from safezone import __version__
from safezone.sos.protocol import BoxCode


class GpioPins(BaseModel):
    """BCM pin numbers (Raspberry Pi) of what is wired; unset: not wired."""

    model_config = ConfigDict(extra="forbid")

    button: int | None = Field(default=None, description="SOS button (to ground, pull-up).")
    cancel: int | None = Field(default=None, description="Cancel button.")
    tamper: int | None = Field(default=None, description="Enclosure tamper switch.")
    door: int | None = Field(default=None, description="Service door switch.")
    mains: int | None = Field(default=None, description="Mains-present signal (high = on).")
    light: int | None = Field(default=None, description="'Help is coming' light.")
    strobe: int | None = Field(default=None, description="Strobe relay.")
    siren: int | None = Field(default=None, description="Siren relay.")


class BoxConfig(BaseModel):
    """Everything the agent needs; only the first four come from provisioning."""

    model_config = ConfigDict(extra="forbid")

    box_code: BoxCode
    secret: SecretStr
    broker_url: str = Field(default="mqtt://127.0.0.1:1883", pattern=r"^mqtts?://")
    topic_root: str = "safezone/v1"
    heartbeat_s: float = Field(default=30.0, gt=0)
    data_dir: Path = Field(default=Path("./safezone-box"), description="Outbox lives here.")
    outbox_path: Path | None = Field(default=None, description="Default: data_dir/outbox.db.")
    # "full" survives a power cut mid-write; "normal" survives a crash (enough for simulation).
    outbox_sync: Literal["full", "normal"] = "full"
    client_id: str | None = Field(default=None, max_length=128)
    persistent_session: bool = Field(
        default=False,
        description="Ask the broker to queue commands while the box is away (best effort).",
    )
    resend_initial_s: float = Field(default=2.0, gt=0)
    resend_max_s: float = Field(default=60.0, gt=0)
    reconnect_initial_s: float = Field(default=1.0, gt=0)
    reconnect_max_s: float = Field(default=60.0, gt=0)
    power_report_jitter_s: float = Field(
        default=30.0, ge=0, description="Power-loss reports wait a random 0..this many seconds."
    )
    http_port: int | None = Field(
        default=8765, ge=0, le=65535, description="Local press endpoint on 127.0.0.1 (None: off)."
    )
    firmware: str = Field(default=f"safezone-box/{__version__}", max_length=40)
    gpio: GpioPins | None = None
    camera: str | None = Field(
        default=None, description="V4L2 device (/dev/video0) or rtsp:// URL, for calls."
    )
    audio_required: bool = Field(
        default=False, description="Self-test fails when no audio device is present."
    )
    # Two-way calls (safezone.box.call): WebRTC with aiortc.
    calls: bool = Field(default=True, description="Answer the command centre's calls (WebRTC).")
    microphone: str | None = Field(
        default=None, description="ALSA capture device for calls ('default', 'hw:1,0'); "
        "unset: a generated tone."
    )
    speaker: str | None = Field(
        default=None, description="ALSA playback device for the operator's voice; unset: "
        "received audio is counted and dropped."
    )
    video_size: str = Field(
        default="640x360", pattern=r"^[1-9][0-9]{1,3}x[1-9][0-9]{1,3}$",
        description="Call video size (camera request and test pattern).",
    )
    video_fps: float = Field(default=15.0, gt=0, le=60, description="Call video frame rate.")
    call_max_s: float = Field(default=1800.0, gt=0, description="A call ends after this long.")

    @property
    def resolved_outbox(self) -> Path:
        return self.outbox_path or self.data_dir / "outbox.db"

    @property
    def resolved_client_id(self) -> str:
        return self.client_id or f"box-{self.box_code}"

    def broker(self) -> tuple[str, int, bool]:
        """(host, port, tls) from ``broker_url``."""
        url = urlsplit(self.broker_url)
        tls = url.scheme == "mqtts"
        return url.hostname or "127.0.0.1", url.port or (8883 if tls else 1883), tls


def load_config(path: Path) -> BoxConfig:
    """Read a TOML (or, for a .json name, JSON) config file."""
    text = path.read_text(encoding="utf-8")
    data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    return BoxConfig.model_validate(data)
