"""The cockpit as an operations centre uses it: vital signs, map layers, the KPI spreadsheet.

Cases are made through the API on the injected clock; devices and alarms the way the sensing
door and the rules engine make them. Both databases.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from cityops.registry.models import Component
from cityops.rules.engine import RulesEngine
from cityops.rules.evaluate import Reading
from cityops.rules.plans import load_plans
from cityops.rules.ports import BusNotifier, RecordingActuator
from cityops.sensing import entities
from cityops.sensing.directory import SensingDirectory
from cityops.sensing.models import Datastream, Location, ObservedProperty, Sensor, Thing
from tests.api.conftest import Api, api
from tests.citykit import X0, Y0
from tests.conftest import SHANGHAI

__all__ = ["api"]  # the real app over both databases, shared with tests/api

WEST = "500107001"  # street 1 of 九龙坡 (x X0..X0+0.01)
EAST = "500107002"  # street 2 (x X0+0.01..X0+0.02)


def at(api: Api, local: str) -> None:
    """Move the clock to a Chongqing wall-clock time (tokens are re-issued: they expire)."""
    api.clock.set(datetime.fromisoformat(local).replace(tzinfo=SHANGHAI))
    api.tokens.clear()


def report(
    api: Api, lat: float, lng: float, category: str = "06010", who: str = "inspector"
) -> int:
    channel = "resident" if who.startswith("resident") else "inspector"
    body = {
        "category": category,
        "channel": channel,
        "location": {"lat": lat, "lng": lng},
        "description": "巡查发现",
        "photos": ["p://1.jpg"],
    }
    r = api.client.post("/api/v1/cases", headers=api.headers(who), json=body)
    assert r.status_code == 201, r.text
    assert not r.json()["duplicate"]
    return int(r.json()["case"]["id"])


def act(api: Api, case_id: int, who: str, **body: Any) -> None:
    r = api.client.post(f"/api/v1/cases/{case_id}/transitions", headers=api.headers(who), json=body)
    assert r.status_code == 200, r.text


def get(api: Api, path: str, who: str, **params: Any) -> Any:
    return api.client.get(path, headers=api.headers(who), params=params)


def history(api: Api) -> dict[str, int]:
    """Five cases in 九龙坡 over a month; returns their ids by letter.

    E 10-26 west, before the 30-day window, still open and overdue. A 11-23 00:30 west (the
    day before in UTC), handled the same morning, closed 11-24, rated 5. B 11-24 11:00 west,
    open, overdue by 11-25. D 11-24 23:50 east, open. C 11-25 09:00 east, open.
    """
    ids: dict[str, int] = {}
    at(api, "2026-10-26T23:30:00")
    ids["E"] = report(api, Y0 + 0.009, X0 + 0.008)
    at(api, "2026-11-23T00:30:00")
    ids["A"] = report(api, Y0 + 0.002, X0 + 0.002)
    at(api, "2026-11-23T10:00:00")
    act(api, ids["A"], "worker", action="feedback")
    at(api, "2026-11-24T10:00:00")
    act(api, ids["A"], "inspector", action="verify_pass")
    act(api, ids["A"], "dispatcher", action="close")
    act(api, ids["A"], "admin", action="evaluate", satisfaction=5)
    at(api, "2026-11-24T11:00:00")
    ids["B"] = report(api, Y0 + 0.015, X0 + 0.004)
    at(api, "2026-11-24T23:50:00")
    ids["D"] = report(api, Y0 + 0.011, X0 + 0.016, category="06012")
    at(api, "2026-11-25T09:00:00")
    ids["C"] = report(api, Y0 + 0.004, X0 + 0.012)
    at(api, "2026-11-25T09:30:00")
    return ids


def test_summary_counts_what_happened(api: Api) -> None:
    history(api)
    r = get(api, "/api/v1/cockpit/summary", "dispatcher")
    assert r.status_code == 200, r.text
    s = r.json()
    assert s["scope"] == {"code": "500107", "name": "九龙坡区", "level": "district"}
    assert s["children_level"] == "street"
    tiles = s["tiles"]
    assert (tiles["cases_today"], tiles["open"], tiles["overdue"]) == (1, 4, 2)
    # This month: A, B, C, D filed; A closed on time and rated 5.
    assert (tiles["closure_rate"], tiles["on_time_rate"], tiles["satisfaction"]) == (25, 25, 5)
    assert tiles["alarms_active_by_severity"] == {"blue": 0, "yellow": 0, "orange": 0, "red": 0}

    trend = s["trend"]
    assert len(trend) == 30
    assert (trend[0]["date"], trend[-1]["date"]) == ("2026-10-27", "2026-11-25")
    busy = {d["date"]: (d["reported"], d["closed"]) for d in trend if d["reported"] or d["closed"]}
    # A at 00:30 Chongqing time is 11-23 although UTC says 11-22; D at 23:50 stays on 11-24.
    assert busy == {"2026-11-23": (1, 0), "2026-11-24": (2, 1), "2026-11-25": (1, 0)}
    assert [(c["code"], c["count"]) for c in s["by_category"]] == [("06010", 3), ("06012", 1)]
    assert all(c["name"] and c["name"] != c["code"] for c in s["by_category"])

    # The ranking is the KPI code's: the same scores and ratings as GET /kpis by street.
    kpis = get(api, "/api/v1/kpis", "dispatcher", by="street", month="2026-11").json()["items"]
    by_key = {k["key"]: (k["score"], k["rating"]) for k in kpis}
    ranking = s["ranking"]
    assert [(x["rank"], x["code"]) for x in ranking] == [(1, WEST), (2, EAST)]
    assert all((x["score"], x["rating"]) == by_key[x["code"]] for x in ranking)
    assert ranking[0]["score"] > ranking[1]["score"]
    assert (ranking[0]["filed"], ranking[0]["close_rate"]) == (2, 50)


def test_summary_scope_follows_the_caller(api: Api) -> None:
    history(api)
    city = get(api, "/api/v1/cockpit/summary", "admin").json()
    assert city["scope"]["level"] == "city" and city["children_level"] == "district"
    assert city["tiles"]["open"] == 4
    # 两江新区 has no cases: listed last, without score or rank.
    assert [(x["code"], x["rank"], x["score"]) for x in city["ranking"]][1] == (
        "500157",
        None,
        None,
    )
    assert city["ranking"][0]["code"] == "500107" and city["ranking"][0]["rank"] == 1

    street = get(api, "/api/v1/cockpit/summary", "street").json()
    assert street["scope"]["code"] == WEST and street["children_level"] == "community"
    assert (street["tiles"]["open"], street["tiles"]["overdue"]) == (2, 2)
    assert [x["code"] for x in street["ranking"]] == [f"{WEST}001"]
    east = get(api, "/api/v1/cockpit/summary", "dispatcher", scope=EAST).json()
    assert (east["tiles"]["cases_today"], east["tiles"]["open"]) == (1, 2)
    community = get(api, "/api/v1/cockpit/summary", "street", scope=f"{WEST}001").json()
    assert community["children_level"] == "grid" and len(community["ranking"]) == 4

    for who, scope, status, code in (
        ("street", EAST, 403, "outside_jurisdiction"),
        ("street", "500107", 403, "outside_jurisdiction"),
        ("dispatcher", "500000", 403, "outside_jurisdiction"),
        ("resident", None, 403, "role_forbidden"),
        ("worker", None, 403, "role_forbidden"),
        ("admin", "abc", 422, "bad_jurisdiction_code"),
        ("admin", "500199", 404, "jurisdiction_not_found"),
    ):
        params = {"scope": scope} if scope else {}
        r = get(api, "/api/v1/cockpit/summary", who, **params)
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), (who, scope)


def points(api: Api, who: str, layer: str, **params: Any) -> Any:
    r = get(api, "/api/v1/map/points", who, layer=layer, **params)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["fields"] == ["id", "lat", "lng", "state", "kind"]
    assert all(len(body[f]) == body["count"] for f in body["fields"])
    return body


def test_map_components_and_cases(api: Api) -> None:
    r = api.client.post(
        "/api/v1/components",
        headers=api.headers("admin"),
        json={
            "name": "路灯",
            "category_code": "01037",
            "street_code": "500157001",
            "grid_code": "500157001001001",
            "location": {"lat": Y0 + 0.0050004, "lng": X0 + 0.0250001},
            "state": "damaged",
        },
    )
    assert r.status_code == 201, r.text
    other = r.json()["ident"]
    body = points(api, "admin", "components")
    assert body["id"] == ["50010701002000001", other] and not body["truncated"]
    assert body["state"] == ["intact", "damaged"] and body["kind"] == ["01002", "01037"]
    assert (body["lat"][1], body["lng"][1]) == (round(Y0 + 0.005, 6), round(X0 + 0.025, 6))
    assert points(api, "dispatcher", "components")["id"] == ["50010701002000001"]
    assert points(api, "admin", "components", scope="500157001")["id"] == [other]
    west_box = f"{X0},{Y0},{X0 + 0.01},{Y0 + 0.02}"
    assert points(api, "admin", "components", bbox=west_box)["id"] == ["50010701002000001"]
    capped = points(api, "admin", "components", limit=1)
    assert capped["count"] == 1 and capped["truncated"]

    ids = history(api)
    mine = report(api, Y0 + 0.018, X0 + 0.018, category="06012", who="resident")
    body = points(api, "dispatcher", "cases")
    assert body["id"] == sorted([ids["E"], ids["B"], ids["D"], ids["C"], mine])  # A is closed
    assert set(body["state"]) == {"dispatched"} and ids["A"] not in body["id"]
    east_box = f"{X0 + 0.01},{Y0},{X0 + 0.02},{Y0 + 0.02}"
    assert points(api, "dispatcher", "cases", bbox=east_box)["id"] == [ids["D"], ids["C"], mine]
    assert points(api, "dispatcher", "cases", scope=WEST)["id"] == [ids["E"], ids["B"]]
    assert points(api, "resident", "cases")["id"] == [mine]  # their own report only
    assert points(api, "resident2", "cases")["id"] == []
    # A field worker sees the open cases assigned to him: E and B went to the far one.
    assert points(api, "worker_far", "cases")["id"] == [ids["E"], ids["B"]]
    assert points(api, "worker", "cases")["id"] == []  # his only case, A, is closed

    for who, params, status, code in (
        ("admin", {"layer": "components", "bbox": "1,2,3"}, 422, "bad_bbox"),
        ("admin", {"layer": "components", "bbox": f"{X0 + 1},{Y0},{X0},{Y0 + 1}"}, 422, "bad_bbox"),
        ("admin", {"layer": "trees"}, 422, "validation_failed"),
        ("admin", {"layer": "cases", "limit": 200_001}, 422, "validation_failed"),
        ("resident", {"layer": "components"}, 403, "role_forbidden"),
        ("street", {"layer": "components", "scope": EAST}, 403, "outside_jurisdiction"),
        ("admin", {"layer": "cases", "scope": "x1"}, 422, "bad_jurisdiction_code"),
    ):
        r = get(api, "/api/v1/map/points", who, **params)
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), params


def add_device(
    api: Api, ident: str, grid: str, lat: float, lng: float, *, located: bool = True
) -> tuple[int, int]:
    """A gas detector on a 化粪池 部件, with a Location unless told; (thing id, datastream id)."""
    with api.ctx.sessions.begin() as s:
        tank = Component(
            ident=ident, name="化粪池", category_code="01901", grid_code=grid,
            district_code=grid[:6], street_code=grid[:9], lat=lat, lng=lng,
        )  # fmt: skip
        s.add(tank)
        s.flush()
        thing = entities.create(
            session=s, model=Thing, values={"name": f"气体{ident[-2:]}", "component_id": tank.id}
        )
        if located:
            place = {"type": "Point", "coordinates": [lng, lat]}
            loc = entities.create(
                session=s, model=Location, values={"name": "井", "location": place}
            )
            entities.set_thing_locations(
                session=s, thing_id=thing.id, location_ids=[loc.id], clock=api.clock
            )
        sensor = entities.create(session=s, model=Sensor, values={"name": "气体检测仪"})
        prop = entities.create(
            session=s,
            model=ObservedProperty,
            values={"name": "甲烷", "properties": {"code": "CH4"}},
        )
        ds = entities.create(
            session=s,
            model=Datastream,
            values={
                "name": f"甲烷{ident[-2:]}",
                "unit_of_measurement": {"name": "LEL", "symbol": "%LEL", "definition": ""},
                "thing_id": thing.id,
                "sensor_id": sensor.id,
                "observed_property_id": prop.id,
            },
        )
        return thing.id, ds.id


PLAN = """plans:
  - id: gas
    name: 化粪池甲烷
    sources: [{datastream: %d}, {datastream: %d}]
    trigger: {type: above, value: 25, clear: 20}
    actions: [{type: alarm, severity: orange}]
