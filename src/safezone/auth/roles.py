"""The roles people hold in a station's safe-zone programme."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    admin = "admin"
    supervisor = "supervisor"
    operator = "operator"
    patrol = "patrol"
    partner = "partner"
    viewer = "viewer"


ALL_ROLES: frozenset[Role] = frozenset(Role)
# Station staff: everyone who works for the police station itself.
STAFF: frozenset[Role] = frozenset({Role.admin, Role.supervisor, Role.operator, Role.patrol})
# Who may change the zone, partners and assets.
EDITORS: frozenset[Role] = frozenset({Role.admin, Role.supervisor})
