"""KML / KMZ reading (Google Earth, Google My Maps exports) into GeoJSON geometries.

Uploaded XML is hostile until proven otherwise: parsing goes through defusedxml with
DTDs forbidden (KML never needs one), which blocks XXE and entity-expansion bombs,
and KMZ members are read with a hard cap on their uncompressed size (zip bombs).
"""

from __future__ import annotations

import io
import lzma
import re
import zipfile
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from .errors import GeometryError

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

MAX_KML_BYTES: Final = 20 * 1024 * 1024
ZIP_MAGIC: Final = b"PK\x03\x04"
_GEOMETRY_TAGS: Final = ("Polygon", "MultiGeometry", "Point", "LineString", "LinearRing")
# Some exporters write "lon, lat" with blanks after commas; glue tuples back together
# before splitting on whitespace, which is what separates tuples in KML.
_COMMA_BLANKS: Final = re.compile(r"\s*,\s*")
_NUMBER: Final = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")

Coords = list[list[float]]


@dataclass(frozen=True, slots=True)
class KmlPlacemark:
    """One KML Placemark with its geometry converted to a GeoJSON geometry dict."""

    name: str | None
    description: str | None
    geometry: dict[str, Any]


def _invalid(message: str, **params: object) -> GeometryError:
    return GeometryError("invalid_kml", message, **params)


def _local(tag: str) -> str:
    # Match on local names only: files use the KML 2.2 namespace, the old Google 2.0/2.1
    # namespaces, or none at all, and the structure is the same in every case.
    return tag.rsplit("}", 1)[-1]


def _children(element: Element, name: str) -> list[Element]:
    return [child for child in element if _local(child.tag) == name]


def _text(element: Element | None) -> str | None:
    if element is None:
        return None
    text = "".join(element.itertext()).strip()
    return text or None


def _parse_coordinates(element: Element, where: str) -> Coords:
    holders = _children(element, "coordinates")
    if not holders:
        raise _invalid(f"{where} has no <coordinates>", where=where)
    text = _COMMA_BLANKS.sub(",", "".join(holders[0].itertext()).strip())
    coords: Coords = []
    for token in text.split():
        parts = token.split(",")
        # lon,lat or lon,lat,alt; altitude is dropped (zones are 2-D) but must be sane.
        ok = len(parts) in (2, 3) and all(_NUMBER.fullmatch(p) for p in parts[:2])
        if ok and len(parts) == 3 and parts[2]:
            ok = _NUMBER.fullmatch(parts[2]) is not None
        if not ok:
            raise _invalid(f"Bad coordinate {token[:60]!r} in {where}", where=where)
        coords.append([float(parts[0]), float(parts[1])])
    return coords


def _ring(boundary: Element, where: str) -> list[Coords]:
    rings = _children(boundary, "LinearRing")
    if not rings:
        raise _invalid(f"{where} has no <LinearRing>", where=where)
    return [_parse_coordinates(ring, where) for ring in rings]


def _polygon(element: Element) -> list[Coords]:
    outer = _children(element, "outerBoundaryIs")
    if len(outer) != 1:
        raise _invalid("A <Polygon> must have exactly one <outerBoundaryIs>")
    rings = _ring(outer[0], "outerBoundaryIs")[:1]
    # KML 2.2 puts one LinearRing per innerBoundaryIs, but some tools put several
    # rings in a single innerBoundaryIs; accept both.
    for inner in _children(element, "innerBoundaryIs"):
        rings.extend(_ring(inner, "innerBoundaryIs"))
    return rings


def _flatten(element: Element) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for child in element:
        if _local(child.tag) in _GEOMETRY_TAGS:
            geometry = _geometry(child)
            if geometry is None:
                continue
            if geometry["type"] == "GeometryCollection":
                parts.extend(geometry["geometries"])
            elif geometry["type"].startswith("Multi"):  # nested MultiGeometry
                single = geometry["type"].removeprefix("Multi")
                parts.extend({"type": single, "coordinates": c} for c in geometry["coordinates"])
            else:
                parts.append(geometry)
    return parts


def _geometry(element: Element) -> dict[str, Any] | None:
    kind = _local(element.tag)
    if kind == "Polygon":
        return {"type": "Polygon", "coordinates": _polygon(element)}
    if kind in ("LineString", "LinearRing"):  # a bare LinearRing is a line in KML
        return {"type": "LineString", "coordinates": _parse_coordinates(element, kind)}
    if kind == "Point":
        coords = _parse_coordinates(element, "Point")
        if len(coords) != 1:
            raise _invalid("A <Point> must have exactly one coordinate")
        return {"type": "Point", "coordinates": coords[0]}
    if kind != "MultiGeometry":
        return None
    parts = _flatten(element)
    if not parts:
        return None
    kinds = {part["type"] for part in parts}
    if len(kinds) == 1:
        single = kinds.pop()
        return {"type": f"Multi{single}", "coordinates": [p["coordinates"] for p in parts]}
    return {"type": "GeometryCollection", "geometries": parts}


