"""The operations cockpit (城运驾驶舱) as a district dispatcher and a city admin use it.

A few sensing devices and reported cases are added to the seeded city first, so every layer has
points and the tiles have something to count; an alarm is written as the rules engine would
write it, then announced on the bus.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from cityops.bus.memory import Event
from cityops.rules.models import Alarm
from cityops.sensing.models import Thing
from cityops.sim.device_provision import provision
from cityops.store.engine import transaction
from tests.e2e.conftest import Pages, Site

DISTRICT = "500107"
CATEGORIES = ("06010", "06012", "06036", "06042")
READY = "[data-test=cockpit][data-ready=true]"
POINTS_IN = "[data-test=map-legend][data-loaded=true]"


class Client:
    """The API as one demo account sees it."""

    def __init__(self, site: Site, username: str) -> None:
        r = httpx.post(
            f"{site.url}/api/v1/auth/token", data={"username": username, "password": site.password}
        )
        self.http = httpx.Client(
            base_url=f"{site.url}/api/v1",
            headers={"Authorization": f"Bearer {r.json()['access_token']}"},
            timeout=60,
        )

    def get(self, path: str, **params: Any) -> Any:
        r = self.http.get(path, params=params)
        assert r.status_code == 200, r.text
        return r.json()

    def report(self, lat: float, lng: float, n: int) -> dict[str, Any]:
        body = {
            "category": CATEGORIES[n % len(CATEGORIES)],
            "channel": "hotline",
            "location": {"lat": lat, "lng": lng},
            "description": f"驾驶舱测试上报 {n}",
        }
        r = self.http.post("/cases", json=body)
        assert r.status_code in (200, 201), r.text
        return dict(r.json()["case"])


@pytest.fixture(scope="module")
def dispatcher(site: Site) -> Client:
    return Client(site, "dispatcher")


@pytest.fixture(scope="module")
def streets(site: Site, dispatcher: Client) -> list[dict[str, Any]]:
    """九龙坡's streets (code, name, a point inside), after devices and cases were added there."""
    with transaction(site.ctx.sessions) as session:
        provision(session=session, count=300, clock=site.ctx.clock, district=DISTRICT)
    fc = dispatcher.get("/jurisdictions", level="street", parent=DISTRICT, simplify=500)
    out = [
        {"code": f["properties"]["code"], "name": f["properties"]["name"],
         "lng": f["properties"]["center"][0], "lat": f["properties"]["center"][1]}
        for f in fc["features"]
    ]  # fmt: skip
    for n, s in enumerate(out[:6]):
        dispatcher.report(s["lat"], s["lng"], n)
    return out


def tile(page: Any, key: str) -> str:
    return str(page.get_attribute(f"[data-test=tile-{key}]", "data-value"))


def assert_tiles_match(page: Any, summary: dict[str, Any]) -> None:
    tiles = summary["tiles"]
    for key in ("cases_today", "open", "overdue", "on_time_rate", "closure_rate", "satisfaction"):
        want = "" if tiles[key] is None else str(tiles[key])
        assert float(tile(page, key) or 0) == float(want or 0), key
    shown = page.inner_text("[data-test=tile-open] [data-test=tile-value]")
    assert int(re.sub(r"\D", "", shown)) == tiles["open"]
    alarms = sum(tiles["alarms_active_by_severity"].values())
    assert int(tile(page, "alarms")) == alarms


def test_dispatcher_lands_on_the_cockpit_with_the_districts_numbers(
    pages: Pages, dispatcher: Client, streets: list[dict[str, Any]]
) -> None:
    page: Any = pages.open("dispatcher")
    page.wait_for_selector(READY)
    assert page.url.endswith("/cockpit")
    assert page.get_attribute("[data-test=cockpit]", "data-scope") == DISTRICT
    summary = dispatcher.get("/cockpit/summary")
    assert summary["tiles"]["cases_today"] >= 6
    assert_tiles_match(page, summary)
    assert summary["scope"]["name"] in page.inner_text("[data-test=breadcrumb]")
    for chart in ("category", "trend", "ranking"):
        page.wait_for_selector(f"[data-test=chart-{chart}] canvas")
    assert page.is_disabled("[data-test=level-city]")  # a dispatcher's view stops at the district
    page.wait_for_selector(POINTS_IN)
    pages.shoot(page, "district")


def test_layer_toggles_change_what_the_map_draws(
    pages: Pages, dispatcher: Client, streets: list[dict[str, Any]]
) -> None:
    page: Any = pages.open("dispatcher", "/cockpit")
    page.wait_for_selector(READY)
    page.wait_for_selector(POINTS_IN)
    counts = {
        k: int(page.get_attribute(f"[data-test=legend-count-{k}]", "data-value") or 0)
        for k in ("components", "devices", "cases", "alarms")
    }
    for layer in ("components", "devices", "cases"):
        assert counts[layer] == dispatcher.get("/map/points", layer=layer, scope=DISTRICT)["count"]
        assert counts[layer] > 0, layer
    total = int(page.get_attribute("[data-test=drawn-points]", "data-value") or 0)
    assert total == sum(counts.values())
    layers_drawn = page.locator(".leaflet-points-pane > .leaflet-layer").count()
    page.uncheck("[data-test=toggle-components]")
    page.wait_for_selector(f"[data-test=drawn-points][data-value='{total - counts['components']}']")
    assert page.locator(".leaflet-points-pane > .leaflet-layer").count() == layers_drawn - 1
    page.check("[data-test=toggle-components]")
    page.wait_for_selector(f"[data-test=drawn-points][data-value='{total}']")
    # A click on a case's point opens its popup with the way to the case.
    case = dispatcher.get("/map/points", layer="cases", scope=DISTRICT)
    at = page.evaluate(
        "([lat, lng]) => { const p = window.__cockpitMap.latLngToContainerPoint([lat, lng]);"
        " const r = document.querySelector('[data-test=cockpit-map]').getBoundingClientRect();"
        " return [p.x + r.left, p.y + r.top] }",
        [case["lat"][0], case["lng"][0]],
    )
    page.mouse.click(at[0], at[1])
    link = page.wait_for_selector(".cp-popup a[data-route]")
    assert link.get_attribute("href") == f"/cases/{case['id'][0]}"
    pages.shoot(page, "popup")


