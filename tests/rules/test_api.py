"""Alarms, plans and firings over HTTP: filters, acknowledgement, who may see and do what."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from cityops.rules.api import ENGINE_KEY
from cityops.rules.engine import RulesEngine
from cityops.rules.evaluate import Reading
from cityops.rules.plans import load_plans
from cityops.rules.ports import BusNotifier, RecordingActuator, SourceInfo, StaticDirectory
from tests.api.conftest import Api, api

__all__ = ["api"]  # the real app fixture, shared with tests/api

PLANS = """plans:
  - id: water-level
    name: 井下水位
    sources:
      - {datastream: 1}
      - {datastream: 2}
    trigger: {type: above, value: 1.0, clear: 0.8}
    actions: [{type: alarm, severity: yellow}]
  - id: typo
    name: broken
    sources: [{datastream: 1}]
    trigger: {type: abve, value: 1}
    actions: [{type: alarm, severity: red}]
"""


@pytest.fixture
def wired(api: Api, tmp_path: Path) -> Api:
    path = tmp_path / "plans.yaml"
    path.write_text(PLANS, encoding="utf-8")
    directory = StaticDirectory(
        [
            SourceInfo(1, "west", jurisdiction_code="500107001"),
            SourceInfo(2, "east", jurisdiction_code="500157001"),
        ]
    )
    engine = RulesEngine(
        sessions=api.ctx.sessions,
        clock=api.clock,
        plans=load_plans([path]),
        directory=directory,
        actuator=RecordingActuator(),
        notifier=BusNotifier(),
    )
    api.ctx.extras[ENGINE_KEY] = engine
    now = api.clock.now()
    engine.process([Reading(1, now, 1.5), Reading(2, now, 2.0)])
    api.clock.advance(timedelta(minutes=1))
    return api


def test_alarms_are_listed_within_the_jurisdiction_and_filtered(wired: Api) -> None:
    r = wired.client.get("/api/v1/alarms", headers=wired.headers("admin"))
    assert r.status_code == 200 and len(r.json()["items"]) == 2
    r = wired.client.get("/api/v1/alarms?state=active", headers=wired.headers("dispatcher"))
    assert [a["instance"] for a in r.json()["items"]] == ["ds:1"]
    r = wired.client.get("/api/v1/alarms?severity=red", headers=wired.headers("admin"))
    assert r.json()["items"] == []
    r = wired.client.get("/api/v1/alarms?severity=purple", headers=wired.headers("admin"))
    assert r.status_code == 422 and "error" in r.json()
    assert wired.client.get("/api/v1/alarms", headers=wired.headers("resident")).status_code == 403


def test_acknowledge_once_in_scope(wired: Api) -> None:
    items = wired.client.get("/api/v1/alarms", headers=wired.headers("admin")).json()["items"]
    ids = {a["instance"]: a["id"] for a in items}
    h = wired.headers("street")
    r = wired.client.post(f"/api/v1/alarms/{ids['ds:2']}/acknowledge", headers=h)
    assert r.status_code == 404  # another street's alarm is not yours to see
    r = wired.client.post(f"/api/v1/alarms/{ids['ds:1']}/acknowledge", headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["state"] == "acknowledged" and body["acknowledged_by"] == "user:street"
    again = wired.client.post(f"/api/v1/alarms/{ids['ds:1']}/acknowledge", headers=h)
    assert again.status_code == 409 and again.json()["error"]["code"] == "alarm_not_active"
    worker = wired.client.post(
        f"/api/v1/alarms/{ids['ds:1']}/acknowledge", headers=wired.headers("worker")
    )
    assert worker.status_code == 403


def test_plans_show_the_disabled_ones_with_the_reason(wired: Api) -> None:
    r = wired.client.get("/api/v1/plans", headers=wired.headers("dispatcher"))
    assert r.status_code == 200
    body = r.json()
    assert [(p["id"], p["instances"]) for p in body["items"]] == [("water-level", 2)]
    (off,) = body["disabled"]
    assert off["name"] == "typo" and "abve" in off["reason"]


def test_plans_without_a_running_engine_come_from_the_shipped_files(api: Api) -> None:
    r = api.client.get("/api/v1/plans", headers=api.headers("admin"))
    assert r.status_code == 200
    assert "septic-ch4" in {p["id"] for p in r.json()["items"]}


def test_firings_explain_why_by_source(wired: Api) -> None:
    r = wired.client.get("/api/v1/rules/firings?source=ds:1", headers=wired.headers("dispatcher"))
    assert r.status_code == 200
    (firing,) = r.json()
    assert firing["event"] == "fire" and firing["plan_id"] == "water-level"
    trace = firing["trace"]
    assert trace["reading"]["value"] == 1.5
    assert trace["conditions"][0]["holds"] is True
    assert trace["actions"][0]["kind"] == "alarm"
    r = wired.client.get("/api/v1/rules/firings", headers=wired.headers("street"))
    assert r.status_code == 403


def test_the_app_runtime_starts_the_engine_with_the_shipped_plans(api: Api) -> None:
    from cityops.rules.runtime import start_engine

    directory = StaticDirectory([SourceInfo(5, "tank", observed_property="CH4", unit="%LEL")])
    engine = start_engine(
        api.ctx, directory=directory, actuator=RecordingActuator(), notifier=BusNotifier()
    )
    assert ("septic-ch4", "ds:5") in engine.instances
    r = api.client.get("/api/v1/plans", headers=api.headers("admin"))
    counts = {p["id"]: p["instances"] for p in r.json()["items"]}
    assert counts["septic-ch4"] == 1 and counts["septic-h2s"] == 0
