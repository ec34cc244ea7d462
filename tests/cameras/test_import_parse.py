"""Reading camera spreadsheets without a database: headers in Thai or English, the encodings
Thai Excel users produce, XLSX, row numbers as the spreadsheet shows them, and per-cell errors."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from safezone.cameras.bulk_import import ImportFileError, read_sheet, safe_cell
from safezone.cameras.import_columns import COLUMNS, normalise_header
from safezone.i18n import translate
from tests.cameras.registry_support import ENGLISH, SECRET, THAI, csv_bytes, row


def _issues(sheet: Any, number: int) -> list[tuple[str | None, str]]:
    found = next(r for r in sheet.rows if r.number == number)
    return [(i.field, i.code) for i in found.issues]


def test_english_headers() -> None:
    data = csv_bytes(ENGLISH, [
        row("CAM-1", "กล้องหน้าตลาด", url="rtsp://192.0.2.1/1", user="u", password=SECRET,
            owner="Test Shop"),
        row("CAM-2", "กล้องท่าน้ำ", 6.43, 101.82, bearing="", fov="", range_m=""),
    ])
    sheet = read_sheet(data, "cams.csv")
    assert (sheet.format, sheet.encoding, sheet.header_row, sheet.ignored) == (
        "csv", "utf-8-sig", 1, [])
    first, second = sheet.rows
    assert first.number == 2 and first.code == "CAM-1" and first.owner == "Test Shop"
    assert first.values == {
        "code": "CAM-1", "name_th": "กล้องหน้าตลาด", "lat": 6.4255, "lon": 101.8231,
        "bearing_deg": 90.0, "fov_deg": 80.0, "range_m": 40.0,
        "stream_url": "rtsp://192.0.2.1/1", "username": "u", "password": SECRET,
    }
    assert first.issues == []
    # Blank cells are simply not there (an update leaves those values alone).
    assert set(second.values) == {"code", "name_th", "lat", "lon"} and second.owner is None


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8", "cp874", "tis-620", "utf-16"])
def test_thai_headers_in_every_encoding_thai_excel_writes(encoding: str) -> None:
    delimiter = "\t" if encoding == "utf-16" else ","  # Excel's "Unicode text" is tab-separated
    data = csv_bytes(THAI, [row("๑๐๑", "กล้องแยกเสด็จ", bearing="๑๘๐", owner="ร้านทดสอบ")],
                     encoding=encoding, delimiter=delimiter)
    sheet = read_sheet(data, "กล้อง.csv")
    assert sheet.columns["external_id"] == "รหัส" and sheet.columns["password"] == "รหัสผ่าน"
    assert sheet.encoding == {"utf-8": "utf-8-sig", "tis-620": "cp874"}.get(encoding, encoding)
    (only,) = sheet.rows
    assert only.issues == []
    assert only.values["name_th"] == "กล้องแยกเสด็จ" and only.owner == "ร้านทดสอบ"
    assert only.code == "๑๐๑"  # the code is kept as written...
    assert only.values["bearing_deg"] == 180.0  # ...numbers read Thai digits


def test_semicolons_units_synonyms_and_decimal_commas() -> None:
    header = ["Camera ID", "Name (TH)", "Name (EN)", "Latitude", "Longitude", "Bearing (°)",
              "FOV (deg)", "Range (m)", "ความสูง (ม.)", "PTZ", "การแบ่งปัน", "Sub stream",
              "Colour"]
    data = csv_bytes(header, [
        ["C-1", "กล้อง", "Cam", "6,4255", "101,8231", "90°", "80 deg", "2,500", "4 m", "ใช่",
         "ขออนุญาต", "rtsp://192.0.2.1/sub", "red"],
        ["C-2", "กล้อง 2", "", "6.4", "101.8", "", "", "", "", "no", "Always", "", ""],
    ], delimiter=";")
    sheet = read_sheet(data, "x.csv")
    assert sheet.ignored == ["Colour"]
    b = sheet.rows[1]
    # "2,500" reads as 2500 m (thousands separator): over the 2 km limit, reported by header.
    assert _issues(sheet, 2) == [("Range (m)", "less_than_equal")]
    assert b.issues == []
    assert b.values["ptz"] is False and b.values["sharing_policy"] == "always"
    fixed = read_sheet(data.replace(b"2,500", b"120"), "x.csv").rows[0]
    assert fixed.issues == []
    assert fixed.values == {
        "code": "C-1", "name_th": "กล้อง", "name_en": "Cam", "lat": 6.4255, "lon": 101.8231,
        "bearing_deg": 90.0, "fov_deg": 80.0, "range_m": 120.0, "height_m": 4.0, "ptz": True,
        "sharing_policy": "on_request", "sub_stream_url": "rtsp://192.0.2.1/sub",
    }


def test_bad_cells_are_reported_by_the_header_the_file_uses() -> None:
    data = csv_bytes(THAI, [
        row("OK-1", "ดี"),
        row("BAD-1", "พิกัดผิด", lat=96.0, bearing="ทิศเหนือ"),
        row("BAD-2", "", url=f"ftp://u:{SECRET}@192.0.2.1/x"),
        row("", "ไม่มีรหัส"),
        row("OK-1", "ซ้ำ"),
        row("BAD 3", "มีช่องว่าง"),
    ])
    sheet = read_sheet(data, "x.csv")
    assert _issues(sheet, 2) == []
    assert _issues(sheet, 3) == [("ละติจูด", "less_than_equal"), ("ทิศทาง", "float_parsing")]
    assert _issues(sheet, 4) == [("ลิงก์สตรีม", "stream_url")]
    assert _issues(sheet, 5) == [("รหัส", "missing")]
    assert _issues(sheet, 6) == [("รหัส", "duplicate_in_file")]
    assert _issues(sheet, 7) == [("รหัส", "string_pattern_mismatch")]
    dup = next(r for r in sheet.rows if r.number == 6).issues[0]
    assert translate(dup.key, "en", **dup.params) == (
        'external_id "OK-1" appears twice in the file (first in row 2).')
    lat = next(r for r in sheet.rows if r.number == 3).issues[0]
    assert translate(lat.key, "th", **lat.params).startswith("ละติจูด:")
    url = next(r for r in sheet.rows if r.number == 4).issues[0]
    assert SECRET not in str(url.params) and SECRET not in translate(url.key, "en", **url.params)


def test_xlsx_with_a_title_row_gaps_and_typed_cells() -> None:
    wb = Workbook()
    ws = wb.active
    ws.append(["ทะเบียนกล้อง CCTV เทศบาลเมืองนราธิวาส"])  # a title above the table
    ws.append([])
    ws.append(THAI + ["PTZ"])
    ws.append([101, "กล้อง 101", 6.4255, 101.8231, 45, 90, 60, None, None, None, None, True])
    ws.append([])  # a gap the reader must count
    ws.append(["=A4&\"-X\"", "สูตร", 6.42, 101.82])  # a formula never calculated: no value
    ws.append([102, "กล้อง 102", "north", 101.82, None, None, None, None, None, 123456])
    out = io.BytesIO()
    wb.save(out)
    sheet = read_sheet(out.getvalue(), "cams.xlsx")
    assert (sheet.format, sheet.header_row) == ("xlsx", 3)
    assert [r.number for r in sheet.rows] == [4, 6, 7]
    first = sheet.rows[0]
    assert first.code == "101" and first.values["ptz"] is True and first.issues == []
    assert first.values["bearing_deg"] == 45
    assert _issues(sheet, 6) == [("รหัส", "missing")]  # values are read, formulas never run
    assert _issues(sheet, 7) == [("ละติจูด", "float_parsing")]
    assert sheet.rows[2].values == {} and sheet.rows[2].owner is None


@pytest.mark.parametrize("data,name,code", [
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), "old.xls", "xls_not_supported"),
    (b"PK\x03\x04 not really a zip", "x.xlsx", "unreadable_xlsx"),
    (b"name,lat\nx,1\n", "x.xlsx", "unreadable_xlsx"),
    (b"\x81\x8d\xfc\xfd\xfe\xff" * 10, "x.csv", "unreadable_encoding"),
    (b"\x00\x01\x02 binary", "x.csv", "unreadable_encoding"),
    ("ชื่อ,ละติจูด\nก,1\n".encode(), "x.csv", "no_header"),
    (b"", "x.csv", "no_header"),
    # An unclosed quote swallows the rest of a big file into one cell: too large to read.
    (b'external_id,name\nA,"unclosed ' + b"x" * 140_000, "x.csv", "unreadable_csv"),
])
def test_unusable_files(data: bytes, name: str, code: str) -> None:
    with pytest.raises(ImportFileError) as info:
        read_sheet(data, name)
    assert info.value.code == code
    key = f"problem.camera_import.{code}"
    assert translate(key, "th", **info.value.params) != key


def test_row_limit_and_trailing_blank_rows() -> None:
    rows = [row(f"C-{i}", f"กล้อง {i}") for i in range(5)]
    assert len(read_sheet(csv_bytes(ENGLISH, rows), "x.csv", max_rows=5).rows) == 5
    with pytest.raises(ImportFileError) as info:
        read_sheet(csv_bytes(ENGLISH, rows), "x.csv", max_rows=4)
    assert info.value.code == "too_many_rows" and info.value.params == {"max": 4}
    padded = csv_bytes(ENGLISH, rows + [[""] * 11] * 3000)
    assert len(read_sheet(padded, "x.csv", max_rows=5).rows) == 5


def test_formula_cells_are_neutralised_when_echoed() -> None:
    for value in ("=1+2", "+1", "-1", "@SUM(A1)", "\tx"):
        assert safe_cell(value).startswith("'")
    assert safe_cell("CAM-1") == "CAM-1" and safe_cell(None) == ""
    sheet = read_sheet(csv_bytes(["external_id", "=cmd|' /C calc'!A0", "name"],
                                 [["A", "x", "กล้อง"]]), "x.csv")
    assert sheet.ignored == ["'=cmd|' /C calc'!A0"]


def test_every_documented_header_is_recognised() -> None:
    for column in COLUMNS:
        for header in column.headers:
            assert normalise_header(header) == header, header  # listed in normalised form
        assert any(not h.isascii() for h in column.headers), f"{column.key} has no Thai header"
    assert normalise_header(" Range (m) ") == "range_m"
    assert normalise_header("ระยะ (ม.)") == "ระยะ_ม"
    assert normalise_header("\ufeffExternal-ID") == "external_id"


_THAI_TEXT = st.text(
    alphabet=st.sampled_from("กขคงจฉชซญดตถทนบปผพฟภมยรลวศษสหอฮะาำิีึืุูเแโใไ่้๊๋็์ abcXYZ019,\"'\n"),
    min_size=1, max_size=60,
).filter(lambda s: s.strip() != "")


@settings(max_examples=60, deadline=None)
@given(names=st.lists(_THAI_TEXT, min_size=1, max_size=8),
       encoding=st.sampled_from(["utf-8-sig", "cp874", "utf-16"]))
def test_any_thai_name_survives_the_round_trip(names: list[str], encoding: str) -> None:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["รหัส", "ชื่อ", "ละติจูด", "ลองจิจูด"])
    for index, name in enumerate(names):
        writer.writerow([f"C-{index}", name, "6.42", "101.82"])
    sheet = read_sheet(out.getvalue().encode(encoding), "x.csv")
    assert [r.values.get("name_th") for r in sheet.rows] == [n.strip() for n in names]
    # Quoted cells with line breaks are one row each: numbering follows records.
    assert [r.number for r in sheet.rows] == list(range(2, len(names) + 2))
