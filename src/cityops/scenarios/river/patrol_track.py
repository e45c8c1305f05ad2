"""A patrol's GPS track (巡河轨迹), cleaned: pure functions, no database.

A phone uploads fixes in batches that may arrive late, twice or out of order; some fixes are
wrong. Nothing is thrown away: every stored fix keeps a flag saying why it is not trusted.

``clean`` decides the flags over the whole set of a patrol's fixes (so a late batch can change
an earlier verdict), in this order, the first that applies winning:

1. ``inaccurate``: the phone's reported accuracy is worse than ``max_accuracy_m``.
2. ``duplicate``: another fix has the same timestamp; the one that arrived first is kept.
3. ``teleport``: walking the fixes in time order, the fix is farther from the last trusted fix
   than ``max_speed_mps`` × Δt + ``jitter_m`` allows (GPS jitter at short intervals). A run of
   ``confirm_points`` fixes that are plausible among themselves but not from the last trusted
   fix is a relocation (a car ride, a GPS outage), not a spike: the run starts a new stretch of
   track and the jump between the stretches is not counted. A lone first fix that the rest of
   the track relocates away from is itself the teleport.
4. ``out_of_order``: a fix that arrived after one with a later timestamp. It is re-sorted into
   place and stays in the track; the flag only records that it came late.

The track is the fixes that are unflagged or only ``out_of_order``, in time order, cut into
stretches at relocations. Mileage is the haversine length of the stretches; duration is the time
from the first to the last fix of the track.

Coverage of a section (河段) is the part of its line within ``buffer_m`` of the track, as
intervals of the line's length (fractions 0..1, so patrols are merged by adding intervals, not
geometry). Geometry is projected to local metres (equirectangular about the track's first fix;
over tens of kilometres the scale error is well under 1 %).
"""

from __future__ import annotations

import enum
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import numpy as np
import shapely
from shapely.geometry import GeometryCollection, LineString, Point
from shapely.geometry.base import BaseGeometry

from cityops.geo.coords import gcj02_to_wgs84_many, haversine_m

Crs = Literal["wgs84", "gcj02"]
Interval = tuple[float, float]
LngLat = tuple[float, float]
EARTH_RADIUS_M = 6371008.8


class PointFlag(enum.StrEnum):
    """Why a stored fix is not trusted as it is (null: it is)."""

    inaccurate = "inaccurate"  # reported accuracy worse than the limit
    duplicate = "duplicate"  # same timestamp as a fix that arrived earlier
    teleport = "teleport"  # implausibly far from the track: left out of mileage
    out_of_order = "out_of_order"  # arrived after a later fix; re-sorted, still in the track


IN_TRACK = frozenset({None, PointFlag.out_of_order})


@dataclass(frozen=True, slots=True)
class Fix:
    """One stored fix: ``seq`` is its arrival order within the patrol (1, 2, …)."""

    seq: int
    t: datetime
    lat: float
    lng: float
    accuracy_m: float | None = None


@dataclass(frozen=True, slots=True)
class TrackRules:
    """The cleaning thresholds (settings ``river_patrol_*``; local defaults, see settings.py)."""

    max_speed_mps: float = 15.0
    max_accuracy_m: float = 50.0
    jitter_m: float = 10.0
    confirm_points: int = 3


@dataclass(frozen=True, slots=True)
class Track:
    """What ``clean`` found: each fix's flag, the stretches of trusted fixes, their figures."""

    flags: dict[int, PointFlag | None]
    stretches: list[list[Fix]]
    mileage_m: float
    duration_s: float
    flag_counts: dict[str, int] = field(default_factory=dict)

    @property
    def flagged(self) -> int:
        return sum(self.flag_counts.values())

    def stretch_of(self) -> dict[int, int]:
        """Each trusted fix's stretch number (0, 1, …) by seq."""
        return {f.seq: i for i, s in enumerate(self.stretches) for f in s}