"""


def test_map_devices_and_alarms(api: Api, tmp_path: Path) -> None:
    west = (Y0 + 0.003, X0 + 0.003)
    alarmed, ds_a = add_device(api, "50010701901000011", f"{WEST}001001", *west)
    quiet, _ = add_device(api, "50010701901000012", f"{WEST}001002", Y0 + 0.004, X0 + 0.004)
    away, ds_c = add_device(api, "50015701901000013", "500157001001001", Y0 + 0.01, X0 + 0.03)
    hidden, _ = add_device(api, "50010701901000014", f"{WEST}001003", Y0 + 0.012, X0 + 0.003,
                           located=False)  # fmt: skip
    now = api.clock.now()
    rows = [[ds_a, now.isoformat(), 10.0], [ds_c, (now - timedelta(hours=2)).isoformat(), 30.0]]
    r = api.client.post("/api/v1/observations", headers=api.headers("admin"), json=rows)
    assert r.status_code == 200 and r.json()["stored"] == 2, r.text

    body = points(api, "admin", "devices")
    assert body["id"] == [alarmed, quiet, away] and hidden not in body["id"]
    assert body["state"] == ["online", "no_data", "offline"]
    assert set(body["kind"]) == {"sensor"}
    assert (body["lat"][0], body["lng"][0]) == (round(west[0], 6), round(west[1], 6))
    assert points(api, "dispatcher", "devices")["id"] == [alarmed, quiet]
    assert points(api, "other_dispatcher", "devices")["id"] == [away]
    box = f"{X0},{Y0},{X0 + 0.0035},{Y0 + 0.0035}"
    assert points(api, "street", "devices", bbox=box)["id"] == [alarmed]

    path = tmp_path / "plans.yaml"
    path.write_text(PLAN % (ds_a, ds_c), encoding="utf-8")
    engine = RulesEngine(
        sessions=api.ctx.sessions, clock=api.clock, plans=load_plans([path]),
        directory=SensingDirectory(api.ctx.sessions), actuator=RecordingActuator(),
        notifier=BusNotifier(),
    )  # fmt: skip
    engine.process([Reading(ds_a, now, 31.0), Reading(ds_c, now, 40.0)])

    body = points(api, "admin", "devices")
    assert body["state"] == ["alarm", "no_data", "alarm"]
    alarms = points(api, "admin", "alarms")
    assert alarms["count"] == 2 and alarms["state"] == ["orange", "orange"]
    assert alarms["kind"] == ["gas", "gas"]
    assert (alarms["lat"][0], alarms["lng"][0]) == (round(west[0], 6), round(west[1], 6))
    mine = points(api, "street", "alarms")
    assert mine["id"] == alarms["id"][:1]
    assert points(api, "worker", "alarms")["id"] == alarms["id"][:1]
    assert points(api, "street2", "alarms")["id"] == []
    assert points(api, "admin", "alarms", scope="500157")["id"] == alarms["id"][1:]
    assert points(api, "admin", "alarms", bbox=box)["id"] == alarms["id"][:1]
    tiles = get(api, "/api/v1/cockpit/summary", "dispatcher").json()["tiles"]
    assert tiles["alarms_active_by_severity"]["orange"] == 1
    for layer in ("devices", "alarms"):
        r = get(api, "/api/v1/map/points", "resident", layer=layer)
        assert (r.status_code, r.json()["error"]["code"]) == (403, "role_forbidden")


EXPECTED_HEADER = (
    "编码", "名称", "上报数", "立案数", "结案率(%)", "按期结案率(%)", "按期处置率(%)",
    "返工率(%)", "超期数", "监督举报率(%)", "平均处置时长(小时)", "满意度", "满意率(%)",
    "综合指标值", "评价等级",
)  # fmt: skip


@pytest.mark.parametrize("by", ["street", "district"])
def test_kpi_export_opens_in_excel_with_the_kpi_rows(api: Api, by: str) -> None:
    history(api)
    params = {"month": "2026-11", "by": by}
    r = get(api, "/api/v1/kpis/export.xlsx", "dispatcher", **params)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert r.headers["content-disposition"] == (
        f'attachment; filename="kpi_500107_2026-11_{by}.xlsx"'
    )
    sheet = load_workbook(BytesIO(r.content)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == EXPECTED_HEADER
    items = get(api, "/api/v1/kpis", "dispatcher", **params).json()["items"]
    assert len(rows) == 1 + len(items) and items
    for row, item in zip(rows[1:], items, strict=True):
        assert row[:4] == (item["key"], item["name"], item["reported"], item["filed"])
        assert row[4] == item["close_rate"] and row[-2:] == (item["score"], item["rating"])

    r = get(
        api, "/api/v1/kpis/export.xlsx", "admin", start="2026-11-01T00:00:00+08:00",
        end="2026-11-16T00:00:00+08:00",
    )  # fmt: skip
    assert r.status_code == 200
    assert 'filename="kpi_city_20261101-20261115_district.xlsx"' in r.headers["content-disposition"]
    r = get(api, "/api/v1/kpis/export.xlsx", "resident")
    assert (r.status_code, r.json()["error"]["code"]) == (403, "role_forbidden")
    r = get(api, "/api/v1/kpis/export.xlsx", "street", jurisdiction="500107002")
    assert r.status_code == 403
