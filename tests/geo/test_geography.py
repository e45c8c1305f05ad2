"""The synthetic Chongqing: real districts and 镇街, tiling partitions, ≥ 20k unit grids."""

from __future__ import annotations

import hashlib
from collections import defaultdict

import pytest
import shapely
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from cityops.geo import service
from cityops.geo.models import Jurisdiction, Level
from cityops.geo.schemas import CODE_LENGTH, JurisdictionRecord
from cityops.sim.geography import JIANGBEI_STREETS, build_chongqing, load_into, minzhu_code


@pytest.fixture(scope="module")
def city() -> list[JurisdictionRecord]:
    return build_chongqing(seed=7)


def _digest(records: list[JurisdictionRecord]) -> str:
    h = hashlib.sha256()
    for r in records:
        h.update(r.code.encode())
        h.update(
            shapely.to_wkb(shapely.set_precision(r.geometry, 1e-9))
            if r.geometry is not None
            else b""
        )
    return h.hexdigest()


def test_same_seed_same_map_other_seed_other_map(city: list[JurisdictionRecord]) -> None:
    small = ("500103",)  # 渝中区 only, to keep the test quick
    a = build_chongqing(seed=7, full_grid_districts=small, communities_everywhere=False)
    b = build_chongqing(seed=7, full_grid_districts=small, communities_everywhere=False)
    c = build_chongqing(seed=8, full_grid_districts=small, communities_everywhere=False)
    assert _digest(a) == _digest(b)
    streets = [r for r in a if r.level == Level.street]
    assert [r.code for r in streets] == [r.code for r in c if r.level == Level.street]
    assert _digest(streets) != _digest([r for r in c if r.level == Level.street])
    assert _digest(build_chongqing(seed=7)) == _digest(city)


def test_districts_and_history(city: list[JurisdictionRecord]) -> None:
    current = [r for r in city if r.level == Level.district and r.valid_to is None]
    assert len(current) == 37
    names = {r.code: r.name for r in current}
    assert names["500157"] == "两江新区" and names["500107"] == "九龙坡区"
    retired = {r.code: r for r in city if r.valid_to is not None}
    assert set(retired) == {"500105", "500112"}
    assert all(
        r.successor_code == "500157" and str(r.valid_to) == "2025-11-06" for r in retired.values()
    )
    lj = next(r for r in current if r.code == "500157")
    union = shapely.union_all([retired["500105"].geometry, retired["500112"].geometry])
    assert lj.geometry is not None and shapely.equals(lj.geometry, union)


def test_codes_are_well_formed_and_unique(city: list[JurisdictionRecord]) -> None:
    codes = [r.code for r in city if r.valid_to is None]
    assert len(codes) == len(set(codes))
    for r in city:
        assert r.code.isdigit() and len(r.code) == CODE_LENGTH[r.level], r.code
        if r.level not in (Level.city, Level.district):
            assert r.parent_code is not None and r.code.startswith(r.parent_code)


def _children(city: list[JurisdictionRecord]) -> dict[str, list[JurisdictionRecord]]:
    out: dict[str, list[JurisdictionRecord]] = defaultdict(list)
    for r in city:
        if r.valid_to is None and r.parent_code:
            out[r.parent_code].append(r)
    return out


def test_streets_tile_their_district(city: list[JurisdictionRecord]) -> None:
    kids = _children(city)
    districts = [r for r in city if r.level == Level.district and r.valid_to is None]
    for d in districts:
        streets = kids[d.code]
        assert streets, d.code
        assert d.geometry is not None
        area = sum(s.geometry.area for s in streets if s.geometry is not None)
        assert abs(area - d.geometry.area) < 1e-6 * d.geometry.area  # no gap, no overlap
        grown = d.geometry.buffer(1e-9)
        assert all(grown.covers(s.geometry) for s in streets), d.code


def test_grids_tile_their_community(city: list[JurisdictionRecord]) -> None:
    kids = _children(city)
    grids = [r for r in city if r.level == Level.grid]
    assert len(grids) >= 20_000
    communities = {r.parent_code for r in grids}
    for code in sorted(communities)[::7]:
        comm = next(r for r in city if r.code == code)
        cells = kids[code]
        assert len(cells) <= 999
        assert comm.geometry is not None
        total = sum(c.geometry.area for c in cells if c.geometry is not None)
        assert abs(total - comm.geometry.area) < 1e-6 * comm.geometry.area
        grown = comm.geometry.buffer(1e-9)
        assert all(grown.covers(c.geometry) for c in cells)
    # About one hectare in 街道 (the first grid of a full cell is ~100 m x 100 m).
    area_m2 = [shapely.area(g.geometry) * 110_946 * 96_890 for g in grids if g.code[6] == "0"]
    assert sorted(area_m2)[len(area_m2) // 2] == pytest.approx(10_000, rel=0.1)


def test_real_street_names_where_the_grids_are(city: list[JurisdictionRecord]) -> None:
    kids = _children(city)
    jlp = {s.name for s in kids["500107"]}
    assert {"杨家坪街道", "谢家湾街道", "石桥铺街道", "西彭镇", "铜罐驿镇"} <= jlp
    lj = {s.name: s for s in kids["500157"]}
    assert set(lj) >= JIANGBEI_STREETS and len(lj) == 42
    old_jiangbei = next(r for r in city if r.code == "500105").geometry
    assert old_jiangbei is not None
    grown = old_jiangbei.buffer(1e-9)
    for name, street in lj.items():
        inside = grown.covers(street.geometry)
        assert inside == (name in JIANGBEI_STREETS), name
    gridded_streets = {r.code[:9] for r in city if r.level == Level.grid}
    assert {s.code for s in kids["500107"]} <= gridded_streets
    assert {s.code for s in lj.values() if s.name in JIANGBEI_STREETS} <= gridded_streets


def test_minzhu_village_is_a_community_of_xiejiawan(city: list[JurisdictionRecord]) -> None:
    """The community cockpit's demo: one 民主村社区, in 谢家湾街道, with unit grids."""
    code = minzhu_code(city)
    assert code is not None and code.startswith("500107003")
    named = [r for r in city if r.name == "民主村社区"]
    assert [(r.code, r.level, r.parent_code) for r in named] == [
        (code, Level.community, "500107003")
    ]
    street = next(r for r in city if r.code == "500107003")
    assert street.name == "谢家湾街道"
    assert any(r.parent_code == code and r.level == Level.grid for r in city)
    rest = [r for r in city if r.parent_code == "500107003" and r.code != code]
    assert rest and all(r.name != "民主村社区" for r in rest)


def test_load_into_database_and_locate(
    city: list[JurisdictionRecord], engine: Engine, session: Session
) -> None:
    n = load_into(session=session, records=city)
    session.commit()
    assert n == len(city)
    count = session.execute(select(func.count()).select_from(Jurisdiction)).scalar_one()
    assert count == len(city)
    index = service.load_index(session=session)
    street = next(r for r in city if r.name == "观音桥街道")
    assert street.geometry is not None
    p = street.geometry.representative_point()
    where = index.locate(p.x, p.y)
    assert where is not None and where.street_code == street.code and where.grid_code is not None
    assert index.name_of(where.district_code) == "两江新区"