def to_wgs84(crs: Crs, lats: Sequence[float], lngs: Sequence[float]) -> list[LngLat]:
    """(lng, lat) pairs in WGS84, rounded to 1e-7° (about 1 cm) so a resent fix compares equal."""
    lng_arr = np.asarray(lngs, dtype=np.float64)
    lat_arr = np.asarray(lats, dtype=np.float64)
    if crs == "gcj02":
        lng_arr, lat_arr = gcj02_to_wgs84_many(lng_arr, lat_arr)
    return [(round(float(x), 7), round(float(y), 7)) for x, y in zip(lng_arr, lat_arr, strict=True)]


def _plausible(a: Fix, b: Fix, rules: TrackRules) -> bool:
    dt = abs((b.t - a.t).total_seconds())
    return haversine_m(a.lng, a.lat, b.lng, b.lat) <= rules.max_speed_mps * dt + rules.jitter_m


def _stretches(ordered: Sequence[Fix], rules: TrackRules) -> tuple[list[list[Fix]], set[int]]:
    """Split time-ordered fixes into trusted stretches; returns them and the teleports' seqs."""
    stretches: list[list[Fix]] = []
    pending: list[Fix] = []  # fixes implausible from the track but plausible among themselves
    teleports: set[int] = set()
    for fix in ordered:
        if not stretches:
            stretches.append([fix])
            continue
        if _plausible(stretches[-1][-1], fix, rules):
            teleports.update(p.seq for p in pending)  # a spike: the track came back
            pending = []
            stretches[-1].append(fix)
            continue
        if pending and _plausible(pending[-1], fix, rules):
            pending.append(fix)
        else:
            teleports.update(p.seq for p in pending)
            pending = [fix]
        if len(pending) >= rules.confirm_points:  # a relocation: a new stretch begins
            if len(stretches[-1]) == 1:  # a lone fix the track never followed was the spike
                teleports.add(stretches.pop()[0].seq)
            stretches.append(pending)
            pending = []
    teleports.update(p.seq for p in pending)
    return stretches, teleports


def clean(fixes: Iterable[Fix], rules: TrackRules) -> Track:
    """Flag every fix and build the trusted track (see the module docstring for the rules)."""
    by_seq = sorted(fixes, key=lambda f: f.seq)
    flags: dict[int, PointFlag | None] = {f.seq: None for f in by_seq}
    first_at: dict[datetime, int] = {}
    candidates: list[Fix] = []
    for f in by_seq:
        if f.accuracy_m is not None and f.accuracy_m > rules.max_accuracy_m:
            flags[f.seq] = PointFlag.inaccurate
        elif f.t in first_at:
            flags[f.seq] = PointFlag.duplicate
        else:
            first_at[f.t] = f.seq
            candidates.append(f)
    latest: datetime | None = None
    late: set[int] = set()
    for f in candidates:  # arrival order
        if latest is not None and f.t < latest:
            late.add(f.seq)
        latest = f.t if latest is None else max(latest, f.t)
    ordered = sorted(candidates, key=lambda f: f.t)
    stretches, teleports = _stretches(ordered, rules)
    for f in candidates:
        if f.seq in teleports:
            flags[f.seq] = PointFlag.teleport
        elif f.seq in late:
            flags[f.seq] = PointFlag.out_of_order
    mileage = sum(
        haversine_m(a.lng, a.lat, b.lng, b.lat) for s in stretches for a, b in itertools.pairwise(s)
    )
    kept = [f for s in stretches for f in s]
    duration = (kept[-1].t - kept[0].t).total_seconds() if kept else 0.0
    counts: dict[str, int] = {}
    for flag in flags.values():
        if flag is not None:
            counts[flag.value] = counts.get(flag.value, 0) + 1
    return Track(flags, stretches, mileage, duration, counts)


