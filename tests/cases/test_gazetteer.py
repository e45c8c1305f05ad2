"""Place names in report text → a point in the right street (a hand-made map, real names)."""

from __future__ import annotations

import pytest
from shapely.geometry import Point, box

from cityops.cases import gazetteer as gaz
from cityops.cases.gazetteer import Area

GUANYINQIAO = box(106.52, 29.565, 106.54, 29.585)
XIEJIAWAN = box(106.51, 29.51, 106.518, 29.525)  # the real 民主村 (29.53, 106.52) is outside


def _areas() -> list[Area]:
    return [
        Area("500157", "两江新区", "district", "500157", None, None, 29.6, 106.6),
        Area("500157019", "观音桥街道", "street", "500157", "500157019", None, 29.575, 106.53,
             GUANYINQIAO),
        Area("500157019001", "新村社区", "community", "500157", "500157019", "500157019001",
             29.57, 106.53),
        Area("500107", "九龙坡区", "district", "500107", None, None, 29.5, 106.5),
        Area("500107003", "谢家湾街道", "street", "500107", "500107003", None, 29.52, 106.514,
             XIEJIAWAN),
        Area("500107003001", "新村社区", "community", "500107", "500107003", "500107003001",
             29.52, 106.514),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def gazetteer() -> gaz.Gazetteer:
    return gaz.build(_areas(), gaz.load_landmarks())


def test_the_shipped_landmarks_are_many_and_well_formed() -> None:
    entries = gaz.load_landmarks()
    assert len(entries) >= 150
    assert all(e["kind"] in ("road", "landmark") and len(e["at"]) == 2 for e in entries)


def test_a_landmark_and_the_detail_after_it(gazetteer: gaz.Gazetteer) -> None:
    found = gazetteer.find("观音桥步行街天桥下有人摆摊卖水果")
    assert found is not None
    assert found.matched == "观音桥步行街" and found.detail == "天桥下"
    assert found.place.kind == "landmark" and found.place.street_code == "500157019"
    assert GUANYINQIAO.contains(Point(found.place.lng, found.place.lat))
    assert found.confidence >= 0.8 and not found.candidates


def test_a_landmark_outside_its_street_on_this_map_is_moved_into_it(
    gazetteer: gaz.Gazetteer,
) -> None:
    found = gazetteer.find("民主村3栋门口的路灯不亮")
    assert found is not None
    assert found.place.street_code == "500107003" and found.detail == "3栋门口"
    assert XIEJIAWAN.contains(Point(found.place.lng, found.place.lat))


def test_short_forms_and_the_most_specific_name_win(gazetteer: gaz.Gazetteer) -> None:
    found = gazetteer.find("九龙坡谢家湾那边")
    assert found is not None and found.place.street_code == "500107003"
    street = gazetteer.find("我住在观音桥街道，门口有垃圾")
    assert street is not None and street.place.kind == "street"


def test_a_name_in_two_districts_prefers_the_reporters_else_lists_candidates(
    gazetteer: gaz.Gazetteer,
) -> None:
    ours = gazetteer.find("新村社区门口", district_code="500107")
    assert ours is not None and ours.place.community_code == "500107003001"
    assert not ours.candidates
    named = gazetteer.find("九龙坡区新村社区门口")
    assert named is not None and named.place.community_code == "500107003001"
    unsure = gazetteer.find("新村社区门口")
    assert unsure is not None and len(unsure.candidates) == 1
    assert unsure.confidence < ours.confidence


def test_text_naming_no_place_finds_nothing_and_bad_landmarks_are_reported() -> None:
    g = gaz.build(_areas(), [{"name": "无街道的地方", "at": [29.5, 106.5], "street": "不存在街道"},
                             {"name": "坏的"}])  # fmt: skip
    assert g.find("楼下垃圾没人收") is None
    assert len(g.errors) == 2
