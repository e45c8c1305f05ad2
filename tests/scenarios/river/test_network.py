"""The river network on the seeded Chongqing map: the main rivers on their surveyed (GSHHG) lines,
deterministic, one street per section, 临江河 in 永川, targets set."""

from __future__ import annotations

import json
from importlib import resources

import pytest
import shapely
from shapely.geometry import LineString, Point

from cityops.geo.coords import haversine_m
from cityops.geo.models import Level
from cityops.scenarios.river import network as network_module
from cityops.scenarios.river.network import (
    CHONGQING_RIVERS,
    GSHHG_FILE,
    TARGETS,
    Network,
    RiverSpec,
    StreetArea,
    build_network,
    surveyed_lines,
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
    assert any(s.river_code == "CJ" and s.district_code == "500103" for s in network.sections)
    assert all(s.target_class in TARGETS for s in network.sections)


def _m_from(line: LineString, lng: float, lat: float) -> float:
    p = line.interpolate(line.project(Point(lng, lat)))
    return haversine_m(p.x, p.y, lng, lat)


def test_the_main_rivers_are_the_surveyed_lines_meeting_at_chaotianmen_and_fuling(
    network: Network,
) -> None:
    lines = {r.code: r.line for r in network.rivers}
    for code in ("CJ", "JLJ", "WJ"):
        assert lines[code].equals(surveyed_lines()[code]), code
        assert len(lines[code].coords) > 100  # a surveyed line, not a handful of waypoints
    assert _m_from(lines["CJ"], 106.585, 29.566) < 1000  # 朝天门
    mouth = lines["JLJ"].coords[-1]
    assert haversine_m(*mouth, 106.585, 29.566) < 2000  # 嘉陵江 ends at 朝天门
    assert _m_from(lines["CJ"], *mouth) < 500  # ... on the 长江
    assert _m_from(lines["CJ"], *lines["WJ"].coords[-1]) < 1500  # 乌江 joins at 涪陵
    generated = [r for r in network.rivers if r.code not in {s.code for s in CHONGQING_RIVERS}]
    assert generated
    for r in generated:  # a generated tributary still leaves its (now surveyed) parent
        assert lines[r.parent_code or ""].distance(Point(r.line.coords[-1])) < 1e-9, r.code


def test_without_the_data_file_the_main_rivers_fall_back_to_their_waypoints(
    streets: list[StreetArea], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(network_module, "surveyed_lines", lambda: {})
    n = build_network(seed=7, streets=streets)
    lines = {r.code: r.line for r in n.rivers}
    cj = next(s for s in CHONGQING_RIVERS if s.code == "CJ")
    assert lines["CJ"].equals(LineString(cj.waypoints))
    assert any(s.river_code == "CJ" for s in n.sections)


def test_the_data_file_says_where_it_comes_from_and_its_licence() -> None:
    path = resources.files("cityops.scenarios.river") / "data" / GSHHG_FILE
    props = json.loads(path.read_text(encoding="utf-8"))["properties"]
    assert "GSHHG" in props["source"] and "LGPL-3" in props["license"]


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
