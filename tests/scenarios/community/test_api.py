"""The community cockpit over HTTP, on both backends: twin, buildings, boards, cameras, reports.

SmallCity's 社区1 (500107001001, in street 500107001 of 九龙坡) gets its twin through the
service, as the seed gives 民主村 its own; cases come in through the case API.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
import shapely
from sqlalchemy import func, select

from cityops.auth.models import User
from cityops.cases.models import Case
from cityops.ledger.models import LedgerEntry
from cityops.rules.models import Alarm
from cityops.scenarios.community import service
from cityops.scenarios.community.models import Building
from cityops.sensing import entities
from cityops.sensing.models import Location, Thing
from tests.api.conftest import Api, api  # noqa: F401
from tests.citykit import X0, Y0

CODE, OTHER = "500107001001", "500107002001"
BASE = f"/api/v1/community/{CODE}"


@pytest.fixture
def cockpit(api: Api) -> Api:  # noqa: F811
    with api.ctx.sessions.begin() as s:
        made = service.ensure_twin(session=s, community_code=CODE, seed=7, at=api.clock.now())
    assert made.created and made.buildings > 20 and made.cameras == 12
    return api


def get(cp: Api, path: str, who: str = "dispatcher", **params: Any) -> Any:
    r = cp.client.get(path, headers=cp.headers(who), params=params)
    return r


def buildings(cp: Api) -> list[Building]:
    with cp.ctx.sessions() as s:
        return list(s.scalars(select(Building).where(Building.community_code == CODE)))


def centre(b: Building) -> dict[str, float]:
    p = shapely.geometry.shape(json.loads(b.footprint)).representative_point()
    return {"lat": p.y, "lng": p.x}


def report(cp: Api, who: str, at: dict[str, float], **over: Any) -> dict[str, Any]:
    body = {"category": "06010", "channel": "inspector", "location": at, "description": "垃圾"}
    r = cp.client.post("/api/v1/cases", headers=cp.headers(who), json=body | over)
    assert r.status_code == 201, r.text
    return dict(r.json()["case"])


def act(cp: Api, case_id: int, action: str, **body: Any) -> None:
    r = cp.client.post(
        f"/api/v1/cases/{case_id}/transitions",
        headers=cp.headers("dispatcher"),
        json={"action": action, **body},
    )
    assert r.status_code == 200, r.text


def board(boards: dict[str, Any], key: str) -> tuple[dict[str, Any], list[Any]]:
    b = next(x for x in boards["boards"] if x["key"] == key)
    return {m["key"]: m["value"] for m in b["metrics"]}, b["items"]


def test_the_twin_is_geojson_with_every_layer_and_ensure_twin_is_idempotent(
    cockpit: Api,
) -> None:
    r = get(cockpit, f"{BASE}/twin")
    assert r.status_code == 200, r.text
    twin = r.json()
    assert twin["type"] == "FeatureCollection" and twin["community"]["name"] == "社区1"
    layers: dict[str, list[Any]] = {}
    for f in twin["features"]:
        layers.setdefault(f["properties"]["layer"], []).append(f)
    assert set(layers) == {"boundary", "building", "road", "facility", "camera"}
    assert len(layers["building"]) == len(buildings(cockpit)) and len(layers["camera"]) == 12
    first = layers["building"][0]
    assert first["geometry"]["type"] == "Polygon" and first["id"].startswith("building:")
    props = first["properties"]
    assert {"households", "residents", "elderly", "facilities", "devices", "open_issues"} <= set(
        props
    )
    hosted = [f for f in layers["facility"] if f["properties"]["building_id"] is not None]
    assert any(f["properties"]["kind"] == "社区服务中心" for f in hosted)
    assert all(f["geometry"]["type"] == "LineString" for f in layers["road"])
    with cockpit.ctx.sessions.begin() as s:
        again = service.ensure_twin(session=s, community_code=CODE, seed=99)
        entries = s.scalar(
            select(func.count())
            .select_from(LedgerEntry)
            .where(LedgerEntry.action == "community_twin_generated")
        )
    assert not again.created and again.buildings == len(layers["building"]) and entries == 1


def test_cases_and_devices_land_on_their_buildings(cockpit: Api) -> None:
    homes = buildings(cockpit)
    target, other = homes[0], homes[-1]
    inside = report(cockpit, "inspector", centre(target))
    named = report(cockpit, "inspector", centre(other), address=f"{target.name}2单元门口")
    elsewhere = report(cockpit, "inspector", {"lat": Y0 + 0.0005, "lng": X0 + 0.0005})
    with cockpit.ctx.sessions.begin() as s:
        thing = entities.create(session=s, model=Thing, values={"name": "烟感 1"})
        loc = entities.create(
            session=s, model=Location,
            values={"name": target.name, "location": {"type": "Point",
                    "coordinates": [centre(target)["lng"], centre(target)["lat"]]}},
        )  # fmt: skip
        entities.set_thing_locations(
            session=s, thing_id=thing.id, location_ids=[loc.id], clock=cockpit.clock
        )
    detail = get(cockpit, f"{BASE}/buildings/{target.id}").json()
    assert {i["id"] for i in detail["open_issues"]} == {inside["id"], named["id"]}
    assert [d["name"] for d in detail["devices"]] == ["烟感 1"]
    assert detail["households"] == target.households and detail["footprint"]["type"] == "Polygon"
    twin = get(cockpit, f"{BASE}/twin").json()["features"]
    cases = {f["properties"]["id"]: f for f in twin if f["properties"]["layer"] == "case"}
    assert set(cases) == {inside["id"], named["id"], elsewhere["id"]}
    assert cases[inside["id"]]["properties"]["building_id"] == target.id
    shown = next(f for f in twin if f["id"] == f"building:{target.id}")["properties"]
    assert shown["open_issues"] == 2 and shown["devices"] == 1
    # A field worker sees the cases assigned to him, as in GET /cases.
    worker = get(cockpit, f"{BASE}/twin", who="worker").json()["features"]
    mine = {f["properties"]["id"] for f in worker if f["properties"]["layer"] == "case"}
    with cockpit.ctx.sessions() as s:
        assigned = set(
            s.scalars(select(Case.id).where(Case.worker_id == cockpit.city.workers["near"]))
        )
    assert mine == assigned
    r = get(cockpit, f"{BASE}/buildings/999999")
    assert r.status_code == 404 and r.json()["error"]["code"] == "building_not_found"


def test_boards_count_the_communitys_cases(cockpit: Api) -> None:
    homes = buildings(cockpit)
    a = report(cockpit, "inspector", centre(homes[0]))
    b = report(cockpit, "inspector", centre(homes[1]))
    mine = report(
        cockpit, "resident", centre(homes[2]), channel="resident",
        description="楼道堆物，联系我13812345678", reporter_name="赵六",
    )  # fmt: skip
    report(cockpit, "admin", {"lat": Y0 + 0.012, "lng": X0 + 0.014})  # 社区2: not counted
    act(cockpit, b["id"], "close_special", reason="现场已清理")
    act(cockpit, a["id"], "escalate", reason="群众反映强烈")
    with cockpit.ctx.sessions.begin() as s:
        s.add(Alarm(plan_id="septic-gas", instance="x", open_key="k", state="active",
                    severity="major", message="甲烷超限", jurisdiction_code=f"{CODE}001",
                    raised_at=cockpit.clock.now()))  # fmt: skip
    boards = get(cockpit, f"{BASE}/boards").json()
    assert [x["key"] for x in boards["boards"]] == [
        "overview", "management", "mutual_aid", "safety", "livable", "elderly", "convenience",
        "co_governance", "supervision",
    ]  # fmt: skip
    overview, _ = board(boards, "overview")
    homes_only = [h for h in homes if h.kind.value == "住宅"]
    assert overview["buildings"] == len(homes)
    assert overview["residents"] == sum(h.residents for h in homes_only)
    assert overview["elderly"] == sum(h.elderly for h in homes_only) and overview["grids"] == 4
    management, by_category = board(boards, "management")
    assert (management["cases"], management["open"], management["closed"]) == (3, 2, 1)
    assert management["closure_rate"] == 33.3 and management["cameras_online"] >= 1
    assert by_category == [{"category_code": "06010", "category_name": by_category[0][
        "category_name"], "count": 2}]  # fmt: skip
    together, recent = board(boards, "co_governance")
    assert (together["reports"], together["open"], together["closed"]) == (1, 1, 0)
    assert [r["id"] for r in recent] == [mine["id"]]
    assert "138****5678" in recent[0]["description"] and "赵六" not in json.dumps(recent)
    safety, alarms = board(boards, "safety")
    assert safety["alarms_active"] == 1 and [x["message"] for x in alarms] == ["甲烷超限"]
    supervision, _ = board(boards, "supervision")
    assert supervision["escalated"] == 1 and supervision["overdue"] == 0
    elderly, stations = board(boards, "elderly")
    assert elderly["stations"] == 1 and stations[0]["kind"] == "养老服务站"
    livable = next(x for x in boards["boards"] if x["key"] == "livable")
    assert {m["key"]: m["source"] for m in livable["metrics"]}["green_cover"] == "generated"
    cockpit.clock.advance(timedelta(days=60))
    cockpit.tokens.clear()  # they expired too
    late, overdue = board(get(cockpit, f"{BASE}/boards").json(), "supervision")
    assert late["overdue"] == 1 and overdue[0]["count"] == 1


def test_reports_are_the_residents_with_status_and_masked_numbers(cockpit: Api) -> None:
    homes = buildings(cockpit)
    mine = report(
        cockpit, "resident", centre(homes[0]), channel="resident",
        description="3栋漏水 电话13912345678", reporter_name="钱七", reporter_phone="13912345678",
    )  # fmt: skip
    report(cockpit, "inspector", centre(homes[1]))  # not a resident's report
    page = get(cockpit, f"{BASE}/reports").json()
    assert [r["id"] for r in page["items"]] == [mine["id"]]
    item = page["items"][0]
    assert item["description"] == "3栋漏水 电话139****5678" and item["status"] == mine["status"]
    assert item["status_zh"] and "钱七" not in json.dumps(page) and "13912345678" not in str(page)
    assert get(cockpit, f"{BASE}/reports", status="closed").json()["items"] == []
    r = get(cockpit, f"{BASE}/reports", status="bogus")
    assert r.status_code == 422


def test_a_camera_opens_its_snapshot_and_stream_in_one_click(cockpit: Api) -> None:
    cameras = get(cockpit, f"{BASE}/cameras").json()
    assert len(cameras) == 12
    cam = cameras[0]
    r = cockpit.client.get(cam["snapshot_url"])  # a new tab: no Authorization header
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("image/svg+xml")
    assert cam["name"] in r.text and "2026-11-25 09:00:00" in r.text  # the injected clock
    live = cockpit.client.get(cam["stream_url"])
    assert live.status_code == 200 and live.headers["content-type"].startswith("text/html")
    assert f"/api/v1/community/cameras/{cam['id']}/snapshot.svg?exp=" in live.text
    forged = cam["snapshot_url"].replace(f"/cameras/{cam['id']}/", f"/cameras/{cam['id'] + 1}/")
    bare = cam["snapshot_url"].split("?")[0]
    for url, code in ((forged, "bad_camera_link"), (bare, "bad_camera_link")):
        r = cockpit.client.get(url)
        assert r.status_code == 403 and r.json()["error"]["code"] == code
    cockpit.clock.advance(timedelta(hours=14))
    r = cockpit.client.get(cam["snapshot_url"])
    assert r.status_code == 403 and r.json()["error"]["code"] == "camera_link_expired"


@pytest.mark.parametrize(
    ("who", "status", "code"),
    [
        ("admin", 200, None),
        ("dispatcher", 200, None),
        ("street", 200, None),
        ("inspector", 200, None),
        ("worker", 200, None),
        ("street2", 403, "outside_jurisdiction"),
        ("other_dispatcher", 403, "outside_jurisdiction"),
        ("resident", 403, "role_forbidden"),
    ],
)
def test_who_may_look(cockpit: Api, who: str, status: int, code: str | None) -> None:
    for path in ("twin", "boards", "cameras", "reports"):
        r = get(cockpit, f"{BASE}/{path}", who=who)
        assert r.status_code == status, (path, r.text)
        if code:
            assert r.json()["error"]["code"] == code
    assert cockpit.client.get(f"{BASE}/twin").status_code == 401


def test_unknown_and_wrong_codes(cockpit: Api) -> None:
    for code, status, error in (
        ("500107001099", 404, "community_not_found"),
        ("500107001", 400, "not_a_community"),
        ("500107001001001", 400, "not_a_community"),
        ("abc", 400, "not_a_community"),
    ):
        r = get(cockpit, f"/api/v1/community/{code}/boards", who="admin")
        assert r.status_code == status and r.json()["error"]["code"] == error, (code, r.text)


def test_generating_a_twin_is_for_admins_and_dispatchers(cockpit: Api) -> None:
    path = f"/api/v1/community/{OTHER}/twin"
    r = cockpit.client.post(path, headers=cockpit.headers("street2"))
    assert r.status_code == 403 and r.json()["error"]["code"] == "role_forbidden"
    r = cockpit.client.post(path, headers=cockpit.headers("dispatcher"))
    assert r.status_code == 201 and r.json()["created"] and r.json()["buildings"] > 0
    r = cockpit.client.post(path, headers=cockpit.headers("dispatcher"))
    assert r.status_code == 200 and not r.json()["created"]
    theirs = get(cockpit, f"/api/v1/community/{OTHER}/twin").json()["features"]
    building = next(f for f in theirs if f["properties"]["layer"] == "building")
    r = get(cockpit, f"{BASE}/buildings/{building['properties']['id']}")
    assert r.status_code == 404 and r.json()["error"]["code"] == "building_not_found"


def test_a_resident_whose_account_names_the_community_sees_it_without_devices(
    cockpit: Api,
) -> None:
    """Accounts cannot give a resident a scope today; the cockpit is ready for one that does."""
    homes = buildings(cockpit)
    theirs = report(cockpit, "resident2", centre(homes[0]), channel="resident")
    own = report(cockpit, "resident", centre(homes[1]), channel="resident")
    with cockpit.ctx.sessions.begin() as s:
        user = s.scalars(select(User).where(User.username == "resident")).one()
        user.scope_code = CODE
    twin = get(cockpit, f"{BASE}/twin", who="resident")
    assert twin.status_code == 200
    layers = {f["properties"]["layer"] for f in twin.json()["features"]}
    assert "device" not in layers
    cases = [f["properties"]["id"] for f in twin.json()["features"] if f["id"].startswith("case:")]
    assert cases == [own["id"]] and theirs["id"] not in cases
    reports = get(cockpit, f"{BASE}/reports", who="resident").json()["items"]
    assert [r["id"] for r in reports] == [own["id"]]
    boards = get(cockpit, f"{BASE}/boards", who="resident").json()
    together, _ = board(boards, "co_governance")
    assert together["reports"] == 2  # counts are the community's
    assert board(boards, "safety")[1] == []  # alarms are not for residents
    r = get(cockpit, f"/api/v1/community/{OTHER}/boards", who="resident")
    assert r.status_code == 403 and r.json()["error"]["code"] == "role_forbidden"
