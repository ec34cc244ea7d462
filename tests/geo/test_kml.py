"""KML/KMZ parsing and zone file import (GeoJSON, KML, KMZ)."""

from __future__ import annotations

import io
import json
import math
import zipfile
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from safezone.geo.errors import ERROR_CODES, GeometryError
from safezone.geo.kml import parse_kml, parse_kml_or_kmz
from safezone.geo.zone_geometry import validate_zone_geometry
from safezone.geo.zone_import import ImportedZone, load_zone_file


def quadrangle_area_km2(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Closed-form WGS84 area between two meridians and two parallels (independent of
    pyproj; duplicated from test_area.py because tests/ is not a package)."""
    a, f = 6378137.0, 1 / 298.257223563
    b, e2 = a * (1 - f), f * (2 - f)
    e = math.sqrt(e2)

    def q(lat: float) -> float:
        s = math.sin(math.radians(lat))
        return s / (1 - e2 * s * s) + math.log((1 + e * s) / (1 - e * s)) / (2 * e)

    return abs(b * b * math.radians(lon2 - lon1) / 2 * (q(lat2) - q(lat1))) / 1e6


THAI_NAME = "บางนาค สมาร์ท เซฟตี้"
BOX = (101.8207, 6.4227, 101.8252, 6.4272)  # lon1, lat1, lon2, lat2

# Shaped like a Google My Maps export: namespace, Document > Folder > Placemark,
# styleUrl, CDATA description, altitude ",0" and one tuple per indented line.
MY_MAPS_KML = f"""<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2">
  <Document>
    <name>เขตปลอดภัย นราธิวาส</name>
    <Style id="poly-000000-1200-77-nodesc-normal">
      <LineStyle><color>ff000000</color><width>1.2</width></LineStyle>
      <PolyStyle><color>4d000000</color><fill>1</fill><outline>1</outline></PolyStyle>
    </Style>
    <Folder>
      <name>Layer 1</name>
      <Placemark>
        <name>{THAI_NAME}</name>
        <description><![CDATA[รอบตลาด<br>Bang Nak market]]></description>
        <styleUrl>#poly-000000-1200-77-nodesc</styleUrl>
        <Polygon>
          <outerBoundaryIs>
            <LinearRing>
              <tessellate>1</tessellate>
              <coordinates>
                {BOX[0]},{BOX[1]},0
                {BOX[2]},{BOX[1]},0
                {BOX[2]},{BOX[3]},0
                {BOX[0]},{BOX[3]},0
                {BOX[0]},{BOX[1]},0
              </coordinates>
            </LinearRing>
          </outerBoundaryIs>
        </Polygon>
      </Placemark>
    </Folder>
  </Document>
</kml>
""".encode()


def kml(body: str, ns: str = ' xmlns="http://www.opengis.net/kml/2.2"') -> bytes:
    return f"<kml{ns}><Document>{body}</Document></kml>".encode()


def ring(lon1: float, lat1: float, lon2: float, lat2: float, sep: str = " ") -> str:
    pts = [(lon1, lat1), (lon2, lat1), (lon2, lat2), (lon1, lat2), (lon1, lat1)]
    return sep.join(f"{x},{y}" for x, y in pts)


def polygon_xml(lon1: float, lat1: float, lon2: float, lat2: float) -> str:
    coords = ring(lon1, lat1, lon2, lat2)
    return (
        f"<Polygon><outerBoundaryIs><LinearRing><coordinates>{coords}</coordinates>"
        "</LinearRing></outerBoundaryIs></Polygon>"
    )


def kmz(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def code_of(call: Any, *args: Any) -> GeometryError:
    with pytest.raises(GeometryError) as info:
        call(*args)
    assert info.value.code in ERROR_CODES
    return info.value


def test_my_maps_export() -> None:
    [placemark] = parse_kml(MY_MAPS_KML)
    assert placemark.name == THAI_NAME
    assert placemark.description == "รอบตลาด<br>Bang Nak market"
    assert placemark.geometry["type"] == "Polygon"
    assert placemark.geometry["coordinates"][0][:2] == [[BOX[0], BOX[1]], [BOX[2], BOX[1]]]

    zone = load_zone_file(MY_MAPS_KML, "Safe zone.KML")
    assert (zone.name_th, zone.name_en, zone.source_format) == (THAI_NAME, None, "kml")
    valid = validate_zone_geometry(zone.geometry)
    assert valid.area_km2 == pytest.approx(quadrangle_area_km2(*BOX), rel=0.005)


def test_kmz() -> None:
    archive = kmz({"images/icon.png": b"\x89PNG", "doc.kml": MY_MAPS_KML})
    assert parse_kml_or_kmz(archive)[0].name == THAI_NAME
    for filename in ("zone.kmz", "zone.kml", "upload.bin"):  # extension or sniffing
        assert load_zone_file(archive, filename).name_th == THAI_NAME
    other = kmz({"readme.txt": b"hi", "layers/zone.KML": MY_MAPS_KML})
    assert parse_kml_or_kmz(other)[0].name == THAI_NAME


def test_kmz_errors() -> None:
    assert code_of(parse_kml_or_kmz, kmz({"a.txt": b"x"})).code == "invalid_kml"
    assert code_of(parse_kml_or_kmz, kmz({"doc.kml": MY_MAPS_KML})[:60]).code == "invalid_kml"
    bomb = kmz({"doc.kml": b" " * (20 * 1024 * 1024 + 1)})  # compresses to ~20 kB
    err = code_of(parse_kml_or_kmz, bomb)
    assert err.code == "file_too_large" and err.params["limit_bytes"] == 20 * 1024 * 1024


def test_no_namespace_with_hole_and_tabs() -> None:
    outer = ring(101.80, 6.40, 101.82, 6.42, sep="\n\t\t")
    inner = ring(101.805, 6.405, 101.81, 6.41, sep="\t")
    body = (
        "<Placemark><name>Zone A</name><Polygon>"
        f"<outerBoundaryIs><LinearRing><coordinates>\n\t{outer}\n</coordinates></LinearRing>"
        f"</outerBoundaryIs><innerBoundaryIs><LinearRing><coordinates>{inner}</coordinates>"
        "</LinearRing></innerBoundaryIs></Polygon></Placemark>"
    )
    zone = load_zone_file(kml(body, ns=""), "zone.kml")
    assert (zone.name_en, zone.name_th) == ("Zone A", None)
    assert len(zone.geometry["coordinates"]) == 2
    expected = quadrangle_area_km2(101.80, 6.40, 101.82, 6.42) - quadrangle_area_km2(
        101.805, 6.405, 101.81, 6.41
    )
    assert validate_zone_geometry(zone.geometry).area_km2 == pytest.approx(expected, rel=0.005)


def test_multigeometry() -> None:
    a, b = polygon_xml(101.80, 6.40, 101.81, 6.41), polygon_xml(101.90, 6.50, 101.91, 6.51)
    nested = f"<Placemark><MultiGeometry>{a}<MultiGeometry>{b}</MultiGeometry></MultiGeometry>"
    [placemark] = parse_kml(kml(nested + "</Placemark>"))
    assert placemark.geometry["type"] == "MultiPolygon"
    assert len(placemark.geometry["coordinates"]) == 2
    zone = load_zone_file(kml(nested + "</Placemark>"), "z.kml")
    assert validate_zone_geometry(zone.geometry).geometry["type"] == "MultiPolygon"
    mixed = f"<Placemark><MultiGeometry>{a}<Point><coordinates>1,2</coordinates></Point>"
    [placemark] = parse_kml(kml(mixed + "</MultiGeometry></Placemark>"))
    assert placemark.geometry["type"] == "GeometryCollection"


def test_points_and_lines_are_returned_as_geojson() -> None:
    body = (
        "<Placemark><name>pin</name><Point><coordinates>101.8,6.4,0</coordinates></Point>"
        "</Placemark><Placemark><LineString><coordinates>101.8,6.4 101.9,6.5</coordinates>"
        "</LineString></Placemark><Placemark><name>no geometry</name></Placemark>"
    )
    point, line = parse_kml(kml(body))
    assert point.geometry == {"type": "Point", "coordinates": [101.8, 6.4]}
    assert line.geometry == {"type": "LineString", "coordinates": [[101.8, 6.4], [101.9, 6.5]]}
    err = code_of(load_zone_file, kml(body.split("<Placemark><LineString>")[0]), "pin.kml")
    assert err.code == "not_polygon" and err.params["type"] == "Point"


def test_two_polygons_rejected_by_import() -> None:
    pm = f"<Placemark>{polygon_xml(*BOX)}</Placemark>"
    err = code_of(load_zone_file, kml(pm + pm), "two.kml")
    assert err.code == "malformed"
    assert (err.params["count"], err.params["polygon_count"]) == (2, 2)
    assert "found 2 placemark(s)" in str(err)
    assert code_of(load_zone_file, kml(""), "none.kml").params["count"] == 0


def test_xxe_is_rejected_without_leaking() -> None:
    payload = (
        b'<?xml version="1.0"?><!DOCTYPE kml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        b"<kml><Document><Placemark><name>&xxe;</name>"
        + polygon_xml(*BOX).encode()
        + b"</Placemark></Document></kml>"
    )
    for call in (parse_kml, lambda d: load_zone_file(d, "x.kml")):
        err = code_of(call, payload)
        assert err.code == "invalid_kml"
        assert "root:" not in str(err) and "root:" not in repr(err.params)


def test_billion_laughs_rejected() -> None:
    lol = b'<!DOCTYPE kml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;">]>'
    assert code_of(parse_kml, lol + b"<kml>&b;</kml>").code == "invalid_kml"


@pytest.mark.parametrize(
    "data",
    [
        b"<kml><Document><Placemark>",  # truncated
        b"not xml at all",
        b'<?xml version="1.0" encoding="klingon"?><kml/>',
        b"<gpx><trk/></gpx>",  # well-formed, but not KML
        kml("<Placemark><Polygon><outerBoundaryIs/></Polygon></Placemark>"),
        kml("<Placemark><Point><coordinates>abc,def</coordinates></Point></Placemark>"),
        kml("<Placemark><Point><coordinates>nan,1</coordinates></Point></Placemark>"),
    ],
)
def test_broken_kml(data: bytes) -> None:
    assert code_of(parse_kml, data).code == "invalid_kml"


# --- GeoJSON import ------------------------------------------------------------------

GEOMETRY = {
    "type": "Polygon",
    "coordinates": [[[BOX[0], BOX[1]], [BOX[2], BOX[1]], [BOX[2], BOX[3]], [BOX[0], BOX[1]]]],
}


def as_bytes(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode()


def test_geojson_feature_names() -> None:
    feature = {
        "type": "Feature",
        "geometry": GEOMETRY,
        "properties": {"name": THAI_NAME, "name_en": "Bang Nak", "description": " d "},
    }
    zone = load_zone_file(as_bytes(feature), "zone.geojson")
    assert zone == ImportedZone(THAI_NAME, "Bang Nak", "d", GEOMETRY, "geojson")
    english = dict(feature, properties={"name": "Market", "name_th": "ตลาด"})
    zone = load_zone_file(b"\xef\xbb\xbf" + as_bytes(english), "zone.json")
    assert (zone.name_th, zone.name_en, zone.description) == ("ตลาด", "Market", None)


def test_geojson_collection_and_bare_geometry_and_sniffing() -> None:
    fc: dict[str, Any] = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "geometry": GEOMETRY}],
    }
    assert load_zone_file(as_bytes(fc), "fc.geojson").geometry == GEOMETRY
    assert load_zone_file(as_bytes(GEOMETRY), "upload").geometry == GEOMETRY
    fc2 = dict(fc, features=fc["features"] * 2)
    assert code_of(load_zone_file, as_bytes(fc2), "fc.geojson").params["count"] == 2


@pytest.mark.parametrize(
    ("data", "filename", "code"),
    [
        (b"{not json", "a.geojson", "malformed"),
        (b"\xff\xfe{}", "a.json", "malformed"),
        (b"[" * 100_000, "a.json", "malformed"),
        (b"   ", "a.kml", "malformed"),
        (b"GIF89a", "a.png", "malformed"),
        (b" " * (10 * 1024 * 1024 + 1), "a.geojson", "file_too_large"),
    ],
)
def test_import_errors(data: bytes, filename: str, code: str) -> None:
    assert code_of(load_zone_file, data, filename).code == code


prefixes = st.sampled_from([b"", b"PK\x03\x04", b"<kml>", b'{"type":', b"\xef\xbb\xbf"])
names = st.sampled_from(["z.kml", "z.kmz", "z.geojson", "z.json", "z", "z.txt"])


@settings(max_examples=300, deadline=None)
@given(prefixes, st.binary(max_size=300), names)
def test_random_bytes_only_raise_geometry_error(prefix: bytes, data: bytes, name: str) -> None:
    try:
        load_zone_file(prefix + data, name)
    except GeometryError as err:
        assert err.code in ERROR_CODES