def _placemark(element: Element) -> KmlPlacemark | None:
    for child in element:
        if _local(child.tag) in _GEOMETRY_TAGS:
            geometry = _geometry(child)
            if geometry is not None:
                names = _children(element, "name")
                descriptions = _children(element, "description")
                return KmlPlacemark(
                    name=_text(names[0] if names else None),
                    description=_text(descriptions[0] if descriptions else None),
                    geometry=geometry,
                )
    return None  # no geometry, or only unsupported kinds (Model, gx:Track)


def parse_kml(data: bytes) -> list[KmlPlacemark]:
    """Parse KML bytes into placemarks, in document order.

    Polygons become GeoJSON Polygon, MultiGeometry of polygons becomes MultiPolygon;
    Point/LineString placemarks are returned too so the caller can reject them with
    a precise message. Placemarks without a supported geometry are skipped.

    Raises:
        GeometryError: "invalid_kml" for unparseable or unsafe XML, "file_too_large".
    """
    if len(data) > MAX_KML_BYTES:
        raise GeometryError(
            "file_too_large",
            f"KML document is larger than {MAX_KML_BYTES // (1024 * 1024)} MB",
            size_bytes=len(data),
            limit_bytes=MAX_KML_BYTES,
        )
    try:
        root = fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        # Deliberately vague: never echo entity/DTD content back to the uploader.
        raise _invalid("KML contains a DTD or entities, which are not allowed") from exc
    except (ParseError, ValueError, LookupError) as exc:  # LookupError: bad encoding
        raise _invalid(f"File is not well-formed XML: {exc}"[:200]) from exc
    if _local(root.tag) != "kml":
        raise _invalid(f"Root element is <{_local(root.tag)[:40]}>, not <kml>")
    placemarks: list[KmlPlacemark] = []
    for element in root.iter():
        if _local(element.tag) == "Placemark":
            placemark = _placemark(element)
            if placemark is not None:
                placemarks.append(placemark)
    return placemarks


def is_zip(data: bytes) -> bool:
    """Return True if the bytes look like a ZIP archive (i.e. KMZ)."""
    return data.startswith(ZIP_MAGIC)


def _pick_kml_member(members: list[zipfile.ZipInfo]) -> zipfile.ZipInfo | None:
    candidates = [m for m in members if not m.is_dir() and m.filename.lower().endswith(".kml")]
    for member in candidates:
        if member.filename.lower() == "doc.kml":
            return member
    return candidates[0] if candidates else None


def _too_large(size: int, member: str) -> GeometryError:
    return GeometryError(
        "file_too_large",
        f"{member} inside the KMZ is larger than {MAX_KML_BYTES // (1024 * 1024)} MB",
        size_bytes=size,
        limit_bytes=MAX_KML_BYTES,
        member=member[:100],
    )


def _read_kmz_document(data: bytes) -> bytes:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            member = _pick_kml_member(archive.infolist())
            if member is None:
                raise _invalid("KMZ archive contains no .kml document")
            # The declared size can lie, so it is checked up front (cheap) and the
            # actual decompressed stream is also cut off one byte past the limit.
            if member.file_size > MAX_KML_BYTES:
                raise _too_large(member.file_size, member.filename)
            with archive.open(member) as stream:
                content = stream.read(MAX_KML_BYTES + 1)
    except GeometryError:
        raise
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        NotImplementedError,  # unsupported compression method
        RuntimeError,  # encrypted member
        EOFError,
        OSError,
        ValueError,
        zlib.error,
        lzma.LZMAError,
    ) as exc:
        raise _invalid(f"KMZ archive is damaged or unsupported: {exc}"[:200]) from exc
    if len(content) > MAX_KML_BYTES:
        raise _too_large(len(content), member.filename)
    return content


def parse_kml_or_kmz(data: bytes) -> list[KmlPlacemark]:
    """Parse KML, or KMZ (zip, detected by its header) using doc.kml or the first .kml.

    Raises:
        GeometryError: "invalid_kml" or "file_too_large".
    """
    if is_zip(data):
        data = _read_kmz_document(data)
    return parse_kml(data)
