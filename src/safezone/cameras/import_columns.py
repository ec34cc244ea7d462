"""The columns a camera spreadsheet may have, with the Thai and English headers accepted for each,
and the words accepted for yes/no and sharing-policy cells.

Headers are matched after normalising: lower case, and spaces, brackets, dots, dashes and
slashes turned into ``_`` (so ``Range (m)`` reads as ``range_m`` and ``ระยะ (ม.)`` as
``ระยะ_ม``). The upload page and docs/camera-import.md show this table to the people who fill in
the spreadsheets.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    key: str  # canonical column name (the first English header)
    field: str | None  # CameraCreate field it fills (None: handled separately, e.g. owner)
    headers: tuple[str, ...]  # every accepted header, normalised
    help_th: str
    help_en: str


COLUMNS: tuple[Column, ...] = (
    Column("external_id", "code",
           ("external_id", "externalid", "id", "code", "camera_id", "camera_code", "cam_id",
            "รหัส", "รหัสกล้อง", "หมายเลขกล้อง", "เลขที่กล้อง", "เลขกล้อง"),
           "รหัสกล้องของเจ้าของ (ใช้จับคู่เมื่อนำเข้าซ้ำ)",
           "The owner's camera number (re-imports update by it)"),
    Column("name", "name_th",
           ("name", "camera_name", "ชื่อ", "ชื่อกล้อง", "จุดติดตั้ง", "ชื่อจุดติดตั้ง"),
           "ชื่อกล้อง (ภาษาไทย)", "Camera name (Thai)"),
    Column("name_th", "name_th",
           ("name_th", "thai_name", "ชื่อภาษาไทย", "ชื่อ_ไทย", "ชื่อไทย"),
           "ชื่อภาษาไทย (แทนคอลัมน์ชื่อ)", "Thai name (instead of name)"),
    Column("name_en", "name_en",
           ("name_en", "english_name", "ชื่อภาษาอังกฤษ", "ชื่อ_อังกฤษ", "ชื่ออังกฤษ"),
           "ชื่อภาษาอังกฤษ", "English name"),
    Column("lat", "lat", ("lat", "latitude", "ละติจูด", "ลติจูด", "ละติจูต"),
           "ละติจูด (WGS84 เช่น 6.4255)", "Latitude (WGS84, e.g. 6.4255)"),
    Column("lon", "lon", ("lon", "lng", "long", "longitude", "ลองจิจูด", "ลองติจูด"),
           "ลองจิจูด (WGS84 เช่น 101.8231)", "Longitude (WGS84, e.g. 101.8231)"),
    Column("bearing", "bearing_deg",
           ("bearing", "bearing_deg", "direction", "heading", "azimuth",
            "ทิศทาง", "ทิศ", "ทิศทางกล้อง", "มุมทิศ", "ทิศทาง_องศา"),
           "ทิศที่กล้องหัน องศาตามเข็มนาฬิกาจากทิศเหนือ (0–359)",
           "Direction the camera faces, degrees clockwise from north (0–359)"),
    Column("fov", "fov_deg",
           ("fov", "fov_deg", "field_of_view", "view_angle",
            "มุมมอง", "มุมมอง_องศา", "มุมกว้าง", "องศาการมอง"),
           "มุมมองแนวนอน (องศา)", "Horizontal field of view (degrees)"),
    Column("range_m", "range_m",
           ("range_m", "range", "distance", "ระยะ", "ระยะ_ม", "ระยะมองเห็น", "ระยะการมองเห็น",
            "ระยะมองเห็น_ม"),
           "ระยะที่มองเห็นได้ชัด (เมตร)", "Useful viewing range (metres)"),
    Column("height_m", "height_m",
           ("height_m", "height", "mount_height", "ความสูง", "ความสูง_ม", "ความสูงติดตั้ง"),
           "ความสูงที่ติดตั้ง (เมตร)", "Mounting height (metres)"),
    Column("ptz", "ptz", ("ptz", "is_ptz", "กล้องหมุน", "หมุนได้"),
           "กล้องหมุนได้ (ใช่/ไม่ใช่)", "Pan-tilt-zoom camera (yes/no)"),
    Column("stream_url", "stream_url",
           ("stream_url", "stream", "url", "rtsp", "rtsp_url", "main_stream",
            "ลิงก์สตรีม", "ลิงค์สตรีม", "ลิงก์", "ลิงค์", "ที่อยู่สตรีม", "สตรีม"),
           "ลิงก์สตรีมหลัก rtsp:// หรือ http(s):// (มีลิงก์ = กล้องเชื่อมต่อแล้ว)",
           "Main stream rtsp:// or http(s):// URL (a URL makes the camera linked)"),
    Column("sub_stream_url", "sub_stream_url",
           ("sub_stream_url", "sub_stream", "substream", "sub_url",
            "ลิงก์สตรีมรอง", "ลิงค์สตรีมรอง", "สตรีมรอง"),
           "ลิงก์สตรีมรอง (ความละเอียดต่ำ)", "Sub-stream URL (low resolution)"),
    Column("username", "username", ("username", "user", "login", "user_name", "ชื่อผู้ใช้", "ผู้ใช้"),
           "ชื่อผู้ใช้สำหรับสตรีม (เก็บแบบเข้ารหัส)", "Stream login (stored encrypted)"),
    Column("password", "password", ("password", "pass", "pwd", "รหัสผ่าน"),
           "รหัสผ่านสตรีม (เก็บแบบเข้ารหัส ไม่แสดงกลับ)",
           "Stream password (stored encrypted, never shown)"),
    Column("owner", None,
           ("owner", "organisation", "organization", "org", "owner_id",
            "เจ้าของ", "หน่วยงาน", "หน่วยงานเจ้าของ", "เจ้าของกล้อง"),
           "หน่วยงานเจ้าของ: ชื่อไทย ชื่ออังกฤษ หรือเลขที่", "Owner organisation: Thai or "
           "English name, or id"),
    Column("sharing_policy", "sharing_policy",
           ("sharing_policy", "sharing", "policy", "การแบ่งปัน", "นโยบายการแบ่งปัน",
            "การเข้าถึง", "นโยบาย"),
           "การแบ่งปันภาพ: เสมอ / เมื่อมีเหตุ / ขออนุญาต / ปิด",
           "Sharing: always / on_alarm / on_request / off"),
    Column("alarm_radius_m", "alarm_radius_m",
           ("alarm_radius_m", "alarm_radius", "รัศมีเหตุ", "รัศมีเหตุ_ม", "รัศมีแจ้งเหตุ"),
           "รัศมีเหตุ (เมตร) สำหรับ 'เมื่อมีเหตุ'", "Alarm radius (m) for on_alarm"),
    Column("buffer_seconds", "buffer_seconds",
           ("buffer_seconds", "buffer", "บัฟเฟอร์", "บัฟเฟอร์_วินาที"),
           "บันทึกภาพย้อนหลังสำหรับคลิป (วินาที 0–300)", "Pre-record buffer for clips (s, 0–300)"),
    Column("notes", "notes", ("notes", "note", "remarks", "comment", "หมายเหตุ"),
           "หมายเหตุ", "Notes"),
)
BY_KEY: dict[str, Column] = {c.key: c for c in COLUMNS}

_SEPARATORS = re.compile(r"[\s\-–—()\[\]{}.,:;/\\°'\"#*]+")


def normalise_header(text: str) -> str:
    """``Range (m)`` → ``range_m``; Thai stays Thai (its vowel marks are not separators)."""
    text = unicodedata.normalize("NFC", text).replace("\ufeff", "").strip().lower()
    return _SEPARATORS.sub("_", text).strip("_")


HEADER_INDEX: dict[str, str] = {h: c.key for c in COLUMNS for h in c.headers}

TRUE_WORDS = frozenset({"yes", "y", "true", "t", "1", "ptz", "ใช่", "มี", "หมุนได้", "ได้", "✓"})
FALSE_WORDS = frozenset(
    {"no", "n", "false", "f", "0", "fixed", "ไม่", "ไม่ใช่", "ไม่มี", "คงที่", "ไม่ได้", "✗"}
)
POLICY_WORDS: dict[str, str] = {
    **dict.fromkeys(("always", "เสมอ", "ตลอดเวลา", "แชร์เสมอ", "เปิด"), "always"),
    **dict.fromkeys(("on_alarm", "alarm", "เมื่อมีเหตุ", "เฉพาะเมื่อมีเหตุ", "มีเหตุ"), "on_alarm"),
    **dict.fromkeys(
        ("on_request", "request", "ขออนุญาต", "ต้องขออนุญาต", "เมื่อร้องขอ", "ร้องขอ"), "on_request"
    ),
    **dict.fromkeys(("off", "none", "never", "ปิด", "ไม่แชร์", "ไม่เปิดเผย"), "off"),
}
