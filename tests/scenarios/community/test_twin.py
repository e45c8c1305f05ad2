"""The twin generator, the camera links and frames, the text masking: pure, no database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import shapely
from shapely.geometry import Polygon, box
from shapely.geometry.base import BaseGeometry

from cityops.errors import Forbidden
from cityops.scenarios.community import snapshot, twin
from cityops.scenarios.community.boards import mask
from cityops.scenarios.community.models import BuildingKind, FacilityKind

SQUARE = box(106.50, 29.50, 106.51, 29.52)  # SmallCity's 社区1, about 1 km × 2.2 km
L_SHAPE = Polygon(
    [(106.50, 29.50), (106.512, 29.50), (106.512, 29.504), (106.504, 29.504),
     (106.504, 29.512), (106.50, 29.512)]
)  # fmt: skip
SLIVER = Polygon([(106.50, 29.50), (106.52, 29.503), (106.505, 29.506)])
SHAPES = {"square": SQUARE, "l_shape": L_SHAPE, "sliver": SLIVER}


def plan(poly: BaseGeometry, seed: int = 7) -> twin.TwinPlan:
    return twin.generate(poly, seed=seed, code="500107003001", name="民主村社区")


@pytest.mark.parametrize("shape", list(SHAPES))
def test_buildings_lie_inside_the_community_and_never_overlap(shape: str) -> None:
    poly = SHAPES[shape]
    result = plan(poly)
    footprints = [b.footprint for b in result.buildings]
    assert footprints, "a community of this size gets buildings"
    assert all(poly.contains(f) for f in footprints)
    # Stored rounded to 1e-7° (about 1 cm): still inside, still apart.
    rounded = [shapely.set_precision(f, 1e-7) for f in footprints]
    assert all(poly.contains(f) for f in rounded)
    tree = shapely.STRtree(rounded)
    for i, f in enumerate(rounded):
        hits = [int(j) for j in tree.query(f, predicate="intersects") if int(j) != i]
        assert hits == [], (result.buildings[i].name, [result.buildings[j].name for j in hits])
    for thing in [*result.facilities, *result.cameras]:
        assert poly.contains(thing.point)
    for road in result.roads:
        assert road.line.geom_type == "LineString" and poly.buffer(1e-9).contains(road.line)


def test_same_seed_same_twin_other_seed_other_twin() -> None:
    a, b, c = plan(SQUARE), plan(SQUARE), plan(SQUARE, seed=8)
    assert a == b
    assert [x.footprint.wkb for x in a.buildings] != [x.footprint.wkb for x in c.buildings]
    other = twin.generate(SQUARE, seed=7, code="500107001001", name="社区1")
    assert [x.footprint.wkb for x in a.buildings] != [x.footprint.wkb for x in other.buildings]


def test_a_plausible_community() -> None:
    result = plan(SQUARE)
    names = [b.name for b in result.buildings]
    assert names[:3] == ["民主村1栋", "民主村2栋", "民主村3栋"] and len(set(names)) == len(names)
    assert 40 <= len(result.buildings) <= 200
    assert {f.kind for f in result.facilities} == set(FacilityKind)
    assert len(result.cameras) == 12
    for b in result.buildings:
        if b.kind is BuildingKind.residential:
            assert b.households > 0 and b.elderly <= b.residents
            assert b.households <= b.residents <= 3 * b.households
        else:
            assert (b.households, b.residents, b.elderly) == (0, 0, 0)
    hosted = {f.kind: f.building for f in result.facilities if f.building is not None}
    assert result.buildings[hosted[FacilityKind.service_centre]].kind is BuildingKind.public
    assert result.buildings[hosted[FacilityKind.market]].kind is BuildingKind.commercial
    assert all(r.name.startswith("民主村") for r in result.roads)


def test_a_community_too_small_for_a_building_gets_an_empty_twin() -> None:
    assert plan(box(106.5, 29.5, 106.5001, 29.5001)) == twin.TwinPlan()


def test_chinese_numbers_for_road_names() -> None:
    assert [twin.chinese_number(n) for n in (1, 9, 10, 12, 20, 23)] == [
        "一", "九", "十", "十二", "二十", "二十三",
    ]  # fmt: skip


NOW = int(datetime(2026, 11, 25, 1, 0, tzinfo=UTC).timestamp())


def test_a_signed_camera_link_opens_until_it_expires() -> None:
    exp = snapshot.expiry(NOW)
    assert exp - NOW >= snapshot.LINK_TTL_S
    url = snapshot.sign(snapshot.snapshot_path(5), secret="s", camera_id=5, exp=exp)
    sig = url.split("sig=")[1]
    snapshot.check(secret="s", camera_id=5, exp=exp, sig=sig, now_s=NOW)
    refused = [
        dict(secret="other", camera_id=5, exp=exp, sig=sig, now_s=NOW),  # another server
        dict(secret="s", camera_id=6, exp=exp, sig=sig, now_s=NOW),  # another camera
        dict(secret="s", camera_id=5, exp=exp + 3600, sig=sig, now_s=NOW),  # stretched
        dict(secret="s", camera_id=5, exp=None, sig=None, now_s=NOW),
    ]
    for kwargs in refused:
        with pytest.raises(Forbidden) as err:
            snapshot.check(**kwargs)  # type: ignore[arg-type]
        assert err.value.code == "bad_camera_link"
    with pytest.raises(Forbidden) as err:
        snapshot.check(secret="s", camera_id=5, exp=exp, sig=sig, now_s=exp)
    assert err.value.code == "camera_link_expired"
    assert snapshot.sign("rtsp://cam/1", secret="s", camera_id=5, exp=exp) == "rtsp://cam/1"


def test_the_frame_shows_the_name_and_time_and_escapes_markup() -> None:
    at = datetime(2026, 11, 25, 9, 0, 5)
    svg = snapshot.frame_svg(camera_id=3, name="1栋<script>", online=True, at=at)
    assert svg.startswith("<svg") and "2026-11-25 09:00:05" in svg
    assert "<script>" not in svg and "1栋&lt;script&gt;" in svg
    assert "NO SIGNAL" in snapshot.frame_svg(camera_id=3, name="x", online=False, at=at)
    page = snapshot.live_html(name="东门", snapshot_url="/a/snapshot.svg?exp=1&sig=ab")
    assert 'src="/a/snapshot.svg?exp=1&amp;sig=ab"' in page and "setInterval" in page


def test_phone_and_id_numbers_are_masked() -> None:
    text = "3栋漏水，联系13812341234或023-68001234，身份证500107199001011234"
    assert mask(text) == "3栋漏水，联系138****1234或023-68001234，身份证500107********1234"
    assert mask("订单号 213812341234567") == "订单号 213812341234567"  # not a phone number
