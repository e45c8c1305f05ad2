"""Generate a community's digital twin (数字孪生): roads, building footprints, facilities, cameras.

Pure and deterministic by (seed, community code): no database, no clock. The layout:

* a local plane in metres (equirectangular about the community's representative point; over a
  community's extent the error is far below a metre);
* a street grid turned by a seeded angle (−35°…35°) with blocks of 110–135 m, in a window of
  at most 700 m around the community's centre (a generated community can cover 3 km², which
  would give thousands of buildings; real 社区 have 30–150 楼栋), clipped to the community
  polygon inset by 8 m, so every footprint lies inside the polygon even after rounding;
* each block split into slots (slabs 2×3, towers 2×2); one rectangle per slot with at least
  6 m of open ground around it, so buildings never overlap; a rectangle not wholly inside the
  inset polygon is dropped; about one block in eight stays open (健身广场, 停车场);
* the buildings nearest the centre host the civic services (社区服务中心, 卫生服务站, 养老服务站),
  farther ones the kindergarten (幼儿园) and the market (菜市场); a few others are shops (商业);
* population from floors, staircases (单元, about 16 m of slab each) and year built: buildings
  from before 2000 (民主村 is a 1980s–90s 老旧小区) house more elderly (28–40 % of residents
  ≥ 60) than new ones (12–22 %).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from shapely import affinity
from shapely.geometry import LineString, Point, Polygon, box
from shapely.geometry.base import BaseGeometry

from cityops.scenarios.community.models import BuildingKind as B
from cityops.scenarios.community.models import FacilityKind as F

M_PER_DEG_LAT = 110_946.0
M_PER_DEG_LNG = 111_320.0  # at the equator; times cos(latitude)
INSET_M = 8.0
WINDOW_M = 560.0
ROAD_M = 16.0  # carriageway and pavements between two blocks
MIN_ROAD_M = 40.0
GAP_M = 6.0  # open ground kept on each side of a building inside its slot
HOURS: dict[F, str] = {
    F.service_centre: "周一至周五 08:30-12:00 14:00-17:30",
    F.health_station: "08:00-17:30",
    F.elderly_station: "08:00-20:00",
    F.kindergarten: "07:30-17:30",
    F.market: "06:00-20:00",
    F.toilet: "24小时",
    F.waste_point: "07:00-09:00 18:00-21:00",
    F.parking: "24小时",
    F.fitness: "06:00-22:00",
}
# Hosted in buildings, by the host's rank in distance from the centre (fraction of the count).
HOSTED: list[tuple[F, float, B]] = [
    (F.service_centre, 0.0, B.public),
    (F.health_station, 0.0, B.public),
    (F.elderly_station, 0.0, B.public),
    (F.kindergarten, 0.5, B.public),
    (F.market, 0.33, B.commercial),
]
_DIGITS = "零一二三四五六七八九"


@dataclass(frozen=True, slots=True)
class BuildingPlan:
    name: str
    kind: B
    footprint: Polygon  # WGS84 lng/lat
    floors: int
    households: int
    residents: int
    elderly: int
    year_built: int


@dataclass(frozen=True, slots=True)
class RoadPlan:
    name: str
    line: LineString  # WGS84 lng/lat


@dataclass(frozen=True, slots=True)
class FacilityPlan:
    kind: F
    name: str
    point: Point
    opening_hours: str
    building: int | None  # index into TwinPlan.buildings


@dataclass(frozen=True, slots=True)
class CameraPlan:
    name: str
    point: Point
    building: int | None  # index into TwinPlan.buildings
    online: bool


@dataclass(frozen=True, slots=True)
class TwinPlan:
    buildings: list[BuildingPlan] = field(default_factory=list)
    roads: list[RoadPlan] = field(default_factory=list)
    facilities: list[FacilityPlan] = field(default_factory=list)
    cameras: list[CameraPlan] = field(default_factory=list)


def chinese_number(n: int) -> str:
    """1 → 一, 10 → 十, 12 → 十二, 23 → 二十三 (road names)."""
    tens, ones = divmod(n, 10)
    if n < 10:
        return _DIGITS[n]
    head = "" if tens == 1 else _DIGITS[tens]
    return f"{head}十{_DIGITS[ones] if ones else ''}"


def short_name(community_name: str) -> str:
    """民主村社区 → 民主村 (the prefix of building and road names)."""
    return community_name.removesuffix("社区") or community_name


@dataclass(frozen=True, slots=True)
class _Slot:
    rect: Polygon  # grid coordinates (metres, turned with the streets, centre at 0,0)
    tall: bool


class _Frame:
    """Grid coordinates (metres along the streets, origin at the centre) ↔ WGS84 lng/lat."""

    def __init__(self, origin: Point) -> None:
        self.origin = np.array([origin.x, origin.y])
        self.scale = np.array([M_PER_DEG_LNG * math.cos(math.radians(origin.y)), M_PER_DEG_LAT])
        self.angle = 0.0
        self.centre = Point(0, 0)  # in plane metres

    def plane(self, geom: BaseGeometry) -> BaseGeometry:
        return shapely.transform(geom, lambda xy: (xy - self.origin) * self.scale)

    def to_grid(self, plane_geom: BaseGeometry) -> BaseGeometry:
        moved = affinity.translate(plane_geom, -self.centre.x, -self.centre.y)
        return affinity.rotate(moved, -self.angle, origin=(0, 0))

    def to_wgs84(self, grid_geom: BaseGeometry) -> Any:
        turned = affinity.rotate(grid_geom, self.angle, origin=(0, 0))
        moved = affinity.translate(turned, self.centre.x, self.centre.y)
        return shapely.transform(moved, lambda xy: xy / self.scale + self.origin)


@dataclass(slots=True)
class _Layout:
    """The work in progress, in grid coordinates."""

    rng: random.Random
    frame: _Frame
    site: BaseGeometry  # the community inset by INSET_M
    us: list[float]  # street (街) offsets
    vs: list[float]  # road (路) offsets
    short: str
    streets: dict[int, str] = field(default_factory=dict)
    lanes: dict[int, str] = field(default_factory=dict)
    rects: list[Polygon] = field(default_factory=list)
    hosts: dict[F, int] = field(default_factory=dict)


def generate(
    polygon: BaseGeometry, *, seed: int, code: str, name: str, cameras: int = 12
) -> TwinPlan:
    """The twin of the community with this WGS84 polygon, code and name."""
    rng = random.Random(f"community-twin:{seed}:{code}")
    frame = _Frame(polygon.representative_point())
    site_plane = frame.plane(polygon).buffer(-INSET_M)
    if site_plane.is_empty:
        return TwinPlan()
    frame.centre = site_plane.representative_point()
    frame.angle = rng.uniform(-35.0, 35.0)
    site = frame.to_grid(site_plane)
    shapely.prepare(site)
    half = WINDOW_M / 2
    area = site.intersection(box(-half, -half, half, half))
    pitch = rng.uniform(110.0, 135.0)
    ks = range(-math.ceil(half / pitch) - 1, math.ceil(half / pitch) + 2)
    shift_u, shift_v = rng.uniform(-0.5, 0.5) * pitch, rng.uniform(-0.5, 0.5) * pitch
    at = _Layout(
        rng, frame, site, [k * pitch + shift_u for k in ks], [k * pitch + shift_v for k in ks],
        short_name(name),
    )  # fmt: skip
    roads = _roads(at, area)
    slots, open_blocks = _slots(at, area)
    buildings = _buildings(at, slots)
    facilities = _facilities(at, buildings, open_blocks)
    return TwinPlan(buildings, roads, facilities, _cameras(at, buildings, cameras))


def _lines(geom: BaseGeometry) -> list[LineString]:
    parts = shapely.get_parts(geom)
    return [p for p in parts if p.geom_type == "LineString" and p.length >= MIN_ROAD_M]


def _roads(at: _Layout, area: BaseGeometry) -> list[RoadPlan]:
    """Streets (街, along v) at each u and roads (路, along u) at each v, clipped to the area."""
    out: list[RoadPlan] = []
    span = WINDOW_M
    for axis, (offsets, names, suffix) in enumerate(((at.us, at.streets, "街"),
                                                     (at.vs, at.lanes, "路"))):  # fmt: skip
        for k, c in enumerate(offsets):
            ends = [(c, -span), (c, span)] if axis == 0 else [(-span, c), (span, c)]
            parts = _lines(area.intersection(LineString(ends)))
            if parts:
                names[k] = f"{at.short}{chinese_number(len(names) + 1)}{suffix}"
                out += [RoadPlan(names[k], at.frame.to_wgs84(p)) for p in parts]
    return out


def _slots(at: _Layout, area: BaseGeometry) -> tuple[list[_Slot], list[Polygon]]:
    """Building slots of every block in the area, nearest the centre first; open blocks."""
    shapely.prepare(area)
    r = ROAD_M / 2
    blocks = [
        box(at.us[i] + r, at.vs[j] + r, at.us[i + 1] - r, at.vs[j + 1] - r)
        for i in range(len(at.us) - 1)
        for j in range(len(at.vs) - 1)
    ]
    blocks = [b for b in blocks if area.intersects(b)]
    blocks.sort(key=lambda b: (round(b.centroid.distance(Point(0, 0)), 3), b.bounds))
    slots: list[_Slot] = []
    open_blocks: list[Polygon] = []
    for rank, block in enumerate(blocks):
        if rank % 8 == 4 and area.contains(block.centroid):
            open_blocks.append(block)
            continue
        tall = at.rng.random() < 0.3
        cols, rows = (2, 2) if tall else (2, 3)
        x0, y0, x1, y1 = block.bounds
        w, h = (x1 - x0) / cols, (y1 - y0) / rows
        for row in range(rows):
            for col in range(cols):
                rect = _rect(at.rng, x0 + col * w, y0 + row * h, w, h, tall)
                if rect is not None and area.contains(rect):
                    slots.append(_Slot(rect, tall))
    return slots, open_blocks


def _rect(rng: random.Random, x: float, y: float, w: float, h: float, tall: bool) -> Polygon | None:
    """One footprint inside the slot (x, y, w, h), at least GAP_M from its edges."""
    room_w, room_h = w - 2 * GAP_M, h - 2 * GAP_M
    if tall:
        bw, bh = min(room_w, rng.uniform(22, 30)), min(room_h, rng.uniform(20, 28))
    else:
        bw, bh = min(room_w, rng.uniform(36, 60)), min(room_h, rng.uniform(12, 16))
    if bw < 8 or bh < 8:
        return None
    cx = x + GAP_M + bw / 2 + rng.uniform(0, room_w - bw)
    cy = y + GAP_M + bh / 2 + rng.uniform(0, room_h - bh)
    return box(cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2)


def _people(rng: random.Random, slot: _Slot) -> tuple[int, int, int, int, int]:
    """(floors, households, residents, elderly, year built) of a residential building."""
    roll = rng.random()
    year = rng.randint(1982, 1999) if roll < 0.6 else rng.randint(2000, 2012)
    if roll >= 0.85 or slot.tall:
        year = rng.randint(2005, 2022)
    if slot.tall:
        floors, units = rng.randint(18, 33), rng.choice([4, 6])
    else:
        x0, _, x1, _ = slot.rect.bounds
        floors = rng.randint(5, 8) if year < 2000 else rng.randint(7, 18)
        units = 2 * max(1, round((x1 - x0) / 16))  # 一梯两户 per staircase
    households = round(floors * units * rng.uniform(0.78, 0.95))
    residents = round(households * rng.uniform(2.1, 2.8))
    share = rng.uniform(0.28, 0.40) if year < 2000 else rng.uniform(0.12, 0.22)
    return floors, households, residents, round(residents * share), year


def _buildings(at: _Layout, slots: list[_Slot]) -> list[BuildingPlan]:
    """Numbered north→south, west→east (楼栋号); service hosts chosen by distance rank."""
    where = [at.frame.to_wgs84(s.rect.centroid) for s in slots]
    order = [slots[i] for i in sorted(range(len(slots)), key=lambda i: (-round(where[i].y, 4),
                                                                         where[i].x))]  # fmt: skip
    by_distance = sorted(
        range(len(order)), key=lambda i: (order[i].rect.centroid.distance(Point(0, 0)), i)
    )
    kinds: dict[int, B] = {}
    for facility, fraction, kind in HOSTED:
        free = [i for i in by_distance if i not in kinds]
        if free:
            pick = free[min(len(free) - 1, int(fraction * len(by_distance)))]
            kinds[pick], at.hosts[facility] = kind, pick
    plans: list[BuildingPlan] = []
    for i, slot in enumerate(order):
        kind = kinds.get(i) or (B.commercial if at.rng.random() < 0.08 else B.residential)
        if kind is B.residential:
            floors, households, residents, elderly, year = _people(at.rng, slot)
        else:
            floors, households, residents, elderly = at.rng.randint(2, 5), 0, 0, 0
            year = at.rng.randint(1985, 2020)
        plans.append(
            BuildingPlan(
                f"{at.short}{i + 1}栋", kind, at.frame.to_wgs84(slot.rect), floors, households,
                residents, elderly, year,
            )
        )  # fmt: skip
    at.rects = [s.rect for s in order]
    return plans


def _corner(rect: Polygon, which: int, out: float) -> Point:
    """A point ``out`` metres diagonally outside one corner (0 SW, 1 SE, 2 NE, 3 NW)."""
    x0, y0, x1, y1 = rect.bounds
    sx, sy = (-1, 1, 1, -1)[which], (-1, -1, 1, 1)[which]
    return Point((x1 if sx > 0 else x0) + sx * out, (y1 if sy > 0 else y0) + sy * out)


def _facilities(
    at: _Layout, buildings: list[BuildingPlan], open_blocks: list[Polygon]
) -> list[FacilityPlan]:
    """Services in their host buildings; squares and car parks on open blocks; toilets at
    crossroads; a waste point (垃圾分类点) for every fifth home."""
    out: list[FacilityPlan] = []
    short = at.short

    def add(kind: F, name: str, point: Point, building: int | None = None) -> None:
        if at.site.contains(point):
            out.append(FacilityPlan(kind, name, at.frame.to_wgs84(point), HOURS[kind], building))

    hosted = {F.service_centre: f"{short}社区服务中心", F.health_station: f"{short}社区卫生服务站",
              F.elderly_station: f"{short}社区养老服务站", F.kindergarten: f"{short}幼儿园",
              F.market: f"{short}菜市场"}  # fmt: skip
    for kind, host in at.hosts.items():
        add(kind, hosted[kind], at.rects[host].centroid, host)
    for n, block in enumerate(open_blocks):
        kind = (F.fitness, F.parking)[n % 2]
        add(kind, f"{short}{kind.value}{'' if n < 2 else n // 2 + 1}", block.centroid)
    corners = sorted(
        (Point(u + ROAD_M / 2 + 3, v + ROAD_M / 2 + 3) for u in at.us for v in at.vs),
        key=lambda p: (p.distance(Point(0, 0)), p.x, p.y),
    )
    corners = [p for p in corners if at.site.contains(p)]
    for n, k in enumerate(sorted({min(1, len(corners) - 1), len(corners) // 2} if corners else [])):
        add(F.toilet, f"{short}公厕{n + 1}号", corners[k])
    homes = [i for i, b in enumerate(buildings) if b.kind is B.residential]
    for n, i in enumerate(homes[::5]):
        add(
            F.waste_point,
            f"{short}垃圾分类点{n + 1}号",
            _corner(at.rects[i], at.rng.randrange(4), 3),
        )
    return out


def _cameras(at: _Layout, buildings: list[BuildingPlan], count: int) -> list[CameraPlan]:
    """Half at crossroads (nearest the centre), half at building entrances (services first)."""
    out: list[CameraPlan] = []

    def add(name: str, point: Point, building: int | None) -> None:
        if len(out) < count and at.site.contains(point):
            out.append(CameraPlan(name, at.frame.to_wgs84(point), building, at.rng.random() >= 0.1))

    crossings = sorted(
        ((i, j) for i in at.streets for j in at.lanes),
        key=lambda ij: (math.hypot(at.us[ij[0]], at.vs[ij[1]]), ij),
    )
    for i, j in crossings:
        if len(out) >= count // 2:
            break
        point = Point(at.us[i] - ROAD_M / 2 - 2, at.vs[j] - ROAD_M / 2 - 2)
        add(f"{at.streets[i]}与{at.lanes[j]}路口", point, None)
    step = max(1, len(buildings) // max(1, count))
    hosts = list(at.hosts.values())
    for i in hosts + [i for i in range(0, len(buildings), step) if i not in hosts]:
        add(f"{buildings[i].name}出入口", _corner(at.rects[i], 0, 2.0), i)
    return out
