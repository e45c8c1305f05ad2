"""The generated river network on the seeded Chongqing map: deterministic, one street per section,
临江河 in 永川, targets set."""

from __future__ import annotations

import pytest
import shapely

from cityops.geo.models import Level
from cityops.scenarios.river.network import (
    TARGETS,
    Network,
    RiverSpec,
    StreetArea,
    build_network,
)
from cityops.sim import geography


@pytest.fixture(scope="module")
def streets() -> list[StreetArea]:
    return [
        StreetArea(r.code, r.name, r.geometry)
        for r in geography.build_chongqing(seed=7)
        if r.level == Level.street and r.valid_to is None and r.geometry is not None
    ]


@pytest.fixture(scope="module")
def network(streets: list[StreetArea]) -> Network:
    return build_network(seed=7, streets=streets)


def _key(n: Network) -> list[tuple[str, str, str, bytes]]:
    return [(s.code, s.street_code, s.target_class, shapely.to_wkb(s.line)) for s in n.sections]


def test_same_seed_same_network_and_another_seed_moves_the_generated_tributaries(
    streets: list[StreetArea], network: Network
) -> None:
    assert _key(build_network(seed=7, streets=streets)) == _key(network)
    other = build_network(seed=8, streets=streets)
    main = {"CJ", "JLJ", "WJ", "LJH"}
    lines = {r.code: r.line for r in other.rivers}
    assert all(lines[c].equals(r.line) for r in network.rivers if (c := r.code) in main)
    assert any(not lines[r.code].equals(r.line) for r in network.rivers if r.code not in main)


def test_every_section_lies_in_exactly_one_street(
    streets: list[StreetArea], network: Network
) -> None:
    by_code = {s.code: s for s in streets}
    tree = shapely.STRtree([s.geometry for s in streets])
    assert len(network.sections) > 50
    assert len({s.code for s in network.sections}) == len(network.sections)
    for s in network.sections:
        assert by_code[s.street_code].geometry.buffer(1e-9).covers(s.line), s.code
        mid = s.line.interpolate(0.5, normalized=True)
        holders = [streets[i].code for i in tree.query(mid, predicate="within")]
        assert holders == [s.street_code], s.code
        assert s.district_code == s.street_code[:6]
        assert s.length_km * 1000 >= 200


def test_the_three_main_rivers_cross_the_main_urban_area_with_class_ii_to_iii_targets(
    network: Network,
) -> None:
    names = {r.code: r.name for r in network.rivers}
    assert names["CJ"] == "长江" and names["JLJ"] == "嘉陵江" and names["WJ"] == "乌江"
    for code in ("CJ", "JLJ", "WJ"):
        sections = [s for s in network.sections if s.river_code == code]
        assert sections and {s.target_class for s in sections} <= {"II", "III"}
    yuzhong = {s.river_code for s in network.sections if s.district_code == "500103"}
    assert {"CJ", "JLJ"} <= yuzhong  # 渝中 between the two rivers, 朝天门 at the confluence
    assert all(s.target_class in TARGETS for s in network.sections)


def test_linjiang_river_is_a_yangtze_tributary_in_yongchuan(network: Network) -> None:
    river = next(r for r in network.rivers if r.name == "临江河")
    assert river.parent_code == "CJ" and 40 < river.length_km < 80
    sections = [s for s in network.sections if s.river_code == river.code]
    assert len(sections) >= 3
    assert {s.district_code for s in sections} == {"500118"}
    assert {s.target_class for s in sections} <= {"III", "IV"}
    assert all(s.name.startswith("临江河") and s.name.endswith("段") for s in sections)


def test_a_river_off_the_map_has_no_sections_and_a_bad_target_is_refused(
    streets: list[StreetArea],
) -> None:
    far = RiverSpec("FAR", "远河", ((90.0, 40.0), (90.1, 40.1)), ("III",))
    n = build_network(seed=7, streets=streets, rivers=[far], tributaries=())
    assert [r.code for r in n.rivers] == ["FAR"] and n.sections == ()
    with pytest.raises(ValueError):
        build_network(seed=7, streets=streets, rivers=[RiverSpec("X", "x", far.waypoints, ("VI",))])


def test_the_main_rivers_are_the_ones_with_a_city_chief(network: Network) -> None:
    assert {r.code for r in network.rivers if r.main} == {"CJ", "JLJ", "WJ"}
