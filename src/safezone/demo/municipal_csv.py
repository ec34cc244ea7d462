"""The demo municipality's camera list as the spreadsheet its staff would hand over: Thai
headers, one row per pole. The demo seed imports it through the ordinary camera importer, so the
demo exercises the same path a real municipality's file takes."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from safezone.demo.data import AssetSpec

FILENAME = "municipal-cameras.csv"
HEADERS = ("รหัส", "ชื่อ", "ชื่อภาษาอังกฤษ", "ละติจูด", "ลองจิจูด", "ทิศทาง", "มุมมอง", "ระยะ",
           "ความสูง", "กล้องหมุน", "ลิงก์สตรีม", "เจ้าของ", "หมายเหตุ")


def municipal_csv(
    cameras: Sequence[AssetSpec], *, owner_name: str, stream_base: str | None = None
) -> str:
    """The list as CSV text. Linked cameras get ``{stream_base}/{code}`` as their stream when a
    (simulated) stream source is given; without one every camera stays registered, because no
    real stream exists to point at."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # what Excel writes
    writer.writerow(HEADERS)
    for spec in cameras:
        v = spec.values
        linked = bool(stream_base) and spec.linked
        url = f"{(stream_base or '').rstrip('/')}/{v['code'].lower()}" if linked else ""
        writer.writerow([
            # repr() of a float reads back as exactly the same float: the seed stays exact.
            v["code"], v["name_th"], v["name_en"], repr(v["lat"]), repr(v["lon"]),
            v["bearing_deg"], v["fov_deg"], v["range_m"], v["height_m"],
            "ใช่" if v["ptz"] else "ไม่ใช่", url, owner_name, v["notes"],
        ])
    return out.getvalue()
