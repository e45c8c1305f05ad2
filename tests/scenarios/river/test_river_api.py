"""The 河长制 registry over HTTP on both backends: rivers, a river's sections, a section's chiefs.

SmallCity gets a two-river network through the service, as the seed gives Chongqing its own: a
main river (测试江) running west→east across all three streets, so its sections need a city chief
nobody holds, and a tributary (测试河) inside 九龙坡's west street, fully staffed.
"""

from __future__ import annotations

from typing import Any

import pytest

from cityops.scenarios.river import seeding
from cityops.scenarios.river.network import RiverSpec
from tests.api.conftest import Api, api  # noqa: F401
from tests.citykit import X0, Y0

MAIN = RiverSpec(
    "TM", "测试江", ((X0 - 0.01, Y0 + 0.010), (X0 + 0.05, Y0 + 0.011)), ("II", "III"), main=True
)
TRIB = RiverSpec(
    "TT", "测试河", ((X0 + 0.005, Y0 + 0.019), (X0 + 0.004, Y0 + 0.0108)), ("III",), "TM"
)


@pytest.fixture
def rivers(api: Api) -> Api:  # noqa: F811
    def ensure() -> seeding.NetworkMade:
        with api.ctx.sessions.begin() as s:
            return seeding.ensure_network(session=s, seed=7, rivers=[MAIN, TRIB], tributaries=())

    made = ensure()
    assert made == seeding.NetworkMade(True, 2, 4, 4)  # 3 city posts + 两江 has no district staff
    assert ensure() == seeding.NetworkMade(False, 2, 4, 4)  # idempotent
    return api


def get(api: Api, path: str, who: str = "admin") -> Any:  # noqa: F811
    return api.client.get(f"/api/v1/river{path}", headers=api.headers(who))


def test_the_city_admin_lists_every_river_with_section_and_flag_counts(rivers: Api) -> None:
    r = get(rivers, "/rivers")
    assert r.status_code == 200, r.text
    items = {i["code"]: i for i in r.json()["items"]}
    assert items["TM"]["sections"] == 3 and items["TM"]["flagged_sections"] == 3
    assert items["TT"]["sections"] == 1 and items["TT"]["flagged_sections"] == 0
    assert items["TT"]["parent_code"] == "TM" and items["TT"]["kind"] == "river"
    assert items["TM"]["length_km"] > 5


def test_a_river_is_a_feature_collection_of_its_sections_downstream(rivers: Api) -> None:
    r = get(rivers, "/rivers/TM")
    assert r.status_code == 200, r.text
    fc = r.json()
    assert fc["type"] == "FeatureCollection" and fc["river"]["name"] == "测试江"
    streets = [f["properties"]["street_code"] for f in fc["features"]]
    assert streets == ["500107001", "500107002", "500157001"]
    first = fc["features"][0]
    assert first["geometry"]["type"] == "LineString"
    assert first["properties"]["target_class"] in {"II", "III"}
    assert first["properties"]["chiefs"]["city"] is None
    assert first["properties"]["chiefs"]["street"] == "工1st"
    assert first["properties"]["department"]["type"] == "shuiwu"
    assert all(f["properties"]["flagged"] for f in fc["features"])


def test_a_section_names_its_chiefs_by_level_and_its_department(rivers: Api) -> None:
    r = get(rivers, "/sections/TT-001", "street")
    assert r.status_code == 200, r.text
    s = r.json()
    assert s["river_name"] == "测试河" and s["target_class"] == "III"
    chiefs = {c["level"]: c for c in s["chiefs"]}
    assert list(chiefs) == ["district", "street"]
    assert chiefs["district"]["name"] == "区shuiwu" and chiefs["district"]["role"] == "worker"
    assert chiefs["street"]["name"] == "工1st"
    assert chiefs["street"]["department"] == "500107001-street_office"
    assert s["department"]["name"] == "500107-shuiwu"
    assert s["flagged"] is False and s["vacant_levels"] == []


def test_a_section_without_a_chief_is_flagged_not_refused(rivers: Api) -> None:
    s = get(rivers, "/sections/TM-003").json()
    assert s["street_code"] == "500157001"
    assert s["flagged"] is True and s["vacant_levels"] == ["city", "district"]
    vacant = [c for c in s["chiefs"] if c["vacant"]]
    assert {c["level"] for c in vacant} == {"city", "district"}
    assert all(c["name"] is None and c["staff_id"] is None for c in vacant)


def test_street_and_district_staff_see_only_their_sections(rivers: Api) -> None:
    west = {i["code"]: i["sections"] for i in get(rivers, "/rivers", "street").json()["items"]}
    assert west == {"TM": 1, "TT": 1}
    east = {i["code"]: i["sections"] for i in get(rivers, "/rivers", "street2").json()["items"]}
    assert east == {"TM": 1}
    district = get(rivers, "/rivers/TM", "dispatcher").json()
    assert [f["id"] for f in district["features"]] == ["TM-001", "TM-002"]
    assert district["river"]["sections"] == 2
    r = get(rivers, "/sections/TT-001", "street2")
    assert r.status_code == 403 and r.json()["error"]["code"] == "outside_jurisdiction"
    r = get(rivers, "/sections/TM-003", "dispatcher")
    assert r.status_code == 403
    r = get(rivers, "/rivers", "resident")
    assert r.status_code == 403 and r.json()["error"]["code"] == "role_forbidden"


def test_unknown_rivers_and_sections_are_404_with_codes(rivers: Api) -> None:
    r = get(rivers, "/rivers/NOPE")
    assert r.status_code == 404 and r.json()["error"]["code"] == "river_not_found"
    r = get(rivers, "/sections/NOPE-001", "street")
    assert r.status_code == 404 and r.json()["error"]["code"] == "section_not_found"
