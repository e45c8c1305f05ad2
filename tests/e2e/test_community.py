"""The community cockpit (数字社区驾驶舱) of 民主村社区 as the district dispatcher sees it: the twin
draws every building, a building shows its households, the nine boards show numbers, a camera
opens its picture, and a resident's new report appears without a reload."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
import shapely.geometry

from tests.e2e.conftest import Pages, Site

TIMEOUT = 60.0  # the first reads of a fresh server on a busy machine can be slow
BOARDS = [
    "overview",
    "management",
    "mutual_aid",
    "safety",
    "livable",
    "elderly",
    "convenience",
    "co_governance",
    "supervision",
]


def client(site: Site, username: str) -> httpx.Client:
    """An API client logged in as one of the demo accounts."""
    token = httpx.post(
        f"{site.url}/api/v1/auth/token",
        data={"username": username, "password": site.password},
        timeout=TIMEOUT,
    ).json()["access_token"]
    return httpx.Client(
        base_url=f"{site.url}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT
    )


@pytest.fixture(scope="module")
def minzhu(site: Site) -> dict[str, Any]:
    """民主村's code and twin as the API gives them to the dispatcher."""
    with client(site, "dispatcher") as api:
        found = api.get("/jurisdictions", params={"level": "community", "parent": "500107003"})
        code = next(
            f["properties"]["code"]
            for f in found.json()["features"]
            if f["properties"]["name"] == "民主村社区"
        )
        twin = api.get(f"/community/{code}/twin").json()
    buildings = [f for f in twin["features"] if f["properties"]["layer"] == "building"]
    assert buildings, "seed_city should give 民主村 its twin"
    return {"code": code, "twin": twin, "buildings": buildings}


def open_cockpit(pages: Pages) -> Any:
    page: Any = pages.open("dispatcher", "/community")
    page.wait_for_url(re.compile(r"/community/\d{12}$"))
    page.wait_for_selector("[data-test=twin-map] [data-building]")
    return page


def middle_home(buildings: list[dict[str, Any]]) -> dict[str, Any]:
    """The lived-in building nearest the middle of the twin: in view, clear of the map's panels."""
    shapes = [shapely.geometry.shape(b["geometry"]) for b in buildings]
    middle = shapely.geometry.MultiPolygon(shapes).envelope.centroid
    pairs = zip(buildings, shapes, strict=True)
    homes = [(b, s) for b, s in pairs if b["properties"]["households"]]
    return min(homes, key=lambda home: home[1].distance(middle))[0]


def test_dispatcher_lands_on_minzhu_and_the_twin_draws_every_building(
    pages: Pages, minzhu: dict[str, Any]
) -> None:
    page = open_cockpit(pages)
    assert page.url.endswith(f"/community/{minzhu['code']}")
    assert page.inner_text("[data-test=community-name]") == "民主村社区"
    drawn = int(page.inner_text("[data-test=twin-building-count]"))
    assert drawn == len(minzhu["buildings"])
    assert page.locator("[data-test=twin-map] [data-building]").count() == drawn
    pages.shoot(page, "cockpit")


def test_clicking_a_building_shows_its_households(
    pages: Pages, site: Site, minzhu: dict[str, Any]
) -> None:
    page = open_cockpit(pages)
    # Hide the markers, as one does to pick a building out of a busy map.
    for layer in ("facility", "camera", "device", "case"):
        page.click(f"[data-test=layer-{layer}]")
    building = middle_home(minzhu["buildings"])
    page.click(f"[data-building='{building['properties']['id']}']")
    panel = page.wait_for_selector("[data-test=building-panel] [data-test=building-households]")
    with client(site, "dispatcher") as api:
        detail = api.get(f"/community/{minzhu['code']}/buildings/{building['properties']['id']}")
    households = detail.json()["households"]
    assert households > 0
    assert page.inner_text("[data-test=building-name]") == building["properties"]["name"]
    assert re.sub(r"\D", "", panel.inner_text()) == str(households)
    pages.shoot(page, "building")


def test_the_nine_boards_show_their_numbers(pages: Pages) -> None:
    page = open_cockpit(pages)
    for key in BOARDS:
        board = page.wait_for_selector(f"[data-test=board-{key}]")
        values = [v.inner_text() for v in board.query_selector_all("[data-test^=metric-] .value")]
        assert values, f"board {key} shows no metrics"
        assert any(re.search(r"\d", v) for v in values), f"board {key} shows no number: {values}"
    # 社区概况 counts the buildings the twin draws.
    buildings = page.inner_text("[data-test=board-overview] [data-test=metric-buildings] .value")
    assert re.sub(r"\D", "", buildings) == page.inner_text("[data-test=twin-building-count]")
    page.wait_for_selector("[data-test=board-elderly] canvas")  # elderly by building


def test_a_camera_opens_its_snapshot(pages: Pages, site: Site, minzhu: dict[str, Any]) -> None:
    with client(site, "dispatcher") as api:
        cameras = api.get(f"/community/{minzhu['code']}/cameras").json()
    online = next(c for c in cameras if c["status"] == "online")
    page = open_cockpit(pages)
    entry = page.locator(f"[data-test=camera-{online['id']}]")
    entry.scroll_into_view_if_needed()
    with page.expect_response(
        lambda r: f"/cameras/{online['id']}/snapshot.svg" in r.url and "t=" in r.url
    ) as shown:
        entry.click()
    assert shown.value.status == 200
    image = page.wait_for_selector("[data-test=camera-dialog] [data-test=camera-snapshot]")
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image)
    pages.shoot(page, "camera")
    page.keyboard.press("Escape")
    offline = [c for c in cameras if c["status"] != "online"]
    if offline:  # greyed out, still listed
        style = page.locator(f"[data-test=camera-{offline[0]['id']}]").evaluate(
            "el => getComputedStyle(el).filter"
        )
        assert "grayscale" in style


def test_a_residents_new_report_appears_without_reload(
    pages: Pages, site: Site, minzhu: dict[str, Any]
) -> None:
    page = open_cockpit(pages)
    page.wait_for_selector("[data-test=community-reports] [data-test=reports-all]")
    building = minzhu["buildings"][len(minzhu["buildings"]) // 3]
    spot = shapely.geometry.shape(building["geometry"]).centroid
    with client(site, "resident") as api:
        made = api.post(
            "/cases",
            json={
                "category": "06010",
                "channel": "resident",
                "location": {"lat": spot.y, "lng": spot.x},
                "title": "楼下垃圾堆了三天没人清运",
                "description": "垃圾堆在单元门口，气味很大，联系电话 13812345678",
                "address": f"{building['properties']['name']}1单元",
            },
        )
    assert made.status_code == 201, made.text
    case_id = made.json()["case"]["id"]
    item = page.wait_for_selector(f"[data-test=community-reports] [data-test=report-{case_id}]")
    text = item.inner_text()
    assert "楼下垃圾堆了三天没人清运" in text
    assert "已上报" in text  # its status tag
    assert "13812345678" not in text  # residents' numbers are masked
    item.scroll_into_view_if_needed()
    pages.shoot(page, "report")
