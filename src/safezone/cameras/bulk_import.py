"""Reading and checking a camera spreadsheet (CSV or XLSX): pure, no database.

``read_sheet(data, filename)`` finds the header row, maps Thai or English headers to fields
(``import_columns``), and checks every row against the camera schema. It returns every row with
its problems, numbered as the spreadsheet program shows them (the header is usually row 1), so
people can find and fix them. A file that cannot be used at all raises ``ImportFileError``.

CSV encodings: UTF-8 with or without BOM, UTF-16 (Excel's "Unicode text"), and TIS-620 /
Windows-874, which Thai Excel produces by default. Delimiters: comma, semicolon, tab or pipe.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from dataclasses import field as _field
from typing import Any, Literal

from pydantic import ValidationError

from safezone.cameras.import_columns import (
    BY_KEY,
    FALSE_WORDS,
    HEADER_INDEX,
    POLICY_WORDS,
    TRUE_WORDS,
    normalise_header,
)
from safezone.cameras.schemas import CameraUpdate

DEFAULT_MAX_ROWS = 20_000
_HEADER_SCAN_ROWS = 20
_BLANK_RUN_LIMIT = 1000  # stop after this many empty rows in a row (formatted-but-empty sheets)
_NUMERIC = frozenset({"lat", "lon", "bearing_deg", "fov_deg", "range_m", "height_m",
                      "alarm_radius_m", "buffer_seconds"})
_THAI_DIGITS = str.maketrans("๐๑๒๓๔๕๖๗๘๙", "0123456789")
_UNIT_SUFFIX = re.compile(r"\s*(°|องศา|deg|เมตร|ม\.|m|วินาที|s|sec)\s*$", re.IGNORECASE)
_THOUSANDS = re.compile(r"^-?\d{1,3}(,\d{3})+(\.\d+)?$")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


class ImportFileError(Exception):
    """The file as a whole cannot be imported; ``code`` picks ``problem.camera_import.<code>``."""

    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(f"{code} {params}")
        self.code = code
        self.params = params


@dataclass(frozen=True)
class RowIssue:
    """One problem in one row: ``key`` is the message key, ``params`` fill it in."""

    field: str | None  # the column header as written in the file (None: the whole row)
    code: str
    key: str
    params: dict[str, Any] = _field(default_factory=dict)


@dataclass
class SheetRow:
    number: int  # as the spreadsheet program numbers it
    code: str | None  # external_id
    values: dict[str, Any]  # CameraCreate/Update fields from the non-blank cells, typed
    owner: str | None
    name: str | None = None  # the Thai name as written, shown in reports even for bad rows
    issues: list[RowIssue] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)  # schema field -> header in the file


@dataclass
class Sheet:
    format: Literal["csv", "xlsx"]
    encoding: str | None
    header_row: int
    columns: dict[str, str]  # canonical column -> header as written
    ignored: list[str]
    rows: list[SheetRow]


def safe_cell(value: object) -> str:
    """A cell value safe to echo into a report that may be opened in a spreadsheet: text that a
    spreadsheet would run as a formula gets a leading apostrophe."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def decode_csv(data: bytes) -> tuple[str, str]:
    """The text and the encoding it was read with."""
    candidates: tuple[str, ...]
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        candidates = ("utf-16",)
    else:
        # utf-8-sig reads plain UTF-8 too; cp874 is TIS-620 plus Windows' extra characters.
        candidates = ("utf-8-sig", "cp874")
    for encoding in candidates:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:
            break  # a binary file that happened to decode
        return text, encoding
    raise ImportFileError("unreadable_encoding")


