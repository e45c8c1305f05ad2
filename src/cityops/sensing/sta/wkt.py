"""Well-known text for geography literals: POINT, LINESTRING, POLYGON (outer ring plus holes)."""

from __future__ import annotations

import re

from cityops.sensing.sta.ast import Geometry, Point

_HEAD = re.compile(r"\s*(?:SRID=\d+;\s*)?(POINT|LINESTRING|POLYGON)\s*\((.*)\)\s*$", re.I | re.S)
_RING = re.compile(r"\(([^()]*)\)")


def _points(text: str) -> tuple[Point, ...]:
    out: list[Point] = []
    for pair in text.split(","):
        parts = pair.split()
        if len(parts) < 2:
            raise ValueError(f"a coordinate needs longitude and latitude, got {pair.strip()!r}")
        lng, lat = float(parts[0]), float(parts[1])
        if not (-180 <= lng <= 180 and -90 <= lat <= 90):
            raise ValueError(f"coordinate out of range: {lng} {lat}")
        out.append(Point(lng, lat))
    return tuple(out)


def parse_wkt(text: str) -> Geometry:
    """Parse WKT in (lng lat) order; raise ValueError with the reason."""
    m = _HEAD.match(text)
    if not m:
        raise ValueError("expected POINT(...), LINESTRING(...) or POLYGON((...))")
    kind, body = m.group(1).upper(), m.group(2)
    if kind == "POLYGON":
        rings = tuple(_points(r) for r in _RING.findall(body))
        if not rings or any(len(r) < 4 or r[0] != r[-1] for r in rings):
            raise ValueError("a polygon ring needs at least 4 points and must be closed")
        return Geometry(kind, rings)
    points = _points(body)
    if kind == "POINT" and len(points) != 1:
        raise ValueError("a point has exactly one coordinate")
    if kind == "LINESTRING" and len(points) < 2:
        raise ValueError("a line needs at least two points")
    return Geometry(kind, (points,))


def geojson_of(geom: Geometry) -> dict[str, object]:
    coords = [[[p.lng, p.lat] for p in ring] for ring in geom.rings]
    if geom.kind == "POINT":
        return {"type": "Point", "coordinates": coords[0][0]}
    if geom.kind == "LINESTRING":
        return {"type": "LineString", "coordinates": coords[0]}
    return {"type": "Polygon", "coordinates": coords}
