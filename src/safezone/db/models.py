"""Imports every ORM model so that ``Base.metadata`` is complete (Alembic, tests)."""

from safezone.alarms.models import Alarm
from safezone.alerts.models import Alert
from safezone.assets.models import RiskPoint, StreetLight
from safezone.audit.models import AuditEntry, AuditHead
from safezone.auth.models import AuthToken, LoginThrottle, User
from safezone.cameras.models import Camera, CameraAccessRequest, CameraStatusChange, WallLayout
from safezone.db.base import Base
from safezone.evidence.models import Clip
from safezone.incidents.models import Call, Incident, IncidentEvent
from safezone.orgs.models import Contact, Organisation
from safezone.patrol.models import Checkpoint
from safezone.sos.models import BoxEvent, SosBox
from safezone.zones.models import Station, Zone

__all__ = [
    "Alarm",
    "BoxEvent",
    "Call",
    "IncidentEvent",
    "Alert",
    "CameraAccessRequest",
    "CameraStatusChange",
    "Clip",
    "Incident",
    "WallLayout",
    "AuditEntry",
    "AuditHead",
    "AuthToken",
    "Base",
    "Camera",
    "Checkpoint",
    "Contact",
    "LoginThrottle",
    "Organisation",
    "RiskPoint",
    "SosBox",
    "Station",
    "StreetLight",
    "User",
    "Zone",
]
