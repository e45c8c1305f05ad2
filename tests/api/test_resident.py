"""A resident's side of a case: offered the open case before filing, following it, told of each
step, watching the real steps, and the rules of closing, rating and reopening (issue 5, 4–5)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from cityops.cases import service
from cityops.cases.lifecycle import Action
from cityops.cases.models import Case, CaseFollower, CaseStatus, Notification
from cityops.cases.runtime import get_rules
from cityops.cases.schemas import TransitionCreate
from cityops.geo.coords import wgs84_to_gcj02
from tests.api.conftest import Api
from tests.api.test_field_api import at, report, step
from tests.photos.images import jpeg, uploaded_ref

ME = "/api/v1/me"


def post(api: Api, who: str, path: str, body: dict[str, Any] | None = None) -> Any:
    return api.client.post(f"/api/v1{path}", headers=api.headers(who), json=body or {})


def get(api: Api, who: str, path: str, **params: Any) -> Any:
    r = api.client.get(f"/api/v1{path}", headers=api.headers(who), params=params)
    assert r.status_code == 200, r.text
    return r.json()


def nearby(api: Api, who: str, point: dict[str, Any], category: str = "06010") -> Any:
    return get(api, who, "/cases/nearby", category=category, **point)


def resident_case(api: Api, i: int = 0, who: str = "resident", **over: Any) -> dict[str, Any]:
    """A resident's report with a photo: filed and dispatched to the near worker at once."""
    photo = uploaded_ref(api, jpeg(), who=who)
    body = {"location": at(i), "photos": [photo], "description": "楼下一堆垃圾", **over}
    return report(api, who, **body)


def handled(api: Api, cid: int, *, start: bool = True) -> None:
    """The worker starts (unless the case is in progress already) and reports it done."""
    api.clock.advance(timedelta(hours=1))
    if start:
        step(api, "worker", cid, action="start")
        api.clock.advance(timedelta(minutes=20))
    step(api, "worker", cid, action="feedback", photos=[uploaded_ref(api, jpeg(), who="worker")])


def closed(api: Api, cid: int) -> None:
    """Handled, verified with the inspector's photo, closed."""
    handled(api, cid)
    step(
        api, "inspector", cid, action="verify_pass", photos=[uploaded_ref(api, jpeg(), "inspector")]
    )
    step(api, "dispatcher", cid, action="close")


