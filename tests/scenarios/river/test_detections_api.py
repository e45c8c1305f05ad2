"""Other sources over HTTP on both databases: drone, boat, satellite and AI-video detections in a
batch, the review queue, and the events list with case status, chief and department."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from cityops.geo.coords import gcj02_to_wgs84, wgs84_to_gcj02
from tests.api.conftest import Api, api  # noqa: F401
from tests.citykit import X0, Y0
from tests.scenarios.river.test_river_api import rivers  # noqa: F401

NEAR_TT = (Y0 + 0.015, X0 + 0.0046)  # about 10 m from 测试河 TT-001 (street 500107001)


def item(ext: str, lat: float, lng: float, confidence: float = 0.95, **kw: Any) -> dict[str, Any]:
    return {
        "source": "drone", "external_id": ext, "kind": "floating_debris", "lat": lat,
        "lng": lng, "confidence": confidence, "image_ref": f"oss://uav/{ext}.jpg",
        "detected_at": "2026-11-25T08:30:00+08:00", **kw,
    }  # fmt: skip


def post(a: Api, body: Any, who: str = "dispatcher") -> Any:
    return a.client.post("/api/v1/river/detections", json=body, headers=a.headers(who))


def get(a: Api, path: str, who: str = "dispatcher") -> Any:
    r = a.client.get(f"/api/v1/river{path}", headers=a.headers(who))
    assert r.status_code == 200, r.text
    return r.json()


def test_a_batch_is_answered_item_by_item_and_good_items_are_kept(rivers: Api) -> None:  # noqa: F811
    lat, lng = NEAR_TT
    g_lng, g_lat = wgs84_to_gcj02(lng, lat - 0.004)  # a boat app that reports GCJ-02
    batch = [
        item("u-1", lat, lng),
        item("u-2", lat + 0.0015, lng, confidence=0.5),  # low: waits for a dispatcher
        item("u-3", Y0 + 0.002, X0 + 0.015),  # nowhere near a river
        item("u-4", lat, lng, confidence=1.5),  # invalid
        item("b-1", g_lat, g_lng, source="boat", crs="gcj02", kind="oil_sheen"),
    ]
    r = post(rivers, {"items": batch})
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["accepted"], out["needs_review"], out["errors"]) == (2, 1, 2)
    first, low, far, bad, boat = out["items"]
    assert first["status"] == "accepted" and first["section"] == "TT-001"
    assert first["case_id"] and first["event_id"] and first["distance_m"] < 20
    assert low["status"] == "needs_review" and low["case_id"] is None
    assert far["error"]["code"] == "no_section_near"
    assert bad["error"]["code"] == "invalid_item" and "confidence" in bad["error"]["message"]
    assert boat["status"] == "accepted" and boat["case_id"] != first["case_id"]

    case = rivers.client.get(
        f"/api/v1/cases/{first['case_id']}", headers=rivers.headers("dispatcher")
    ).json()
    assert case["category_code"] == "06025" and case["status"] == "dispatched"
    assert "oss://uav/u-1.jpg" in case["description"]
    stored = get(rivers, "/detections?status=accepted")["items"]
    by_ext = {d["external_id"]: d for d in stored}
    back_lng, back_lat = gcj02_to_wgs84(g_lng, g_lat)
    assert by_ext["b-1"]["lat"] == pytest.approx(back_lat, abs=1e-7)
    assert by_ext["b-1"]["lng"] == pytest.approx(back_lng, abs=1e-7)
    assert abs(by_ext["b-1"]["lat"] - (lat - 0.004)) < 2e-5  # about 2 m: converted to WGS84

    again = post(rivers, {"items": batch}).json()  # the whole batch sent again
    assert [i["status"] for i in again["items"]] == [i["status"] for i in out["items"]]
    assert [i.get("case_id") for i in again["items"]] == [i.get("case_id") for i in out["items"]]
    assert [i["duplicate"] for i in again["items"]] == [True, True, False, False, True]
    events = get(rivers, "/events")["items"]
    assert len(events) == 2


def test_a_dispatcher_accepts_or_rejects_what_waits_for_review(rivers: Api) -> None:  # noqa: F811
    lat, lng = NEAR_TT
    out = post(
        rivers,
        {"items": [item("v-1", lat, lng, 0.4, source="video"), item("v-2", lat + 0.003, lng, 0.3)]},
    ).json()
    ids = [i["detection_id"] for i in out["items"]]
    queue = get(rivers, "/detections?status=needs_review")["items"]
    assert sorted(d["id"] for d in queue) == sorted(ids)
    assert get(rivers, "/detections?status=needs_review", "other_dispatcher")["items"] == []

    headers = rivers.headers("dispatcher")
    ok = rivers.client.post(f"/api/v1/river/detections/{ids[0]}/accept", headers=headers)
    assert ok.status_code == 200, ok.text
    assert ok.json()["status"] == "accepted" and ok.json()["case_id"]
    assert ok.json()["reviewed_by"] == "user:dispatcher"
    twice = rivers.client.post(f"/api/v1/river/detections/{ids[0]}/accept", headers=headers)
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "not_pending"
    no_reason = rivers.client.post(
        f"/api/v1/river/detections/{ids[1]}/reject", json={}, headers=headers
    )
    assert no_reason.status_code == 422
    no = rivers.client.post(
        f"/api/v1/river/detections/{ids[1]}/reject", json={"reason": "树影，非漂浮物"},
        headers=headers,
    )  # fmt: skip
    assert no.status_code == 200 and no.json()["status"] == "rejected"
    assert get(rivers, "/detections?status=needs_review")["items"] == []
    (event,) = get(rivers, "/events")["items"]
    assert event["source"] == "video" and event["confidence"] == 0.4
    elsewhere = rivers.client.post(
        f"/api/v1/river/detections/{ids[1]}/accept", headers=rivers.headers("other_dispatcher")
    )
    assert elsewhere.status_code == 404


def test_events_list_the_case_status_chief_and_department_in_your_jurisdiction(
    rivers: Api,  # noqa: F811
) -> None:
    out = post(rivers, {"items": [item("u-9", *NEAR_TT)]}).json()
    (event,) = get(rivers, "/events")["items"]
    assert event["case_id"] == out["items"][0]["case_id"]
    assert (event["river_code"], event["section"]) == ("TT", "TT-001")
    assert event["case_status"] == "dispatched" and event["no_chief"] is False
    assert event["chief"]["name"] == "工1st" and event["chief"]["level"] == "street"
    assert event["department"]["name"] == "500107-shuiwu"
    assert event["evidence"]["detections"][0]["image_ref"] == "oss://uav/u-9.jpg"
    assert get(rivers, "/events?status=open")["items"] != []
    assert get(rivers, "/events?status=closed")["items"] == []
    assert get(rivers, "/events?river=TM")["items"] == []
    later = (rivers.clock.now() + timedelta(hours=1)).isoformat()
    assert get(rivers, f"/events?since={later.replace('+', '%2B')}")["items"] == []
    assert get(rivers, "/events", "other_dispatcher")["items"] == []
    assert get(rivers, "/events", "street")["items"] != []
    bad = rivers.client.get("/api/v1/river/events?status=nope", headers=rivers.headers("admin"))
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "unknown_status"


def test_only_dispatchers_import_and_only_in_their_jurisdiction(rivers: Api) -> None:  # noqa: F811
    body = {"items": [item("w-1", *NEAR_TT)]}
    assert post(rivers, body, "street").status_code == 403
    (res,) = post(rivers, body, "other_dispatcher").json()["items"]
    assert res["error"]["code"] == "outside_jurisdiction"
    assert (
        post(rivers, {"items": [item(f"x-{i}", *NEAR_TT) for i in range(1001)]}).status_code == 422
    )
    assert post(rivers, {"items": []}).status_code == 422
