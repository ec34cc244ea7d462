"""The registry of point-asset kinds: one entry drives the CRUD API, the map layer and import."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from safezone.assets import schemas as s
from safezone.assets.models import PointAsset, RiskPoint, StreetLight
from safezone.auth.service import Principal
from safezone.cameras.models import Camera
from safezone.cameras.registry import prepare_camera
from safezone.cameras.schemas import CameraCreate, CameraOut, CameraUpdate
from safezone.patrol.models import Checkpoint
from safezone.patrol.schemas import CheckpointCreate, CheckpointOut, CheckpointUpdate
from safezone.settings import Settings
from safezone.sos.models import SosBox
from safezone.sos.schemas import SosBoxCreate, SosBoxOut, SosBoxUpdate


class PrepareValues(Protocol):
    """Turns a kind's validated input into column values, in place, before a create
    (``current`` is None) or an update; may raise ``Problem``."""

    def __call__(
        self,
        values: dict[str, Any],
        *,
        who: Principal,
        current: PointAsset | None,
        settings: Settings | None,
    ) -> None: ...


@dataclass(frozen=True)
class AssetKind:
    name: str  # entity name used in audit entries and messages
    path: str  # URL segment and map layer name
    model: type[PointAsset]
    create: type[s.AssetCreate]
    update: type[s.AssetUpdate]
    out: type[s.AssetOut]
    title_th: str
    title_en: str
    color: str
    # Extra columns shown on the map (beyond id, code, names, zone, organisation).
    properties: tuple[str, ...] = ()
    # Input fields that are not columns as they are (e.g. camera credentials to seal).
    prepare: PrepareValues | None = None
    # Columns whose values never enter the audit chain: it records only that they changed.
    secret_columns: frozenset[str] = frozenset()
    # Output fields only editors and the owner's own people see (e.g. where a stream lives:
    # a URL to a camera without a password would bypass the owner's sharing policy).
    owner_only_fields: frozenset[str] = frozenset()


KINDS: tuple[AssetKind, ...] = (
    AssetKind(
        "camera",
        "cameras",
        Camera,
        CameraCreate,
        CameraUpdate,
        CameraOut,
        "กล้องวงจรปิด",
        "CCTV cameras",
        "#1f77b4",
        ("status", "tier", "bearing_deg", "fov_deg", "range_m", "ptz"),
        prepare=prepare_camera,
        secret_columns=frozenset({"credentials_enc"}),
        owner_only_fields=frozenset({"stream_url", "sub_stream_url"}),
    ),
    AssetKind(
        "sos_box",
        "sos_boxes",
        SosBox,
        SosBoxCreate,
        SosBoxUpdate,
        SosBoxOut,
        "ตู้ SOS ฉุกเฉิน",
        "SOS boxes",
        "#d62728",
        ("status", "address", "has_camera"),
    ),
    AssetKind(
        "checkpoint",
        "checkpoints",
        Checkpoint,
        CheckpointCreate,
        CheckpointUpdate,
        CheckpointOut,
        "จุดตรวจ (ตู้แดง)",
        "Patrol checkpoints",
        "#9467bd",
        ("visit_interval_min", "qr_label"),
    ),
    AssetKind(
        "risk_point",
        "risk_points",
        RiskPoint,
        s.RiskPointCreate,
        s.RiskPointUpdate,
        s.RiskPointOut,
        "จุดเสี่ยง / จุดสังเกต",
        "Risk points / landmarks",
        "#ff7f0e",
        ("kind", "category", "risk_level"),
    ),
    AssetKind(
        "street_light",
        "street_lights",
        StreetLight,
        s.StreetLightCreate,
        s.StreetLightUpdate,
        s.StreetLightOut,
        "ไฟส่องสว่าง",
        "Street lights",
        "#bcbd22",
        ("working", "pole_number"),
    ),
)
BY_PATH: dict[str, AssetKind] = {k.path: k for k in KINDS}
