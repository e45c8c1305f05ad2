"""The field apps' flows: a worker's tasks by deadline, the inspector's check, a resident's
reports with their timeline and rating, and the public board (云上监督)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from tests.api.conftest import Api
from tests.citykit import X0, Y0
from tests.photos.images import jpeg, png, uploaded_ref


def at(i: int, street: int = 1) -> dict[str, float]:
    """Points 200 m apart in the west street (or the east one): never duplicates."""
    return {"lat": Y0 + 0.001 + 0.0017 * i, "lng": X0 + 0.002 + (0.011 if street == 2 else 0)}


def report(api: Api, who: str, **body: Any) -> dict[str, Any]:
    channel = "resident" if who.startswith("resident") else "inspector"
    full = {"category": "06010", "channel": channel, "description": "一堆垃圾", **body}
    r = api.client.post("/api/v1/cases", headers=api.headers(who), json=full)
    assert r.status_code == 201, r.text
    case: dict[str, Any] = r.json()["case"]
    return case


def step(api: Api, who: str, case_id: int, **body: Any) -> dict[str, Any]:
    r = api.client.post(f"/api/v1/cases/{case_id}/transitions", headers=api.headers(who), json=body)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def ids(api: Api, who: str, **params: Any) -> list[int]:
    r = api.client.get("/api/v1/cases", headers=api.headers(who), params=params)
    assert r.status_code == 200, r.text
    return [c["id"] for c in r.json()["items"]]


def test_a_workers_tasks_come_soonest_deadline_first_on_every_page(api: Api) -> None:
    photo = uploaded_ref(api, jpeg(), who="inspector")
    # 道路不洁 2h, then 积存垃圾渣土 2 working days, then 暴露垃圾 4h: all to the near worker.
    made = []
    for i, category in enumerate(("06012", "06011", "06010")):
        api.clock.advance(timedelta(minutes=5))
        case = report(api, "inspector", category=category, location=at(i), photos=[photo])
        assert case["worker_id"] == api.city.workers["near"], case
        made.append(case)
    first, slow, third = made
    by_deadline = [first["id"], third["id"], slow["id"]]
    assert first["deadline_at"] < third["deadline_at"] < slow["deadline_at"]
    newest = [c["id"] for c in reversed(made)]
    assert ids(api, "worker", worker_id="me") == newest
    assert ids(api, "worker", worker_id="me", sort="deadline") == by_deadline
    # Keyset pages in deadline order: each task once, in order.
    seen, cursor = [], None
    while True:
        params: dict[str, Any] = {"worker_id": "me", "sort": "deadline", "limit": 1}
        if cursor:
            params["cursor"] = cursor
        page = api.client.get("/api/v1/cases", headers=api.headers("worker"), params=params)
        seen += [c["id"] for c in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if not cursor:
            break
    assert seen == by_deadline
    assert ids(api, "worker", worker_id="me", sort="deadline", page=2, limit=2) == [slow["id"]]
    # Cases without a deadline (not yet dispatched) come last, by id.
    waiting = report(api, "resident", location=at(5))  # no photo: waits for 受理
    assert waiting["deadline_at"] is None
    assert ids(api, "admin", sort="deadline") == [*by_deadline, waiting["id"]]
    # A cursor of one order is not taken for the other.
    newest_cursor = api.client.get(
        "/api/v1/cases", headers=api.headers("admin"), params={"limit": 1}
    ).json()["next_cursor"]
    r = api.client.get(
        "/api/v1/cases",
        headers=api.headers("admin"),
        params={"sort": "deadline", "cursor": newest_cursor},
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "bad_cursor"
    # The other worker has none; "me" needs a staff account; a worker id is a number or me.
    assert ids(api, "worker_far", worker_id="me", sort="deadline") == []
    assert ids(api, "dispatcher", worker_id=str(api.city.workers["near"])) == newest
    r = api.client.get(
        "/api/v1/cases", headers=api.headers("dispatcher"), params={"worker_id": "me"}
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "no_staff_id"
    r = api.client.get("/api/v1/cases", headers=api.headers("worker"), params={"worker_id": "you"})
    assert r.status_code == 422


def test_the_inspector_finds_handled_cases_with_before_and_after_photos(api: Api) -> None:
    before = uploaded_ref(api, jpeg(), who="resident")
    mine = report(api, "resident", location=at(0), photos=[before], description="楼下一堆垃圾")
    other_street = report(
        api, "resident", location=at(0, street=2), photos=[before], description="路口一堆垃圾"
    )
    assert mine["status"] == other_street["status"] == "dispatched"
    step(api, "worker", mine["id"], action="start")
    after = uploaded_ref(api, png(), who="worker")
    handled = step(api, "worker", mine["id"], action="feedback", photos=[after])
    assert handled["status"] == "handled"
    worker2 = api.headers("street2")  # the east street's staff handle theirs
    r = api.client.post(
        f"/api/v1/cases/{other_street['id']}/transitions",
        headers=worker2,
        json={"action": "feedback"},
    )
    assert r.status_code == 200, r.text
    # The west street's inspector sees only the west street's handled case.
    assert ids(api, "inspector", status="handled") == [mine["id"]]
    detail = api.client.get(f"/api/v1/cases/{mine['id']}", headers=api.headers("inspector")).json()
    assert detail["photos"] == [before, after]
    assert {"verify_pass", "verify_fail"} <= set(detail["allowed_actions"])
    for ref in detail["photos"]:
        name = ref.removeprefix("photo:")
        assert api.client.get(f"/api/v1/photos/{name}").status_code == 200
    verified = step(api, "inspector", mine["id"], action="verify_pass", comment="已清运")
    assert verified["status"] == "verified"


def test_a_resident_follows_their_report_and_rates_it_after_closing(api: Api) -> None:
    photo = uploaded_ref(api, jpeg(), who="resident")
    case = report(api, "resident", location=at(0), photos=[photo], description="楼下一堆垃圾")
    report(api, "resident2", location=at(3), photos=[photo], description="河边一堆垃圾")
    assert ids(api, "resident") == [case["id"]]  # my reports only
    cid = case["id"]
    r = api.client.post(
        f"/api/v1/cases/{cid}/transitions",
        headers=api.headers("resident"),
        json={"action": "evaluate", "satisfaction": 5},
    )
    assert r.status_code == 409  # not closed yet
    api.clock.advance(timedelta(hours=1))
    step(api, "worker", cid, action="start")
    step(api, "worker", cid, action="feedback")
    checked = uploaded_ref(api, jpeg(), who="inspector")  # a resident's case closes on evidence
    step(api, "inspector", cid, action="verify_pass", photos=[checked])
    assert step(api, "dispatcher", cid, action="close")["status"] == "closed"
    for who, body, status in (
        ("resident", {"action": "evaluate", "satisfaction": 6}, 422),
        ("resident", {"action": "evaluate"}, 422),
        ("resident2", {"action": "evaluate", "satisfaction": 1}, 404),
    ):
        r = api.client.post(f"/api/v1/cases/{cid}/transitions", headers=api.headers(who), json=body)
        assert r.status_code == status, (who, body, r.text)
    rated = step(api, "resident", cid, action="evaluate", satisfaction=5, comment="清理得很及时")
    assert rated["status"] == "evaluated" and rated["satisfaction"] == 5

    detail = api.client.get(f"/api/v1/cases/{cid}", headers=api.headers("resident")).json()
    timeline = [(h["action"], h["action_name"], h["actor_role"]) for h in detail["history"]]
    assert timeline == [
        ("report", "上报", "resident"),
        ("accept", "受理", "system"),
        ("file", "立案", "system"),
        ("dispatch", "派遣", "system"),
        ("start", "开始处置", "field_worker"),
        ("feedback", "处置反馈", "field_worker"),
        ("verify_pass", "核查通过", "inspector"),
        ("close", "结案", "district_dispatcher"),
        ("evaluate", "评价", "resident"),
    ]
    assert all(h["actor"] is None and h["at"] for h in detail["history"])
    assert detail["history"][-1]["payload"]["satisfaction"] == 5
    # Nothing a resident is shown names the worker (dispatch reasons do, for staff).
    worker_name = "张近"
    assert worker_name not in json.dumps(detail, ensure_ascii=False)
    assert detail["dispatch_reason"] is None
    staff = api.client.get(f"/api/v1/cases/{cid}", headers=api.headers("dispatcher")).json()
    assert staff["history"][4]["actor"] == "user:worker"
    assert worker_name in json.dumps(staff, ensure_ascii=False)


def test_the_public_board_shows_a_communitys_cases_with_personal_data_masked(api: Api) -> None:
    photo = uploaded_ref(api, jpeg(), who="resident")
    text = "楼下垃圾三天没人管，我是张三，电话13812341234，身份证500107199001011234"
    shown = report(
        api,
        "resident",
        location={"lat": Y0 + 0.00234, "lng": X0 + 0.00267},
        photos=[photo],
        description=text,
        reporter_name="张三",
        reporter_phone="13812341234",
    )
    report(api, "resident", location=at(4), description="没有照片")  # waits for 受理: not shown
    report(api, "resident", location=at(0, street=2), photos=[photo], description="另一个社区")
    r = api.client.get(
        "/api/v1/public/cases",
        headers=api.headers("resident2"),
        params={"community": "500107001001"},
    )
    assert r.status_code == 200, r.text
    (item,) = r.json()["items"]
    assert item["id"] == shown["id"] and item["status"] == "dispatched"
    assert item["category_name"] == "暴露垃圾"
    assert item["description"] == (
        "楼下垃圾三天没人管，我是张*，电话138****1234，身份证500*************34"
    )
    assert item["location"] == {"lat": round(Y0 + 0.00234, 3), "lng": round(X0 + 0.00267, 3)}
    assert set(item) == {
        "id",
        "category_code",
        "category_name",
        "status",
        "description",
        "reported_at",
        "closed_at",
        "satisfaction",
        "location",
    }
    assert "张三" not in r.text and "13812341234" not in r.text
    # Staff see the same board; a token is needed; the code is a community's.
    assert api.client.get(
        "/api/v1/public/cases", headers=api.headers("worker"), params={"community": "500107001001"}
    ).json()["items"] == [item]
    assert (
        api.client.get("/api/v1/public/cases", params={"community": "500107001001"}).status_code
        == 401
    )
    for bad in ({"community": "500107"}, {}, {"community": "500107001001", "limit": 101}):
        r = api.client.get("/api/v1/public/cases", headers=api.headers("resident"), params=bad)
        assert r.status_code == 422, bad
