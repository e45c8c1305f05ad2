"""智慧河长 一张图 and 巡河 on the phone: stations with their latest values and sparklines, the
basin table, a pollution event arriving live in the events list with its chief and case, and a
patrol walked on the phone (start, two positions, a problem with a photo, a reload, a finish
without network that completes when the network is back) whose track the river page then draws.

Readings go in as the sensing door takes them (POST /observations as the admin); the event comes
from an imported drone detection (POST /river/detections, confidence 1.0).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.e2e.conftest import Pages, Site
from tests.e2e.test_field_apps import Api, photo, png

# A reading per key item, in GB 3838 class II-III water, and an ammonia that makes it class IV.
CLEAN = {"ph": 7.5, "do": 6.8, "codmn": 3.6, "cod": 14.0, "bod5": 2.5, "nh3n": 0.42, "tp": 0.08,
         "tn": 0.9, "conductivity": 420.0, "turbidity": 12.0}  # fmt: skip


def _post_readings(site: Site, station: dict[str, Any], nh3n_last: float = 1.3) -> None:
    """Six hours of readings for the station's key items, the last hour's ammonia raised."""
    admin = Api(site, "admin")
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    rows = []
    for v in station["values"]:
        if v["item"] not in CLEAN:
            continue
        for h in range(6, 0, -1):
            value = CLEAN[v["item"]] * (1 + 0.03 * (h % 3))
            if v["item"] == "nh3n" and h == 1:
                value = nh3n_last
            t = (now - timedelta(hours=h)).isoformat()
            rows.append(
                {"datastream_id": v["datastream_id"], "phenomenon_time": t, "result": value}
            )
    answer = admin.call("POST", "observations", rows)  # type: ignore[arg-type]
    assert not answer.get("rejected"), answer


def _stations(site: Site, river: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = Api(site, "admin").call("GET", f"river/stations?river={river}")[
        "items"
    ]
    assert items, f"no stations seeded on {river}"
    return items


def _click_station(page: Any, code: str) -> None:
    dot = page.wait_for_selector(f"[data-test=river-map] path[data-station='{code}']")
    box = dot.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)


def test_a_station_shows_its_latest_values_and_sparklines(pages: Pages) -> None:
    site = pages.site
    stations = _stations(site, "LJH")
    fed = stations[0]
    silent = next(s for s in stations if s["section_code"] != fed["section_code"])
    _post_readings(site, fed)
    page: Any = pages.open("admin", "/river/LJH")
    page.wait_for_selector(f"path[data-station='{fed['code']}'][data-class='IV']")
    # The section is coloured by its current class (the ammonia's IV), or by its target.
    section = f"path[data-section='{fed['section_code']}']"
    assert page.get_attribute(section, "data-class") == "IV"
    page.click("[data-test=mode-target]")
    page.wait_for_selector(f"{section}[data-class='{fed['target_class']}']")
    page.click("[data-test=mode-current]")

    _click_station(page, silent["code"])
    page.wait_for_selector(f"[data-test=station-panel][data-station='{silent['code']}']")
    assert "暂无监测数据" in page.inner_text("[data-test=station-nodata]")
    page.click("[data-test=station-panel] header button")

    _click_station(page, fed["code"])
    panel = page.wait_for_selector(f"[data-test=station-panel][data-station='{fed['code']}']")
    assert "IV类" in page.inner_text("[data-test=station-class]")
    page.wait_for_selector("[data-test=spark-nh3n] canvas")
    page.wait_for_selector("[data-test=spark-do] canvas")
    values = page.inner_text("[data-test=station-values]")
    assert "氨氮" in values and "1.3" in values and "mg/L" in values
    assert "溶解氧" in values
    assert panel.query_selector("tr[data-item=nh3n] .tag").inner_text() == "IV"
    pages.shoot(page, "station")


def test_the_basin_table_grades_each_river_and_the_whole_basin(pages: Pages) -> None:
    site = pages.site
    _post_readings(site, _stations(site, "LJH")[0])
    page: Any = pages.open("admin", "/river/LJH")
    table = page.wait_for_selector("[data-test=basin-table]")
    row = page.wait_for_selector("[data-test=basin-row][data-river=LJH]")
    text = row.inner_text()
    assert "临江河" in text and "1/" in text  # one of its sections assessed
    assert page.query_selector("[data-test=basin-row][data-river=all]") is not None
    assert "全流域" in table.inner_text()
    page.wait_for_selector("[data-test=trend] canvas")
    page.locator("[data-test=basin-panel]").scroll_into_view_if_needed()
    pages.shoot(page, "basin")


def _point_on(site: Site, user: str, district: str | None = None) -> tuple[str, float, float]:
    """A section of the user's jurisdiction and a vertex in the middle of its line."""
    api = Api(site, user)
    for river in api.call("GET", "river/rivers")["items"]:
        for f in api.call("GET", f"river/rivers/{river['code']}")["features"]:
            if district and f["properties"]["district_code"] != district:
                continue
            coords = f["geometry"]["coordinates"]
            lng, lat = coords[len(coords) // 2]
            return f["properties"]["code"], lat, lng
    raise AssertionError(f"no section for {user}")


def test_a_new_pollution_event_arrives_live_with_its_chief_and_case(pages: Pages) -> None:
    site = pages.site
    page: Any = pages.open("dispatcher", "/river")
    page.wait_for_selector("[data-test=event-list]")
    _, lat, lng = _point_on(site, "dispatcher", "500107")
    item = {
        "source": "drone", "external_id": f"e2e-{time.time_ns()}", "kind": "floating_debris",
        "lat": lat, "lng": lng, "confidence": 1.0, "image_ref": "https://example.org/drone.jpg",
        "detected_at": datetime.now(UTC).isoformat(),
    }  # fmt: skip
    answer = Api(site, "admin").call("POST", "river/detections", {"items": [item]})
    (result,) = answer["items"]
    assert result["status"] == "accepted", result
    case_id = result["case_id"]
    event = page.wait_for_selector(f"[data-test=event][data-case='{case_id}']")  # no reload
    text = event.inner_text()
    assert "无人机" in text and "水面漂浮物" in text
    chief = event.query_selector("[data-test=event-chief]").inner_text()
    assert "河长" in chief and chief != "河长空缺"
    assert event.query_selector("[data-test=event-department]").inner_text().strip()
    status = event.query_selector("[data-test=event-status]").get_attribute("data-status")
    assert status in {"dispatched", "filed", "accepted", "reported"}
    page.wait_for_selector(f".river-event span[data-event='{result['event_id']}']")  # on the map
    pages.shoot(page, "event")
    event.query_selector("[data-test=event-case]").click()
    page.wait_for_url(f"**/cases/{case_id}")


def test_a_patrol_on_the_phone_is_recorded_and_drawn_on_the_river_page(pages: Pages) -> None:
    site = pages.site
    code, lat, lng = _point_on(site, "worker")
    page: Any = pages.open("worker", "/", mobile=True)
    page.context.grant_permissions(["geolocation"], origin=site.url)
    page.context.set_geolocation({"latitude": lat, "longitude": lng, "accuracy": 8})
    page.goto(site.url + "/patrol")
    page.click(f"[data-test=pick-section][data-section='{code}']")
    page.click("[data-test=patrol-begin]")
    active = page.wait_for_selector("[data-test=patrol-active][data-patrol]:not([data-patrol=''])")
    patrol_id = active.get_attribute("data-patrol")
    page.wait_for_selector("[data-test=gps-state]:has-text('定位正常')")

    page.reload()  # the patrol survives a reload: same patrol, same fixes
    active = page.wait_for_selector(f"[data-test=patrol-active][data-patrol='{patrol_id}']")
    assert int(page.inner_text("[data-test=patrol-fixes]")) >= 1

    time.sleep(4)  # walking pace: 45 m in 4 s is under the track's speed limit
    moved = {"latitude": lat + 0.0003, "longitude": lng + 0.0003, "accuracy": 8}
    page.context.set_geolocation(moved)
    page.wait_for_function(
        "() => Number(document.querySelector('[data-test=patrol-fixes]').innerText) >= 2"
    )

    page.click("[data-test=patrol-report]")
    page.fill("[data-test=issue-description]", "河面有大片漂浮垃圾")
    page.set_input_files("[data-test=issue-gallery]", files=[photo("river.png", png())])
    page.wait_for_selector("[data-test=issue-thumb]")
    page.click("[data-test=issue-send]")
    assert "案件编号" in page.wait_for_selector("[data-test=issue-done]").inner_text()
    pages.shoot(page, "patrol-active")

    # Finishing in a dead zone: the track and the finish wait on the phone for the network.
    pages.console.allow("ERR_INTERNET_DISCONNECTED")
    page.context.set_offline(True)
    page.click("[data-test=patrol-finish]")
    page.click("[data-test=patrol-confirm-finish]")
    assert "网络不可用" in page.wait_for_selector("[data-test=sync-error]").inner_text()
    assert "正在结束巡河" in page.inner_text("[data-test=patrol-active]")
    pages.shoot(page, "patrol-offline")
    page.context.set_offline(False)
    done = page.wait_for_selector("[data-test=done-mileage]").inner_text()
    assert float(done.split()[0]) > 0, done
    page.wait_for_selector(f"[data-test=history-item][data-patrol='{patrol_id}']")
    pages.shoot(page, "patrol-done")

    desk: Any = pages.open("dispatcher", "/river")
    desk.wait_for_selector("[data-test=river-list] [data-river]")
    desk.click("[data-test=tab-patrols]")
    desk.click(f"[data-test=patrol][data-patrol='{patrol_id}']")
    desk.wait_for_selector(f"path.patrol-track[data-patrol='{patrol_id}']")
    assert "公里" in desk.inner_text("[data-test=track-chip]")
    pages.shoot(desk, "patrol-track")


def test_the_operations_page_and_the_phone_page_read_in_english(pages: Pages) -> None:
    page: Any = pages.open("admin", "/river")
    page.wait_for_selector("[data-test=river-list] [data-river]")
    page.select_option("[data-test=locale]", "en")
    page.wait_for_selector("text=Basin water quality")
    page.wait_for_selector("[data-test=basin-row]")
    page.click("[data-test=tab-patrols]")
    page.wait_for_selector("[data-test=patrol-list] .bar")
    text = page.inner_text("[data-test=river-page]")
    assert "Pollution events" in text and "Patrol KPIs" in text
    assert "river." not in text  # no message key left untranslated
    pages.shoot(page, "english")

    phone: Any = pages.open("worker", "/patrol", mobile=True)
    phone.select_option("[data-test=locale]", "en")
    phone.wait_for_selector("[data-test=pick-section]")
    text = phone.inner_text("[data-test=patrol-page]")
    assert "Start patrol" in text
    assert "patrol." not in text and "river." not in text
    pages.shoot(phone, "phone-english")