def test_switching_to_a_street_and_back(
    pages: Pages, dispatcher: Client, streets: list[dict[str, Any]]
) -> None:
    page: Any = pages.open("dispatcher", "/cockpit")
    page.wait_for_selector(READY)
    street = streets[0]
    page.select_option("[data-test=child-select]", street["code"])
    page.wait_for_selector(f"[data-test=cockpit][data-scope='{street['code']}'][data-ready=true]")
    assert page.url.endswith(f"/cockpit/{street['code']}")
    assert street["name"] in page.inner_text("[data-test=breadcrumb]")
    assert_tiles_match(page, dispatcher.get("/cockpit/summary", scope=street["code"]))
    page.wait_for_selector(POINTS_IN)
    pages.shoot(page, "street")
    page.click("[data-test=level-district]")  # one click up
    page.wait_for_selector(f"[data-test=cockpit][data-scope='{DISTRICT}'][data-ready=true]")
    assert_tiles_match(page, dispatcher.get("/cockpit/summary"))
    page.click("[data-test=level-street]")  # and straight back to the street last seen
    page.wait_for_selector(f"[data-test=cockpit][data-scope='{street['code']}'][data-ready=true]")


def test_admin_sees_the_city_and_drills_into_a_district(
    pages: Pages, site: Site, streets: list[dict[str, Any]]
) -> None:
    admin = Client(site, "admin")
    page: Any = pages.open("admin")
    page.wait_for_selector("[data-test=cockpit][data-level=city][data-ready=true]")
    summary = admin.get("/cockpit/summary")
    assert summary["children_level"] == "district"
    assert_tiles_match(page, summary)
    page.wait_for_selector("[data-test=chart-ranking] canvas")
    page.wait_for_selector(POINTS_IN)
    pages.shoot(page, "city")
    page.select_option("[data-test=child-select]", DISTRICT)
    page.wait_for_selector(f"[data-test=cockpit][data-scope='{DISTRICT}'][data-ready=true]")
    page.click("[data-test=level-city]")
    page.wait_for_selector("[data-test=cockpit][data-level=city][data-ready=true]")


def test_a_case_reported_while_the_cockpit_is_open_appears_live(
    pages: Pages, dispatcher: Client, streets: list[dict[str, Any]]
) -> None:
    page: Any = pages.open("dispatcher", "/cockpit")
    page.wait_for_selector(READY)
    page.wait_for_selector(POINTS_IN)
    page.evaluate("window.__sameDocument = true")
    today = int(tile(page, "cases_today"))
    street = streets[-1]
    case = dispatcher.report(street["lat"] + 0.0003, street["lng"], 99)
    item = page.wait_for_selector(f"[data-test=live-feed] [data-case-id='{case['id']}']")
    assert "驾驶舱测试上报" in item.inner_text() or case["title"] in item.inner_text()
    page.wait_for_selector(f"[data-test=tile-cases_today][data-value='{today + 1}']")
    page.wait_for_selector(".cp-pulse")  # where it was reported, on the map
    assert page.evaluate("window.__sameDocument") is True  # no reload
    pages.shoot(page, "live")


def test_an_alarm_raised_while_the_admin_watches_shows_on_tiles_feed_and_map(
    pages: Pages, site: Site, streets: list[dict[str, Any]]
) -> None:
    page: Any = pages.open("admin", "/cockpit")
    page.wait_for_selector(READY)
    page.wait_for_selector(POINTS_IN)
    now = datetime.now(UTC)
    with transaction(site.ctx.sessions) as session:
        thing = session.execute(select(Thing.id).order_by(Thing.id).limit(1)).scalar_one()
        alarm = Alarm(
            plan_id="septic-ch4", instance=f"thing:{thing}", open_key=f"septic-ch4|thing:{thing}",
            state="active", severity="red", message="化粪池甲烷浓度超限",
            jurisdiction_code=streets[0]["code"], raised_at=now,
        )  # fmt: skip
        session.add(alarm)
        session.flush()
        body = {"alarm_id": alarm.id, "plan": "septic-ch4", "source": alarm.instance,
                "state": "active", "severity": "red", "at": now.isoformat()}  # fmt: skip
    try:
        site.ctx.bus.publish(Event("alarms.raised", body))
        page.wait_for_selector(f"[data-test=live-feed] [data-alarm-id='{body['alarm_id']}']")
        page.wait_for_selector(".cp-pulse.alarms")
        page.wait_for_selector("[data-test=alarm-red]:not([data-value='0'])")
        assert int(page.get_attribute("[data-test=legend-count-alarms]", "data-value")) >= 1
        pages.shoot(page, "alarm")
    finally:
        with transaction(site.ctx.sessions) as session:
            session.execute(
                update(Alarm)
                .where(Alarm.id == body["alarm_id"])
                .values(state="cleared", open_key=None)
            )