def _delimiter(text: str) -> str:
    first = next((line for line in text.splitlines() if line.strip()), "")
    counts = {d: first.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _csv_rows(text: str) -> Iterator[tuple[int, list[Any]]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    try:
        # A record is one spreadsheet row even when a quoted cell spans several lines.
        for number, record in enumerate(reader, start=1):
            yield number, list(record)
    except csv.Error as exc:
        raise ImportFileError("unreadable_csv", detail=str(exc)[:200]) from None


def _xlsx_rows(data: bytes) -> Iterator[tuple[int, list[Any]]]:
    # Imported here: only XLSX uploads pay for it. (openpyxl ships no type stubs.)
    from openpyxl import load_workbook  # type: ignore[import-untyped]

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError) as exc:
        raise ImportFileError("unreadable_xlsx", detail=type(exc).__name__) from None
    try:
        sheet = workbook.worksheets[0]
        # Read-only mode yields empty tuples for missing rows, so numbering stays true.
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, list(values)
    finally:
        workbook.close()


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # 101.0 from a numeric cell is camera "101"
    return str(value).strip()


def _number(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    text = _UNIT_SUFFIX.sub("", _text(value).translate(_THAI_DIGITS)).strip()
    if _THOUSANDS.match(text):
        text = text.replace(",", "")
    elif text.count(",") == 1 and "." not in text:
        text = text.replace(",", ".")  # a decimal comma
    return text  # pydantic turns it into a number or reports it


def _word(value: Any, table: dict[str, str] | None, truthy: bool = False) -> Any:
    if isinstance(value, bool):
        return value
    word = normalise_header(_text(value))
    if truthy:
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        return _text(value)
    return (table or {}).get(word, _text(value))


def _find_header(rows: Iterator[tuple[int, list[Any]]]) -> tuple[int, list[Any]]:
    for number, cells in rows:
        known = {HEADER_INDEX.get(normalise_header(_text(c))) for c in cells if not _blank(c)}
        known.discard(None)
        if "external_id" in known and len(known) >= 2:
            return number, cells
        if number >= _HEADER_SCAN_ROWS:
            break
    raise ImportFileError("no_header")


def _map_columns(header: list[Any]) -> tuple[dict[int, str], dict[str, str], list[str]]:
    by_index: dict[int, str] = {}
    written: dict[str, str] = {}
    ignored: list[str] = []
    for index, cell in enumerate(header):
        if _blank(cell):
            continue
        key = HEADER_INDEX.get(normalise_header(_text(cell)))
        if key is None or key in written:
            ignored.append(safe_cell(_text(cell)))
            continue
        by_index[index] = key
        written[key] = _text(cell)
    return by_index, written, ignored


def _row(number: int, cells: list[Any], by_index: dict[int, str], written: dict[str, str]
         ) -> SheetRow:
    raw: dict[str, Any] = {}
    labels: dict[str, str] = {}
    owner: str | None = None
    for index, key in by_index.items():
        value = cells[index] if index < len(cells) else None
        if _blank(value):
            continue
        column = BY_KEY[key]
        if column.field is None:
            owner = _text(value)
            labels["owner"] = written[key]
            continue
        if key == "name" and "name_th" in raw:
            continue  # an explicit name_th column wins over name
        if column.field in _NUMERIC:
            value = _number(value)
        elif column.field == "ptz":
            value = _word(value, None, truthy=True)
        elif column.field == "sharing_policy":
            value = _word(value, POLICY_WORDS)
        else:
            value = _text(value)
        raw[column.field] = value
        labels[column.field] = written[key]
    code = raw.get("code")
    name = raw.get("name_th")
    row = SheetRow(number=number, code=str(code) if code is not None else None, values={},
                   owner=owner, name=str(name) if name is not None else None, labels=labels)
    if code is None:
        row.issues.append(RowIssue(written.get("external_id"), "missing", "validation.missing",
                                   {"field": written.get("external_id", "external_id")}))
    try:
        row.values = CameraUpdate.model_validate(raw).model_dump(exclude_unset=True)
    except ValidationError as exc:
        row.issues.extend(validation_issues(exc, labels))
    return row


def validation_issues(exc: ValidationError, labels: dict[str, str]) -> list[RowIssue]:
    """Pydantic errors as row issues named by the file's own headers."""
    issues = []
    for err in exc.errors():
        name = str(err["loc"][0]) if err["loc"] else ""
        label = labels.get(name, name)
        ctx = {k: v for k, v in (err.get("ctx") or {}).items() if isinstance(v, str | int | float)}
        kind = str(err["type"])
        issues.append(RowIssue(label, kind, f"validation.{kind}", {**ctx, "field": label}))
    return issues


def read_sheet(data: bytes, filename: str, *, max_rows: int = DEFAULT_MAX_ROWS) -> Sheet:
    """Read and check a CSV or XLSX camera list (see the module docstring)."""
    encoding: str | None = None
    if data.startswith(b"PK\x03\x04"):
        fmt: Literal["csv", "xlsx"] = "xlsx"
        rows = _xlsx_rows(data)
    elif data.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportFileError("xls_not_supported")
    else:
        if filename.lower().endswith((".xlsx", ".xlsm")):
            raise ImportFileError("unreadable_xlsx", detail="not a zip archive")
        fmt = "csv"
        text, encoding = decode_csv(data)
        rows = _csv_rows(text)
    header_row, header = _find_header(rows)
    by_index, written, ignored = _map_columns(header)
    out: list[SheetRow] = []
    blank_run = 0
    first_seen: dict[str, int] = {}
    for number, cells in rows:
        if all(_blank(c) for c in cells):
            blank_run += 1
            if blank_run >= _BLANK_RUN_LIMIT:
                break
            continue
        blank_run = 0
        if len(out) >= max_rows:
            raise ImportFileError("too_many_rows", max=max_rows)
        row = _row(number, cells, by_index, written)
        if row.code is not None:
            if row.code in first_seen:
                row.issues.append(RowIssue(written["external_id"], "duplicate_in_file",
                                           "camera_import.row.duplicate_in_file",
                                           {"code": safe_cell(row.code),
                                            "first": first_seen[row.code]}))
            else:
                first_seen[row.code] = number
        out.append(row)
    return Sheet(fmt, encoding, header_row, written, ignored, out)
