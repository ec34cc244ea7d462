"""Synthetic demo data for `safezone demo`: a plausible but invented safe zone in central
Mueang Narathiwat, its partners, cameras, SOS boxes, checkpoints and one login per role.

Nothing in it is real; the zone and every asset are flagged ``synthetic``.
"""

from safezone.demo.seed import (
    DEMO_USERS,
    DemoAlreadyPresent,
    DemoSummary,
    demo_present,
    seed_demo,
)

__all__ = ["DEMO_USERS", "DemoAlreadyPresent", "DemoSummary", "demo_present", "seed_demo"]
