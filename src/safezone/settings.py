"""Configuration, read from ``SAFEZONE_*`` environment variables (and an optional ``.env``).

Secrets never live in the repository: the key that encrypts camera credentials comes from
``SAFEZONE_CREDENTIALS_KEY``, from the file named by ``SAFEZONE_CREDENTIALS_KEY_FILE``
(Docker/systemd credentials), or is generated once into the data directory with owner-only
permissions. Database passwords belong in ``SAFEZONE_DATABASE_URL`` in the environment.
"""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from safezone.sos.protocol import IceServer


class Settings(BaseSettings):
    """Every SafeZone setting; the environment variable is ``SAFEZONE_`` + the field name."""

    model_config = SettingsConfigDict(
        env_prefix="SAFEZONE_", env_file=".env", extra="ignore", validate_default=True
    )

    data_dir: Path = Field(
        default=Path("./safezone-data"),
        title="Data directory",
        description="Where the embedded database, generated secrets and evidence live.",
    )
    database_url: str | None = Field(
        default=None,
        title="Database URL",
        description=(
            "SQLAlchemy async URL. Empty: SQLite (WAL) in the data directory. "
            "PostgreSQL: postgresql+asyncpg://user:pass@host:5432/db."
        ),
    )
    host: str = Field(default="127.0.0.1", title="Listen address", description="HTTP bind address.")
    port: int = Field(default=8080, ge=1, le=65535, title="Listen port", description="HTTP port.")
    base_url: str | None = Field(
        default=None,
        title="Public URL",
        description="URL people use to reach the console (printed by the demo).",
    )
    credentials_key: SecretStr | None = Field(
        default=None,
        title="Camera credentials key",
        description=(
            "Fernet key (urlsafe base64, 32 bytes) that encrypts camera passwords at rest. "
            "Prefer SAFEZONE_CREDENTIALS_KEY_FILE; generated into the data directory if unset."
        ),
    )
    credentials_key_file: Path | None = Field(
        default=None,
        title="Camera credentials key file",
        description="File holding the Fernet key for camera credentials.",
    )
    cookie_secure: bool = Field(
        default=False,
        title="Secure cookies",
        description="Send session cookies only over HTTPS. Turn on behind TLS.",
    )
    session_hours: float = Field(
        default=12.0, gt=0, title="Session length (h)", description="Web session lifetime."
    )
    token_hours: float = Field(
        default=8.0, gt=0, title="Token lifetime (h)", description="Bearer token lifetime."
    )
    login_max_failures: int = Field(
        default=5,
        ge=1,
        title="Failed logins before throttling",
        description="Failures per username or per client address within the window.",
    )
    login_window_seconds: int = Field(
        default=900, ge=1, title="Throttle window (s)", description="Window for counting failures."
    )
    login_block_seconds: int = Field(
        default=300,
        ge=1,
        title="Throttle block (s)",
        description="First block length; doubles with each further failure, capped at a day.",
    )
    default_language: Literal["th", "en"] = Field(
        default="th", title="Default language", description="UI language for new visitors."
    )
    tile_url: str | None = Field(
        default=None,
        title="Map tile URL",
        description=(
            "Optional raster tile template, e.g. https://tile.openstreetmap.org/{z}/{x}/{y}.png. "
            "Empty: vector layers on a plain background (works with no internet)."
        ),
    )
    tile_attribution: str = Field(
        default="© OpenStreetMap contributors",
        title="Tile attribution",
        description="Attribution shown with the tile layer.",
    )
    max_zone_area_km2: float = Field(
        default=50.0, gt=0, title="Largest zone (km²)", description="Larger zones are refused."
    )
    demo_password: SecretStr | None = Field(
        default=None,
        title="Demo password",
        description="Password of the demo accounts (default: a fixed, printed demo password).",
    )
    demo_mode: bool = Field(
        default=False,
        title="Demo mode",
        description="Show a 'synthetic demo data' banner. Set by `safezone demo`.",
    )
    camera_import_max_bytes: int = Field(
        default=10 * 1024 * 1024,
        ge=1024,
        title="Largest camera import file (bytes)",
        description="CSV/XLSX camera lists above this size are refused (upload and CLI).",
    )
    camera_import_max_rows: int = Field(
        default=20_000,
        ge=1,
        title="Most rows in a camera import",
        description="A camera list with more data rows is refused as a whole.",
    )
    log_level: str = Field(default="info", title="Log level", description="Python log level.")

    # --- SOS-box device link (MQTT) -------------------------------------------------------
    mqtt_url: str | None = Field(
        default=None,
        title="External MQTT broker",
        description=(
            "mqtt://user:password@host:1883 of an external broker (Mosquitto, EMQX). "
            "Empty: the server runs its own embedded broker (authentication on)."
        ),
    )
    mqtt_bind: str = Field(
        default="127.0.0.1",
        title="Embedded broker address",
        description="Address the embedded MQTT broker listens on (0.0.0.0 for boxes on the LAN).",
    )
    mqtt_port: int = Field(
        default=1883,
        ge=0,
        le=65535,
        title="Embedded broker port",
        description="TCP port of the embedded MQTT broker (0: any free port, for tests).",
    )
    mqtt_topic_root: str = Field(
        default="safezone/v1",
        pattern=r"^[A-Za-z0-9_\-]+(/[A-Za-z0-9_\-]+)*$",
        title="MQTT topic root",
        description="Prefix of every SOS-box topic: {root}/box/{box code}/event and so on.",
    )
    mqtt_server_username: str = Field(
        default="safezone-server",
        title="Server's MQTT user",
        description="User name the server's own client uses (no box may have this code).",
    )
    device_link_enabled: bool = Field(
        default=True,
        title="Device link",
        description="Connect to the MQTT broker and take SOS-box events (off: HTTP only).",
    )
    device_link_workers: int = Field(
        default=0,
        ge=0,
        le=64,
        title="Event workers",
        description=(
            "Parallel writers of box events (one box's events always in the same one). "
            "0 = 1: events are batched per transaction, which is what gives throughput; "
            "parallel writers on PostgreSQL contend on the alarm correlation's row updates "
            "(deadlocks are retried, but cost time)."
        ),
    )
    box_heartbeat_s: float = Field(
        default=30.0,
        gt=0,
        title="Box heartbeat interval (s)",
        description="How often a box sends its heartbeat (written into provisioned configs).",
    )
    box_offline_after_s: float = Field(
        default=75.0,
        gt=0,
        title="Box silent before offline (s)",
        description="A box with no heartbeat or event for this long is marked offline.",
    )
    box_offline_alert_s: float = Field(
        default=60.0,
        ge=0,
        title="Offline alert delay (s)",
        description="Raise an alert once a box has been offline this long.",
    )
    box_low_battery_pct: float = Field(
        default=20.0,
        ge=0,
        le=100,
        title="Low battery (%)",
        description="Raise an alert below this charge; cleared 5 points above it.",
    )
    box_health_flush_s: float = Field(
        default=1.0,
        gt=0,
        title="Health write interval (s)",
        description="Heartbeats are coalesced per box and written in one batch this often.",
    )
    box_self_test_days: str = Field(
        default="mon,thu",
        pattern=r"^(mon|tue|wed|thu|fri|sat|sun)(,(mon|tue|wed|thu|fri|sat|sun))*$",
        title="Self-test days",
        description="Weekdays (Asia/Bangkok) on which every box is told to test itself.",
    )
    box_self_test_time: str = Field(
        default="03:00",
        pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$",
        title="Self-test time",
        description="Local time (Asia/Bangkok, HH:MM) of the scheduled self-tests.",
    )

    # --- Camera health monitor --------------------------------------------------------------
    camera_monitor_enabled: bool = Field(
        default=True,
        title="Camera health monitor",
        description=(
            "Probe linked cameras, check their pictures and raise offline/tamper alerts. Run it "
            "in ONE process per deployment: with several app processes, set this to false on "
            "all but one (two monitors would double the probes and the status writes)."
        ),
    )
    camera_probe_interval_s: float = Field(
        default=30.0,
        gt=0,
        title="Camera probe interval (s)",
        description="A healthy camera is probed (RTSP OPTIONS + DESCRIBE) this often (±20 %).",
    )
    camera_frame_check_interval_s: float = Field(
        default=300.0,
        gt=0,
        title="Camera picture check interval (s)",
        description="An online camera's picture is decoded this often: snapshot and tamper check.",
    )
    camera_offline_alert_s: float = Field(
        default=60.0,
        ge=0,
        title="Camera offline alert delay (s)",
        description="Raise an alert once a camera has been offline or unauthorized this long.",
    )
    camera_backoff_s: list[float] = Field(
        default=[1.0, 5.0, 10.0, 60.0],
        min_length=1,
        title="Camera retry back-off (s)",
        description=(
            "Waits before re-probing a failing camera, one per consecutive failure, the last "
            "repeated (each ±20 % jitter). JSON list in the environment: [1,5,10,60]."
        ),
    )
    camera_probe_timeout_s: float = Field(
        default=5.0,
        gt=0,
        title="Camera probe timeout (s)",
        description="A probe or picture grab with no answer in this time counts as offline.",
    )
    camera_probes_in_flight: int = Field(
        default=64,
        ge=1,
        title="Camera probes at once",
        description="Most RTSP probes open at the same time (protects small RTSP servers/NVRs).",
    )
    camera_frame_checks_in_flight: int = Field(
        default=2,
        ge=1,
        title="Camera picture decodes at once",
        description="Most picture checks decoding at the same time (each uses a CPU core).",
    )
    camera_monitor_refresh_s: float = Field(
        default=5.0,
        gt=0,
        title="Camera list refresh (s)",
        description="How often the monitor re-reads the camera list (new, changed, removed).",
    )
    camera_health_flush_s: float = Field(
        default=1.0,
        gt=0,
        title="Camera health write interval (s)",
        description="Health changes are collected and written in one transaction this often.",
    )

    # --- Live view -------------------------------------------------------------------------
    live_grace_s: float = Field(
        default=10.0,
        ge=0,
        title="Live view grace period (s)",
        description=(
            "A camera's shared stream stays open this long after its last viewer leaves, so a "
            "page reload or a wall layout change reuses it instead of reconnecting."
        ),
    )
    live_policy_recheck_s: float = Field(
        default=15.0,
        gt=0,
        title="Live view policy re-check (s)",
        description=(
            "A running view is checked against role and the owner's policy this often, so it "
            "ends when the alarm that allowed it closes or the owner stops sharing."
        ),
    )
    live_snapshot_max_age_s: float = Field(
        default=15.0,
        gt=0,
        title="Snapshot freshness (s)",
        description=(
            "The health monitor's snapshot is served while younger than this; an older one "
            "makes the snapshot route grab a frame from the camera instead."
        ),
    )

    # --- Evidence clips ----------------------------------------------------------------------
    evidence_max_clip_minutes: float = Field(
        default=30.0,
        gt=0,
        le=240,
        title="Longest evidence clip (min)",
        description="A clip request for a longer window is refused.",
    )
    evidence_retention_days: int = Field(
        default=30,
        ge=1,
        title="Evidence retention (days)",
        description=(
            "Clips are purged this many days after they were requested, unless attached to an "
            "incident that is not closed yet. The database row and audit trail are kept."
        ),
    )
    evidence_buffer_max_seconds: int = Field(
        default=120,
        ge=0,
        title="Longest rolling buffer (s)",
        description="Caps a camera's buffer_seconds (the pre-roll kept in memory for clips).",
    )
    evidence_max_active_clips: int = Field(
        default=32,
        ge=1,
        title="Clips recording at once",
        description=(
            "Most clips pending or recording at one time (each live one holds a camera "
            "connection); further requests are refused until some finish."
        ),
    )
    evidence_buffer_memory_mb: int = Field(
        default=256,
        ge=1,
        title="Rolling buffer memory (MB)",
        description="Memory shared by all cameras' rolling buffers; split evenly between them.",
    )

    # --- Alarms (SOS pipeline) -----------------------------------------------------------
    alarm_ack_timeout_s: float = Field(
        default=15.0,
        gt=0,
        title="Alarm acknowledgement timeout (s)",
        description=(
            "An SOS alarm nobody has acknowledged this long after it was raised (or after its "
            "last escalation) is escalated: every console is alerted again and supervisors "
            "are notified. NENA asks 90 % of calls answered within 15 s."
        ),
    )
    alarm_escalation_max: int = Field(
        default=20,
        ge=1,
        title="Escalations per alarm",
        description="An unanswered alarm is escalated at most this many times.",
    )
    alarm_attach_window_s: float = Field(
        default=600.0,
        ge=0,
        title="Alarm attach window (s)",
        description=(
            "A new alarm from a box joins the box's open incident when that incident had an "
            "alarm within this time, instead of opening another incident."
        ),
    )
    alarm_correlation_radius_m: float = Field(
        default=200.0,
        gt=0,
        title="Nearby-alarm radius (m)",
        description="Other alarms this close (and within the correlation window) are linked.",
    )
    alarm_correlation_window_s: float = Field(
        default=600.0,
        gt=0,
        title="Nearby-alarm window (s)",
        description="Other alarms this close in time (and within the radius) are linked.",
    )
    alarm_camera_fallback_m: float = Field(
        default=100.0,
        gt=0,
        title="Nearest-camera radius (m)",
        description=(
            "When no camera's recorded field of view holds an alarm's box, the cameras within "
            "this distance are offered instead, nearest first."
        ),
    )
    power_cut_window_s: float = Field(
        default=120.0,
        gt=0,
        title="Power-cut window (s)",
        description=(
            "Boxes of one zone reporting mains power lost within this time are counted "
            "together for the area power-cut alert."
        ),
    )
    power_cut_min_boxes: int = Field(
        default=3,
        ge=2,
        title="Boxes for an area power cut",
        description=(
            "This many boxes of one zone losing power within the window fold into one area "
            "alert instead of one alert per box."
        ),
    )

    # --- Two-way calls (operator console <-> SOS box, WebRTC) --------------------------------
    webrtc_ice_servers: list[IceServer] = Field(
        default=[],
        title="STUN/TURN servers for calls",
        description=(
            'JSON list of RTCIceServer objects, e.g. [{"urls": "stun:stun.example.org:3478"}, '
            '{"urls": "turn:turn.example.org:3478", "username": "u", "credential": "p"}]. '
            "Given to the console and, in each offer, to the box. Empty: host candidates "
            "only, enough when consoles and boxes share a network."
        ),
    )
    webrtc_turn_urls: list[Annotated[str, Field(pattern=r"^turns?:[^\s]+$")]] = Field(
        default=[],
        title="TURN server with short-lived credentials",
        description=(
            'TURN URLs of a server sharing SAFEZONE_WEBRTC_TURN_SECRET (coturn: use-auth-secret, '
            'static-auth-secret), e.g. ["turn:turn.example.org:3478?transport=udp"]. Each '
            "console and box gets its own credentials per call, valid for the call setup "
            "timeout plus the longest call plus 5 minutes."
        ),
    )
    webrtc_turn_secret: SecretStr | None = Field(
        default=None,
        title="TURN shared secret",
        description="The secret shared with the TURN server (prefer the _FILE form).",
    )
    webrtc_turn_secret_file: Path | None = Field(
        default=None,
        title="TURN shared secret file",
        description="File holding the TURN shared secret.",
    )
    call_answer_timeout_s: float = Field(
        default=20.0,
        gt=0,
        title="Box answer timeout (s)",
        description="A box that has not answered a call offer this long after it was sent is "
        "reported as not answering and the call ends.",
    )
    call_setup_timeout_s: float = Field(
        default=90.0,
        gt=0,
        title="Call setup timeout (s)",
        description="A call not connected this long after the operator pressed Answer ends "
        "(covers the browser's microphone prompt, the box's answer and connecting).",
    )
    call_max_duration_s: float = Field(
        default=3600.0,
        gt=0,
        title="Longest call (s)",
        description="A call is ended by the server after this long.",
    )

    @model_validator(mode="after")
    def _turn_has_a_secret(self) -> Settings:
        if self.webrtc_turn_urls and self.webrtc_turn_secret is None \
                and self.webrtc_turn_secret_file is None:
            raise ValueError("SAFEZONE_WEBRTC_TURN_URLS needs SAFEZONE_WEBRTC_TURN_SECRET or "
                             "SAFEZONE_WEBRTC_TURN_SECRET_FILE (the TURN server's shared secret)")
        return self

    @property
    def resolved_turn_secret(self) -> str | None:
        """The TURN shared secret (environment or file); None without TURN URLs. The file is
        read at each call, so a secret rotated on the TURN server and in the file applies to
        the next call without a restart."""
        if not self.webrtc_turn_urls:
            return None
        if self.webrtc_turn_secret is not None:
            return self.webrtc_turn_secret.get_secret_value()
        assert self.webrtc_turn_secret_file is not None  # noqa: S101 - the validator saw to it
        return self.webrtc_turn_secret_file.read_text(encoding="utf-8").strip()

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to SQLite in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'safezone.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    def resolved_credentials_key(self) -> str:
        """The Fernet key for camera credentials (environment, file, or generated once)."""
        return self._secret(
            self.credentials_key, self.credentials_key_file, "credentials.key", _fernet_key
        )

    def _secret(
        self, value: SecretStr | None, file: Path | None, name: str, make: Callable[[], str]
    ) -> str:
        if value is not None:
            return value.get_secret_value()
        if file is not None:
            return file.read_text(encoding="utf-8").strip()
        path = self.data_dir / name
        if path.exists():
            return path.read_text(encoding="utf-8").strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = make()
        # O_EXCL so two processes starting together cannot overwrite each other's key.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text(encoding="utf-8").strip()
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(key)
        return key


def _fernet_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii")


@dataclass(frozen=True)
class SettingDoc:
    env: str
    title: str
    default: str
    description: str


def settings_reference() -> list[SettingDoc]:
    """Every setting as documentation rows (secrets show no default)."""
    rows = []
    for name, field in Settings.model_fields.items():
        default = field.default
        shown = "(generated)" if "key" in name and default is None else str(default)
        rows.append(SettingDoc(f"SAFEZONE_{name.upper()}", field.title or name, shown,
                               field.description or ""))
    return rows


def settings_markdown() -> str:
    """docs/configuration.md: every setting as a Markdown table (generated, kept in sync)."""
    lines = [
        "# Configuration",
        "",
        "Every setting is an environment variable (or a line in `.env`). Generated by",
        "`safezone config --markdown > docs/configuration.md`; a test keeps it in sync.",
        "",
        "| Environment variable | Setting | Default | Meaning |",
        "|---|---|---|---|",
    ]
    for row in settings_reference():
        lines.append(f"| `{row.env}` | {row.title} | `{row.default}` | {row.description} |")
    return "\n".join(lines) + "\n"


@lru_cache
def get_settings() -> Settings:
    """Process-wide settings (tests build their own ``Settings`` and pass them to the app)."""
    return Settings()
