"""All REST routes under /api/v1."""

from __future__ import annotations

from fastapi import APIRouter

from safezone.alarms.api import router as alarms_router
from safezone.assets.api import routers as asset_routers
from safezone.audit.api import router as audit_router
from safezone.auth.api import router as auth_router
from safezone.calls.api import router as calls_router
from safezone.cameras.coverage_api import router as coverage_router
from safezone.cameras.health_api import router as camera_health_router
from safezone.cameras.live_api import router as live_router
from safezone.cameras.registry_api import router as camera_registry_router
from safezone.cameras.walls import router as wall_layouts_router
from safezone.evidence.api import router as evidence_router
from safezone.incidents.api import router as incidents_router
from safezone.layers.api import router as layers_router
from safezone.live.api import router as console_live_router
from safezone.orgs.api import router as orgs_router
from safezone.sos.api import router as sos_router
from safezone.zones.api import router as zones_router

api_router = APIRouter()
for _router in (
    auth_router,
    zones_router,
    orgs_router,
    layers_router,
    audit_router,
    # Before the asset routers: /cameras/seeing must not be read as /cameras/{asset_id}.
    coverage_router,
    camera_registry_router,
    camera_health_router,
    live_router,
    wall_layouts_router,
    evidence_router,
    alarms_router,
    calls_router,
    incidents_router,
    console_live_router,
    sos_router,
    *asset_routers,
):
    api_router.include_router(_router)
