"""Geo functions on point locations, in plain SQL that runs on SQLite and PostgreSQL alike.

Choice (documented in docs/api.md): every location is reduced to one representative point, kept as
``lat``/``lng`` columns (a Point's coordinate, otherwise the centroid). ``geo.distance`` is the
great-circle (haversine) distance in **metres**, computed in SQL with sin/cos/asin/sqrt (built-in
on PostgreSQL; SQLite's math functions, present in the builds we ship on). ``st_within`` and
``st_intersects`` against a polygon literal are an exact ray-casting point-in-polygon test whose
edges are constants, preceded by a bounding-box test an index can use. No PostGIS, no shapely, no
post-filtering in Python: paging and ``@iot.count`` stay exact.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from cityops.sensing.sta.ast import Geometry, Point

EARTH_RADIUS_M = 6_371_008.8


@dataclass(frozen=True, slots=True)
class GeoRef:
    """Where a location property lives in SQL: its representative point."""

    lat: ColumnElement[Any]
    lng: ColumnElement[Any]


def haversine_m(a: Point, b: Point) -> float:
    p1, p2 = math.radians(a.lat), math.radians(b.lat)
    dlat, dlng = p2 - p1, math.radians(b.lng - a.lng)
    h = math.sin(dlat / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dlng / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def line_length_m(geom: Geometry) -> float:
    ring = geom.rings[0]
    return sum(haversine_m(ring[i], ring[i + 1]) for i in range(len(ring) - 1))


def _ring_contains(ring: tuple[Point, ...], p: Point) -> bool:
    inside = False
    for a, b in itertools.pairwise(ring):
        if (a.lat > p.lat) != (b.lat > p.lat):
            x = a.lng + (p.lat - a.lat) * (b.lng - a.lng) / (b.lat - a.lat)
            if p.lng < x:
                inside = not inside
    return inside


def contains_point(geom: Geometry, p: Point) -> bool:
    """Python twin of :func:`sql_within` (used when both sides are literals)."""
    if geom.kind == "POINT":
        return geom.first == p
    if geom.kind != "POLYGON":
        return False
    outer, *holes = geom.rings
    return _ring_contains(outer, p) and not any(_ring_contains(h, p) for h in holes)


def _f(value: float) -> ColumnElement[Any]:
    return sa.literal(value, sa.Float())


def sql_distance_m(ref: GeoRef, p: Point) -> ColumnElement[Any]:
    """Haversine metres from the row's point to constant ``p``."""
    lat1 = sa.func.radians(ref.lat)
    half_dlat = (lat1 - _f(math.radians(p.lat))) / 2
    half_dlng = (sa.func.radians(ref.lng) - _f(math.radians(p.lng))) / 2
    s1 = sa.func.sin(half_dlat)
    s2 = sa.func.sin(half_dlng)
    h = s1 * s1 + sa.func.cos(lat1) * _f(math.cos(math.radians(p.lat))) * s2 * s2
    return _f(2 * EARTH_RADIUS_M) * sa.func.asin(sa.func.sqrt(h))


def _sql_ring(ring: tuple[Point, ...], ref: GeoRef) -> ColumnElement[Any]:
    crossings: list[ColumnElement[Any]] = []
    for a, b in itertools.pairwise(ring):
        if a.lat == b.lat:
            continue  # a horizontal edge never crosses the ray
        lo, hi = min(a.lat, b.lat), max(a.lat, b.lat)
        slope = (b.lng - a.lng) / (b.lat - a.lat)
        crosses = sa.and_(
            ref.lat >= _f(lo),
            ref.lat < _f(hi),
            ref.lng < _f(a.lng) + (ref.lat - _f(a.lat)) * _f(slope),
        )
        crossings.append(sa.case((crosses, 1), else_=0))
    if not crossings:
        return sa.false()
    total: ColumnElement[Any] = crossings[0]
    for c in crossings[1:]:
        total = total + c
    return (total % 2) == 1


def sql_within(ref: GeoRef, geom: Geometry) -> ColumnElement[bool]:
    """The row's point lies in ``geom`` (a polygon with holes, or equals a point)."""
    if geom.kind == "POINT":
        p = geom.first
        return sa.and_(ref.lat == _f(p.lat), ref.lng == _f(p.lng))
    if geom.kind != "POLYGON":
        return sa.false()
    outer, *holes = geom.rings
    bbox = sa.and_(
        ref.lat.between(_f(min(p.lat for p in outer)), _f(max(p.lat for p in outer))),
        ref.lng.between(_f(min(p.lng for p in outer)), _f(max(p.lng for p in outer))),
    )
    inside = sa.and_(bbox, _sql_ring(outer, ref))
    for hole in holes:
        inside = sa.and_(inside, sa.not_(_sql_ring(hole, ref)))
    return inside
