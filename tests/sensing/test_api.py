"""The sensing routes over HTTP on both databases: status codes, shapes, who may do what."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from cityops.auth.models import Role, User
from cityops.sensing import timeseries
from tests import citykit
from tests.api.conftest import Api, api
from tests.sensing.conftest import Network, build_network

__all__ = ["api"]  # the HTTP fixture, shared with tests/api


@pytest.fixture
def net(api: Api) -> Network:
    with api.ctx.sessions.begin() as s:
        s.add(
            User(
                username="gateway",
                display_name="gas gateway",
                password_hash=citykit.HASH,
                role=Role.device,
                scope_code=None,
            )
        )
        return build_network(s, api.clock)


def _iso(api: Api, seconds: float = 0) -> str:
    return (api.clock.now() + timedelta(seconds=seconds)).isoformat()


def test_post_batch_counts_stored_duplicates_and_rejections(api: Api, net: Network) -> None:
    ds = net.ds_ids[0]
    body = [
        {"datastream_id": ds, "phenomenon_time": _iso(api, -2), "result": 10.5},
        [ds, _iso(api, -1), 11.0],
        [ds, _iso(api, -1), 11.0],
        {"datastream_id": ds, "phenomenon_time": _iso(api), "result": "NaN"},
        {"datastream_id": 424242, "phenomenon_time": _iso(api), "result": 1},
    ]
    r = api.client.post("/api/v1/observations", json=body, headers=api.headers("gateway"))
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["accepted"], out["stored"], out["duplicates"]) == (3, 2, 1)
    assert [(x["index"], x["reason"]) for x in out["rejected"]] == [
        (3, "wrong_type"),
        (4, "unknown_datastream"),
    ]
    again = api.client.post("/api/v1/observations", json=body[:2], headers=api.headers("gateway"))
    assert again.json()["stored"] == 0 and again.json()["duplicates"] == 2


def test_message_id_header_takes_a_batch_once(api: Api, net: Network) -> None:
    h = {**api.headers("gateway"), "X-Message-Id": "gw-1-000017"}
    body = [[net.ds_ids[1], _iso(api, -5), 1.0]]
    assert api.client.post("/api/v1/observations", json=body, headers=h).json()["stored"] == 1
    body2 = [[net.ds_ids[1], _iso(api, -4), 2.0]]  # a resend under the same id: dropped
    assert api.client.post("/api/v1/observations", json=body2, headers=h).json()["stored"] == 0


def test_bad_bodies_get_4xx_with_the_error_shape(api: Api, net: Network) -> None:
    h = api.headers("gateway")
    url = "/api/v1/observations"
    r = api.client.post(
        url, content=b"[{not json", headers={**h, "Content-Type": "application/json"}
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "malformed_json"
    r = api.client.post(url, json={"datastream_id": 1}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["code"] == "not_an_array"
    r = api.client.post(url, json=[[net.ds_ids[0], _iso(api)] for _ in range(3)], headers=h)
    assert r.status_code == 422 and r.json()["error"]["code"] == "all_rejected"
    assert r.json()["error"]["detail"]["rejected"][0]["reason"] == "malformed"
    too_many = [[net.ds_ids[0], _iso(api, -i), 1.0] for i in range(10_001)]
    r = api.client.post(url, json=too_many, headers=h)
    assert r.status_code == 413 and r.json()["error"]["code"] == "batch_too_large"
    huge = json.dumps([{"datastream_id": 1, "pad": "x" * 1000}] * 5000).encode()
    r = api.client.post(url, content=huge, headers={**h, "Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"


def test_who_may_send_and_read(api: Api, net: Network) -> None:
    body = [[net.ds_ids[0], _iso(api), 1.0]]
    assert api.client.post("/api/v1/observations", json=body).status_code == 401
    for who, status in (("resident", 403), ("worker", 403), ("admin", 200)):
        r = api.client.post("/api/v1/observations", json=body, headers=api.headers(who))
        assert r.status_code == status, (who, r.text)
    # A device sends but does not read; staff read; residents do not.
    for who, status in (("gateway", 403), ("resident", 403), ("inspector", 200)):
        r = api.client.get("/api/v1/datastreams", headers=api.headers(who))
        assert r.status_code == status, (who, r.text)


def test_series_latest_and_listing(api: Api, net: Network) -> None:
    h = api.headers("gateway")
    ds = net.ds_ids[2]
    body = [[ds, _iso(api, -120 + s), float(s)] for s in range(0, 120, 10)]
    assert api.client.post("/api/v1/observations", json=body, headers=h).status_code == 200
    with api.ctx.sessions.begin() as s:
        timeseries.rollup(session=s)
    read = api.headers("dispatcher")
    start, end = _iso(api, -120), _iso(api, 1)
    r = api.client.get(
        f"/api/v1/datastreams/{ds}/observations", params={"from": start, "to": end}, headers=read
    )
    assert r.status_code == 200, r.text
    assert [p["result"] for p in r.json()["points"]] == [float(s) for s in range(0, 120, 10)]
    r = api.client.get(
        f"/api/v1/datastreams/{ds}/observations",
        params={"from": start, "to": end, "agg": "1h"},
        headers=read,
    )
    points = r.json()["points"]
    assert sum(p["count"] for p in points) == 12 and max(p["max"] for p in points) == 110.0
    r = api.client.get(
        "/api/v1/datastreams/latest", params={"bbox": "106.65,29.65,106.75,29.75"}, headers=read
    )
    assert r.status_code == 200
    assert [(i["datastream_id"], i["result"]) for i in r.json()["items"]] == [(ds, 110.0)]
    for bad in ("1,2,3", "a,b,c,d", "107,29,106,30"):
        r = api.client.get("/api/v1/datastreams/latest", params={"bbox": bad}, headers=read)
        assert r.status_code == 422 and r.json()["error"]["code"] == "bad_bbox"
    r = api.client.get(f"/api/v1/datastreams/{ds}/observations", params={"agg": "5m"}, headers=read)
    assert r.status_code == 422
    assert (
        api.client.get("/api/v1/datastreams/999999/observations", headers=read).status_code == 404
    )
    things = api.client.get("/api/v1/things", headers=read).json()
    assert [t["name"] for t in things] == ["tank 0", "tank 1", "tank 2"]
    assert api.client.get(f"/api/v1/things/{net.thing_ids[0]}", headers=read).status_code == 200
    assert api.client.get("/api/v1/things/999999", headers=read).status_code == 404
    one = api.client.get(f"/api/v1/datastreams/{ds}", headers=read).json()
    assert one["latest_result"] == 110.0 and one["lat"] == pytest.approx(29.7)