class _Local:
    """Equirectangular projection to metres about an origin (good over tens of kilometres)."""

    def __init__(self, origin: LngLat) -> None:
        self.lng0, self.lat0 = origin
        self.ky = EARTH_RADIUS_M * math.pi / 180.0
        self.kx = self.ky * math.cos(math.radians(self.lat0))

    def xy(self, coords: Sequence[LngLat]) -> list[tuple[float, float]]:
        return [((x - self.lng0) * self.kx, (y - self.lat0) * self.ky) for x, y in coords]


def _track_shape(local: _Local, stretches: Sequence[Sequence[LngLat]]) -> BaseGeometry:
    parts: list[BaseGeometry] = []
    for s in stretches:
        xy = local.xy(s)
        parts.append(LineString(xy) if len(xy) >= 2 else Point(xy[0]))
    return GeometryCollection(parts)


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, non-overlapping intervals covering the same ground."""
    out: list[Interval] = []
    for a, b in sorted((min(a, b), max(a, b)) for a, b in intervals):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def covered_share(intervals: Iterable[Interval]) -> float:
    """The share 0..1 of a line the intervals (fractions of its length) cover together."""
    return sum(b - a for a, b in merge(intervals))


def _pieces(geom: BaseGeometry) -> Iterable[LineString]:
    if isinstance(geom, LineString):
        if not geom.is_empty:
            yield geom
        return
    for part in getattr(geom, "geoms", ()):
        yield from _pieces(part)


def coverage(
    *,
    sections: Mapping[int, Sequence[LngLat]],
    stretches: Sequence[Sequence[LngLat]],
    buffer_m: float,
) -> dict[int, list[Interval]]:
    """For each section line the track passes within ``buffer_m`` of, the covered intervals.

    Sections the track does not come near are left out. Intervals are fractions of the line's
    length measured from its first vertex, merged and rounded to 1e-6.
    """
    stretches = [s for s in stretches if s]
    if not stretches or buffer_m <= 0:
        return {}
    local = _Local(stretches[0][0])
    # Simplified to 1 m first: a long track buffers many times faster, the same within 1 m.
    area = _track_shape(local, stretches).simplify(1.0).buffer(buffer_m)
    min_x, min_y, max_x, max_y = area.bounds
    out: dict[int, list[Interval]] = {}
    for key, coords in sections.items():
        if len(coords) < 2:
            continue
        line = LineString(local.xy(coords))
        lx0, ly0, lx1, ly1 = line.bounds
        if line.length == 0 or lx1 < min_x or lx0 > max_x or ly1 < min_y or ly0 > max_y:
            continue
        found: list[Interval] = []
        for piece in _pieces(line.intersection(area)):
            ends = shapely.points([piece.coords[0], piece.coords[-1]])
            a, b = (float(v) for v in line.project(ends, normalized=True))
            found.append((round(min(a, b), 6), round(max(a, b), 6)))
        merged = [iv for iv in merge(found) if iv[1] > iv[0]]
        if merged:
            out[key] = merged
    return out


def nearest(sections: Mapping[int, Sequence[LngLat]], point: LngLat) -> int | None:
    """The section whose line passes closest to the point (None if there is none)."""
    local = _Local(point)
    best: tuple[float, int] | None = None
    for key, coords in sections.items():
        if not coords:
            continue
        xy = local.xy(coords)
        d = float((LineString(xy) if len(xy) >= 2 else Point(xy[0])).distance(Point(0.0, 0.0)))
        if best is None or (d, key) < best:
            best = (d, key)
    return best[1] if best is not None else None


def line_coords(geometry: Mapping[str, object]) -> list[LngLat]:
    """A section's GeoJSON LineString (or MultiLineString, parts joined) as (lng, lat) pairs."""
    coords = geometry.get("coordinates")
    kind = geometry.get("type")
    parts = [coords] if kind == "LineString" else coords if kind == "MultiLineString" else []
    out: list[LngLat] = []
    for part in parts if isinstance(parts, list) else []:
        out.extend((float(p[0]), float(p[1])) for p in part)
    return out
