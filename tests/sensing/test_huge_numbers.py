"""Numbers past 64 bits on every sensing door: a 4xx with a reason, never a 500.

JSON integers have no size limit, and SQLite refuses to bind one past 64 bits (an OverflowError,
not a database error), so before these checks a 31-digit id in a path answered 500.
"""

from __future__ import annotations

from datetime import timedelta
from typing import cast

from fastapi import APIRouter, FastAPI
from sqlalchemy import text

from cityops.api.deps import SessionDep
from tests.api.conftest import Api, api
from tests.sensing.conftest import Network
from tests.sensing.test_api import net

__all__ = ["api", "net"]

BIG = 10**30  # past 64 bits
HUGE = 10**400  # past any float


def test_sensorthings_ids_and_options_past_64_bits(api: Api, net: Network) -> None:
    admin = api.headers("admin")
    for path in (f"Things({BIG})", f"Observations({BIG})", f"Datastreams({BIG})/Observations"):
        r = api.client.get(f"/sta/v1.1/{path}", headers=admin)
        assert r.status_code == 404, (path, r.text)
        assert r.json()["error"] == "not_found"
    for option in (f"$top={BIG}", f"$skip={BIG}", f"$expand=Datastreams($top={BIG})", "$top=²"):
        r = api.client.get(f"/sta/v1.1/Things?{option}", headers=admin)
        assert r.status_code == 400, (option, r.text)
    r = api.client.get(f"/sta/v1.1/Things?$filter=id eq {BIG}", headers=admin)
    assert r.status_code == 200 and r.json()["value"] == []  # a filter compares, it binds nothing


def test_sensorthings_references_past_64_bits_are_unknown(api: Api, net: Network) -> None:
    admin = api.headers("admin")
    at = api.clock.now().isoformat()
    bodies = {
        "Observations": {"result": 1, "phenomenonTime": at, "Datastream": {"@iot.id": BIG}},
        "Things": {"name": "x", "description": "y", "Locations": [{"@iot.id": BIG}]},
    }
    for entity_set, body in bodies.items():
        r = api.client.post(f"/sta/v1.1/{entity_set}", json=body, headers=admin)
        assert r.status_code == 422, r.text
        assert r.json()["error"] == "unknown_reference"


def test_readings_with_huge_numbers_are_rejected_one_by_one(api: Api, net: Network) -> None:
    ds = net.ds_ids[0]
    at = (api.clock.now() - timedelta(minutes=1)).isoformat()
    body = [
        [ds, at, 1.5],
        [BIG, at, 1.0],  # a datastream id past 64 bits
        [ds, HUGE, 1.0],  # epoch seconds past any date
        [ds, at, HUGE],  # a result past any float
        {"datastream_id": ds, "phenomenon_time": at, "result": 2.0, "result_time": HUGE},
    ]
    r = api.client.post("/api/v1/observations", json=body, headers=api.headers("gateway"))
    assert r.status_code == 200, r.text
    assert r.json()["stored"] == 1
    assert [(x["index"], x["reason"]) for x in r.json()["rejected"]] == [
        (1, "unknown_datastream"),
        (2, "malformed"),
        (3, "not_finite"),
        (4, "malformed"),
    ]


def test_any_other_number_past_64_bits_is_a_422_not_a_500(api: Api) -> None:
    """The backstop: a route that binds a request's integer as it is (none of ours should).
    SQLite refuses to bind it (OverflowError); PostgreSQL takes it as numeric and refuses to
    make it a bigint (DataError)."""
    probe = APIRouter()

    @probe.get("/api/v1/_probe/{n}")
    def _bind(n: int, session: SessionDep) -> int:
        return int(session.execute(text("SELECT CAST(:n AS BIGINT)"), {"n": n}).scalar_one())

    routes = cast(FastAPI, api.client.app).router.routes
    routes.insert(0, probe.routes[0])  # ahead of the app's catch-all for unknown paths
    assert api.client.get("/api/v1/_probe/7").json() == 7
    r = api.client.get(f"/api/v1/_probe/{BIG}")
    assert r.status_code == 422, r.text
    sqlite = api.ctx.engine.dialect.name == "sqlite"
    assert r.json()["error"]["code"] == ("number_out_of_range" if sqlite else "value_does_not_fit")
