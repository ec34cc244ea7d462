"""Import of a zone from an uploaded file (GeoJSON, KML or KMZ).

This module only turns bytes into a raw GeoJSON geometry plus names; checking the
geometry is ``validate_zone_geometry``'s job so both the upload and the draw-on-map
paths go through the same rules.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, Final, Literal

from .errors import GeometryError
from .kml import is_zip, parse_kml_or_kmz
from .zone_geometry import check_single_polygon, extract_zone_feature

MAX_IMPORT_BYTES: Final = 10 * 1024 * 1024
_THAI: Final = re.compile("[\u0e00-\u0e7f]")
_UTF8_BOM: Final = b"\xef\xbb\xbf"
_GEOJSON_EXTENSIONS: Final = frozenset({".geojson", ".json"})
_KML_EXTENSIONS: Final = frozenset({".kml", ".kmz"})

SourceFormat = Literal["geojson", "kml"]


@dataclass(frozen=True, slots=True)
class ImportedZone:
    """Names and raw (unvalidated) GeoJSON geometry read from an uploaded file."""

    name_th: str | None
    name_en: str | None
    description: str | None
    geometry: dict[str, Any]
    # KML authors routinely leave rings open, so callers may want auto_close=True
    # for "kml" sources while staying strict for GeoJSON (RFC 7946 requires closure).
    source_format: SourceFormat = "geojson"


def contains_thai(text: str) -> bool:
    """Return True if the text contains any character of the Thai Unicode block."""
    return _THAI.search(text) is not None


def _clean(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value or None


def _split_name(
    name: str | None, name_th: str | None, name_en: str | None
) -> tuple[str | None, str | None]:
    # A generic name fills whichever language slot its script indicates, without
    # overriding an explicit name_th / name_en.
    if name is not None:
        if contains_thai(name):
            name_th = name_th or name
        else:
            name_en = name_en or name
    return name_th, name_en


def _detect_format(data: bytes, filename: str) -> SourceFormat:
    extension = PurePath(filename).suffix.lower()
    if extension in _GEOJSON_EXTENSIONS:
        return "geojson"
    if extension in _KML_EXTENSIONS:
        return "kml"  # parse_kml_or_kmz sniffs zip itself, so a mislabelled KMZ works
    if is_zip(data):
        return "kml"
    head = data.removeprefix(_UTF8_BOM).lstrip()[:1]
    if head in (b"{", b"["):
        return "geojson"
    if head == b"<":
        return "kml"
    raise GeometryError(
        "malformed",
        f"Unrecognised file format for {filename[:100]!r}; expected GeoJSON, KML or KMZ",
        filename=filename[:100],
    )


def _load_geojson(data: bytes) -> ImportedZone:
    try:
        obj = json.loads(data.removeprefix(_UTF8_BOM).decode("utf-8"))
    except json.JSONDecodeError as exc:
        raise GeometryError(
            "malformed",
            f"File is not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}",
            line=exc.lineno,
            column=exc.colno,
        ) from exc
    # UnicodeDecodeError/ValueError (e.g. huge integer literals) and RecursionError
    # (absurdly deep nesting) are still just "not usable JSON" from the user's view.
    except (ValueError, RecursionError) as exc:
        raise GeometryError("malformed", "File is not valid UTF-8 JSON") from exc
    geometry, properties = extract_zone_feature(obj)
    name_th, name_en = _split_name(
        _clean(properties.get("name")),
        _clean(properties.get("name_th")),
        _clean(properties.get("name_en")),
    )
    return ImportedZone(
        name_th=name_th,
        name_en=name_en,
        description=_clean(properties.get("description")),
        geometry=dict(geometry),
        source_format="geojson",
    )


def _geometry_type(geometry: Mapping[str, Any]) -> str | None:
    value = geometry.get("type")
    return value if isinstance(value, str) else None


def _load_kml(data: bytes) -> ImportedZone:
    placemarks = parse_kml_or_kmz(data)
    # Same strictness as a FeatureCollection: one placemark, and it is the polygon.
    check_single_polygon([_geometry_type(p.geometry) for p in placemarks], "KML", "placemark")
    placemark = placemarks[0]
    name_th, name_en = _split_name(placemark.name, None, None)
    return ImportedZone(
        name_th=name_th,
        name_en=name_en,
        description=placemark.description,
        geometry=dict(placemark.geometry),
        source_format="kml",
    )


def load_zone_file(data: bytes, filename: str) -> ImportedZone:
    """Read a zone from an uploaded GeoJSON, KML or KMZ file.

    The format is chosen by extension (.geojson/.json, .kml/.kmz), otherwise by
    sniffing the content. GeoJSON may be a Feature, a FeatureCollection with exactly
    one polygonal feature, or a bare geometry; KML must hold exactly one placemark
    and it must be polygonal. The geometry is NOT validated here.

    Raises:
        GeometryError: "file_too_large", "malformed", "not_polygon", "invalid_kml".
    """
    if len(data) > MAX_IMPORT_BYTES:
        raise GeometryError(
            "file_too_large",
            f"File is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB",
            size_bytes=len(data),
            limit_bytes=MAX_IMPORT_BYTES,
        )
    if not data.strip():
        raise GeometryError("malformed", "File is empty")
    if _detect_format(data, filename) == "geojson":
        return _load_geojson(data)
    return _load_kml(data)