def notes(api: Api, who: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = get(api, who, "/me/notifications", limit=100)["items"]
    return items


def later(api: Api, delta: timedelta) -> None:
    """Move the clock; the tokens of a day ago have expired, so log in again."""
    api.clock.advance(delta)
    api.tokens.clear()


def error(r: Any, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code, r.text


def test_open_cases_of_the_category_nearby_are_offered_nearest_first_without_personal_data(
    api: Api,
) -> None:
    far = resident_case(api, 0, description="垃圾堆 张三 13812345678")
    api.clock.advance(timedelta(minutes=5))
    point = {"lat": at(0)["lat"] + 0.0002, "lng": at(0)["lng"]}  # 22 m north
    near = report(api, "inspector", location=point, category="06011", photos=["p://x.jpg"])
    page = nearby(api, "resident2", {"lat": at(0)["lat"] + 0.0001, "lng": at(0)["lng"]})
    assert page["radius_m"] == 50 and page["window_hours"] == 24
    (offered,) = page["items"]  # the other category (06011) is not offered
    assert offered["id"] == far["id"] and offered["status_zh"] == "已派遣"
    assert 10 < offered["distance_m"] < 13
    assert "13812345678" not in offered["summary"] and "138****5678" in offered["summary"]
    assert offered["photos"] and offered["following"] is False
    shown = json.dumps(page, ensure_ascii=False)
    assert "reporter" not in shown and "case_no" not in shown
    assert near["id"] not in [i["id"] for i in page["items"]]
    # Out of the radius: nothing; GCJ-02 points are converted first.
    assert nearby(api, "resident2", at(1))["items"] == []
    lng, lat = wgs84_to_gcj02(at(0)["lng"], at(0)["lat"])
    gcj = {"lat": lat, "lng": lng, "crs": "GCJ-02"}
    assert [i["id"] for i in nearby(api, "resident2", gcj)["items"]] == [far["id"]]
    # Past the window (24 h): not offered any more.
    later(api, timedelta(hours=25))
    assert nearby(api, "resident2", at(0))["items"] == []
    r = api.client.get(
        "/api/v1/cases/nearby",
        headers=api.headers("resident"),
        params={"category": "99999", **at(0)},
    )
    error(r, 422, "unknown_category")


def test_each_category_has_its_own_radius_and_window(api: Api) -> None:
    # 噪声扰民 (06028): 200 m and 12 h in the catalogue; 暴露垃圾 (06010): the defaults 50 m, 24 h.
    noise = report(api, "resident", category="06028", location=at(0), description="广场舞太吵")
    rubbish = resident_case(api, 0)
    assert [i["id"] for i in nearby(api, "resident2", at(1), "06028")["items"]] == [noise["id"]]
    assert nearby(api, "resident2", at(1))["items"] == []  # 189 m: too far for rubbish
    # A report 189 m away is linked at intake for noise, not for rubbish.
    again = api.client.post(
        "/api/v1/cases",
        headers=api.headers("resident2"),
        json={"category": "06028", "channel": "resident", "location": at(1), "description": "吵"},
    ).json()
    assert again["duplicate"] is True and again["case"]["id"] == noise["id"]
    later(api, timedelta(hours=13))
    assert nearby(api, "resident2", at(0), "06028")["items"] == []
    assert [i["id"] for i in nearby(api, "resident2", at(0))["items"]] == [rubbish["id"]]


def test_choosing_the_same_problem_links_the_report_and_follows_the_case(api: Api) -> None:
    case = resident_case(api, 0)
    body = {
        "category": "06010",
        "channel": "resident",
        "location": {"lat": at(0)["lat"] + 0.0003, "lng": at(0)["lng"]},  # 33 m
        "description": "这里也有垃圾",
        "duplicate_of": case["id"],
    }
    r = post(api, "resident2", "/cases", body)
    assert r.status_code == 201, r.text
    assert r.json()["duplicate"] is True and r.json()["case"]["id"] == case["id"]
    assert r.json()["case"]["report_count"] == 2
    (mine,) = get(api, "resident2", "/me/cases")["items"]
    assert mine["id"] == case["id"] and mine["relation"] == "duplicate"
    assert mine["address"] is None and mine["satisfaction"] is None  # not the reporter's data
    # The reporter follows through the case itself, not as a follower.
    assert get(api, "resident", "/me/cases")["items"][0]["relation"] == "reporter"


def test_a_chosen_case_that_does_not_hold_is_refused_and_nothing_is_written(api: Api) -> None:
    case = resident_case(api, 0)
    other = report(api, "inspector", category="06011", location=at(2), photos=["p://y.jpg"])
    special = resident_case(api, 4)
    step(api, "dispatcher", special["id"], action="close_special", reason="不属于本区管辖")
    base = {"category": "06010", "channel": "resident", "location": at(0), "description": "垃圾"}
    with api.ctx.sessions() as s:
        before = s.execute(select(func.count()).select_from(Case)).scalar_one()
    for chosen, over, status, code in (
        (999_999, {}, 404, "duplicate_not_found"),
        (special["id"], {"location": at(4)}, 409, "duplicate_not_open"),
        (other["id"], {"location": at(2)}, 422, "duplicate_category_mismatch"),
        (case["id"], {"location": at(1)}, 422, "duplicate_too_far"),
    ):
        error(
            post(api, "resident2", "/cases", {**base, **over, "duplicate_of": chosen}), status, code
        )
    with api.ctx.sessions() as s:
        assert s.execute(select(func.count()).select_from(Case)).scalar_one() == before
        assert s.execute(select(func.count()).select_from(CaseFollower)).scalar_one() == 0


def test_a_report_linked_at_intake_makes_its_reporter_a_follower_once(api: Api) -> None:
    case = resident_case(api, 0)
    for _ in range(2):
        again = resident_case(api, 0, who="resident2")
        assert again["id"] == case["id"]
    resident_case(api, 0)  # the reporter repeating himself does not follow his own case
    with api.ctx.sessions() as s:
        rows = s.execute(select(CaseFollower.user_id, CaseFollower.via)).all()
    assert [(u, v.value) for u, v in rows] == [
        (api.city.users["resident2"].user_id, "auto_duplicate")
    ]


def test_every_step_is_told_to_reporter_and_followers_but_not_to_who_took_it(api: Api) -> None:
    case = resident_case(api, 0)
    cid = case["id"]
    assert post(api, "resident2", f"/cases/{cid}/follow").status_code == 200
    handled(api, cid)
    # A refused step is rolled back with its notifications.
    error(
        post(api, "dispatcher", f"/cases/{cid}/transitions", {"action": "close"}),
        409,
        "illegal_transition",
    )
    step(api, "dispatcher", cid, action="escalate", reason="内部督办说明")  # internal: not told
    step(
        api, "inspector", cid, action="verify_pass", photos=[uploaded_ref(api, jpeg(), "inspector")]
    )
    step(api, "dispatcher", cid, action="close")
    rated = post(api, "resident", f"/me/cases/{cid}/rating", {"satisfaction": 4})
    assert rated.status_code == 200, rated.text
    kinds = ["start", "feedback", "verify_pass", "close"]
    mine = notes(api, "resident")
    assert [n["kind"] for n in reversed(mine)] == kinds  # not his own rating
    followed = notes(api, "resident2")
    assert [n["kind"] for n in reversed(followed)] == [*kinds, "evaluate"]
    assert (
        followed[0]["text"].startswith(f"案件 {case['case_no']}") and "4 星" in followed[0]["text"]
    )
    assert followed[1]["text"].endswith("已办结") and followed[1]["status"] == "closed"
    assert all(n["read_at"] is None for n in followed)
    assert "内部督办说明" not in json.dumps(followed, ensure_ascii=False)
    assert notes(api, "worker") == []  # staff are not residents following the case


def test_a_notification_is_written_and_rolled_back_with_its_step(api: Api) -> None:
    cid = resident_case(api, 0)["id"]
    count = select(func.count()).select_from(Notification)
    with api.ctx.sessions() as s:
        service.transition(
            session=s,
            rules=get_rules(api.ctx, s),
            case_id=cid,
            command=TransitionCreate(action=Action.start),
            actor=api.city.users["worker"],
            at=api.clock.now(),
        )
        assert s.execute(count).scalar_one() == 1  # in the step's own transaction
        s.rollback()
    with api.ctx.sessions() as s:
        assert s.execute(count).scalar_one() == 0
        case = s.get(Case, cid)
        assert case is not None and case.status is CaseStatus.dispatched


def test_notifications_page_unread_first_and_are_marked_read(api: Api) -> None:
    cid = resident_case(api, 0)["id"]
    handled(api, cid)
    page = get(api, "resident", "/me/notifications")
    assert page["total"] == page["unread"] == 2
    older, newer = page["items"][1], page["items"][0]
    assert post(api, "resident", f"/me/notifications/{newer['id']}/read").status_code == 204
    page = get(api, "resident", "/me/notifications")
    assert [n["id"] for n in page["items"]] == [older["id"], newer["id"]]  # unread first
    assert page["unread"] == 1 and page["items"][1]["read_at"] is not None
    second = get(api, "resident", "/me/notifications", limit=1, offset=1)
    assert [n["id"] for n in second["items"]] == [newer["id"]]
    error(
        post(api, "resident2", f"/me/notifications/{older['id']}/read"),
        404,
        "notification_not_found",
    )
    r = post(api, "resident", "/me/notifications/read-all")
    assert r.json() == {"marked": 1}
    assert get(api, "resident", "/me/notifications")["unread"] == 0
    assert get(api, "resident", "/me/cases")["items"][0]["unread"] == 0


def test_my_case_shows_the_real_steps_with_their_times_and_no_staff_names(api: Api) -> None:
    case = resident_case(api, 0)
    cid = case["id"]
    t_report = api.clock.now()
    handled(api, cid)
    t_feedback = api.clock.now()
    step(api, "dispatcher", cid, action="escalate", reason="内部督办说明")
    mine = get(api, "resident", f"/me/cases/{cid}")
    assert mine["status"] == "handled" and mine["status_zh"] == "待核查"
    steps = [(s["action"], s["name"], s["by"]) for s in mine["steps"]]
    assert steps == [
        ("report", "上报", "resident"),
        ("accept", "受理", "system"),
        ("file", "立案", "system"),
        ("dispatch", "派遣", "system"),
        ("start", "开始处置", "field_worker"),
        ("feedback", "处置反馈", "field_worker"),
    ]
    times = {s["action"]: s["at"] for s in mine["steps"]}
    assert times["feedback"] > times["start"] > times["dispatch"]
    assert datetime.fromisoformat(times["feedback"]) == t_feedback
    assert datetime.fromisoformat(times["report"]) == t_report
    assert mine["steps"][-1]["photos"]  # the handling photo is shown
    assert mine["steps"][3]["detail"]["deadline_at"]
    shown = json.dumps(mine, ensure_ascii=False)
    assert "张近" not in shown and "user:" not in shown and "内部督办说明" not in shown
    assert mine["can_confirm"] is True and mine["can_rate"] is False and mine["can_reopen"] is False
    # Another resident's case is not mine to see.
    assert api.client.get(f"{ME}/cases/{cid}", headers=api.headers("resident2")).status_code == 404
    assert get(api, "resident2", "/me/cases")["items"] == []


def test_a_residents_case_closes_only_on_a_photo_or_the_reporters_word(api: Api) -> None:
    cid = resident_case(api, 0)["id"]
    handled(api, cid)
    step(api, "inspector", cid, action="verify_pass")  # no photo
    r = post(api, "dispatcher", f"/cases/{cid}/transitions", {"action": "close"})
    error(r, 409, "closing_evidence_required")
    error(post(api, "resident2", f"/me/cases/{cid}/confirm"), 404, "case_not_found")
    assert (
        post(api, "resident", f"/me/cases/{cid}/confirm", {"comment": "已经清理干净"}).status_code
        == 200
    )
    error(post(api, "resident", f"/me/cases/{cid}/confirm"), 409, "already_confirmed")
    assert step(api, "dispatcher", cid, action="close")["status"] == "closed"
    mine = get(api, "resident", f"/me/cases/{cid}")
    assert [s["action"] for s in mine["steps"]][-3:] == ["verify_pass", "confirm", "close"]
    # A verification that fails clears the evidence: the next round needs its own.
    other = resident_case(api, 2)["id"]
    handled(api, other)
    assert post(api, "resident", f"/me/cases/{other}/confirm").status_code == 200
    step(api, "inspector", other, action="verify_fail", reason="没清干净")
    handled(api, other, start=False)
    step(api, "inspector", other, action="verify_pass")
    error(
        post(api, "dispatcher", f"/cases/{other}/transitions", {"action": "close"}),
        409,
        "closing_evidence_required",
    )
    # 特殊结案 needs none; nor does a case staff reported.
    third = resident_case(api, 4)["id"]
    assert (
        step(api, "dispatcher", third, action="close_special", reason="不属于管辖")["status"]
        == "closed"
    )
    staff = report(api, "inspector", category="06011", location=at(1), photos=["p://z.jpg"])["id"]
    handled(api, staff)
    step(api, "inspector", staff, action="verify_pass")
    assert step(api, "dispatcher", staff, action="close")["status"] == "closed"


def test_the_reporter_rates_once_after_closing(api: Api) -> None:
    cid = resident_case(api, 0)["id"]
    assert post(api, "resident2", f"/cases/{cid}/follow").status_code == 200
    error(post(api, "resident", f"/me/cases/{cid}/rating", {"satisfaction": 5}), 409, "not_closed")
    closed(api, cid)
    assert get(api, "resident", f"/me/cases/{cid}")["can_rate"] is True
    assert get(api, "resident2", f"/me/cases/{cid}")["can_rate"] is False
    error(
        post(api, "resident2", f"/me/cases/{cid}/rating", {"satisfaction": 1}), 403, "not_reporter"
    )
    error(
        post(api, "inspector", f"/me/cases/{cid}/rating", {"satisfaction": 1}),
        404,
        "case_not_found",
    )
    error(
        post(api, "resident", f"/me/cases/{cid}/rating", {"satisfaction": 6}),
        422,
        "validation_failed",
    )
    r = post(api, "resident", f"/me/cases/{cid}/rating", {"satisfaction": 2, "comment": "太慢了"})
    assert r.status_code == 200, r.text
    mine = r.json()
    assert mine["status"] == "evaluated" and mine["satisfaction"] == 2
    assert mine["rating_comment"] == "太慢了" and mine["can_rate"] is False
    error(
        post(api, "resident", f"/me/cases/{cid}/rating", {"satisfaction": 5}), 409, "already_rated"
    )


def test_the_reporter_reopens_within_seven_days_and_it_counts_as_rework(api: Api) -> None:
    cid = resident_case(api, 0)["id"]
    closed(api, cid)
    mine = get(api, "resident", f"/me/cases/{cid}")
    assert mine["can_reopen"] is True and mine["reopen_until"]
    error(
        post(api, "resident", f"/me/cases/{cid}/reopen", {"reason": " "}), 422, "validation_failed"
    )
    error(post(api, "resident2", f"/me/cases/{cid}/reopen", {"reason": "x"}), 404, "case_not_found")
    later(api, timedelta(days=6))
    photo = uploaded_ref(api, jpeg(), who="resident")
    r = post(
        api, "resident", f"/me/cases/{cid}/reopen", {"reason": "垃圾又堆起来了", "photos": [photo]}
    )
    assert r.status_code == 200, r.text
    mine = r.json()
    assert mine["status"] == "dispatched" and mine["closed_at"] is None
    assert (
        mine["steps"][-1]["action"] == "reopen" and mine["steps"][-1]["reason"] == "垃圾又堆起来了"
    )
    assert mine["steps"][-1]["photos"] == [photo]
    with api.ctx.sessions() as s:
        case = s.get(Case, cid)
        assert case is not None
        assert (case.rework_count, case.reopen_count, case.closing_evidence) == (1, 1, None)
        assert case.reopened_at is not None and case.worker_id == api.city.workers["near"]
        told = s.execute(select(Notification.kind).where(Notification.case_id == cid)).scalars()
        assert "reopen" not in list(told)  # the reporter reopened it himself
    # Back to the same worker, handled again, and the KPIs count it as rework.
    assert cid in [c["id"] for c in get(api, "worker", "/cases", worker_id="me")["items"]]
    closed(api, cid)
    (row,) = get(api, "dispatcher", "/kpis", month="2026-11", jurisdiction="500107")["items"]
    assert row["rework_rate"] == 100.0


def test_reopening_is_refused_after_the_window_or_for_a_special_closing(api: Api) -> None:
    cid = resident_case(api, 0)["id"]
    closed(api, cid)
    later(api, timedelta(days=7, minutes=1))
    assert get(api, "resident", f"/me/cases/{cid}")["can_reopen"] is False
    r = post(api, "resident", f"/me/cases/{cid}/reopen", {"reason": "又坏了"})
    error(r, 409, "reopen_window_passed")
    special = resident_case(api, 2)["id"]
    step(api, "dispatcher", special, action="close_special", reason="不属于管辖")
    error(
        post(api, "resident", f"/me/cases/{special}/reopen", {"reason": "没人管"}),
        409,
        "not_closed_as_fixed",
    )
    open_case = resident_case(api, 4)["id"]
    error(
        post(api, "resident", f"/me/cases/{open_case}/reopen", {"reason": "x"}), 409, "not_closed"
    )


def test_a_resident_follows_and_unfollows_a_public_case(api: Api) -> None:
    cid = resident_case(api, 0)["id"]
    unreviewed = report(api, "resident", category="06028", location=at(3), description="吵")["id"]
    error(post(api, "resident", f"/cases/{cid}/follow"), 409, "own_case")
    error(post(api, "resident2", f"/cases/{unreviewed}/follow"), 404, "case_not_found")
    error(post(api, "inspector", f"/cases/{cid}/follow"), 403, "role_forbidden")
    assert post(api, "resident2", f"/cases/{cid}/follow").status_code == 200
    assert post(api, "resident2", f"/cases/{cid}/follow").status_code == 200  # again: no harm
    assert nearby(api, "resident2", at(0))["items"][0]["following"] is True
    (followed,) = get(api, "resident2", "/me/cases")["items"]
    assert followed["relation"] == "follow"
    gone = api.client.delete(f"/api/v1/cases/{cid}/follow", headers=api.headers("resident2"))
    assert gone.status_code == 204
    handled(api, cid)
    assert notes(api, "resident2") == []
    assert get(api, "resident2", "/me/cases")["items"] == []
    again = api.client.delete(f"/api/v1/cases/{cid}/follow", headers=api.headers("resident2"))
    error(again, 404, "not_following")
