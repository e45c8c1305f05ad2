"""The case API as a dispatcher and a resident use it: bad input, paging, history, KPIs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from cityops.cases.models import Case
from cityops.ledger.models import LedgerEntry
from tests.api.conftest import Api
from tests.citykit import X0, Y0

WEST = {"lat": Y0 + 0.002, "lng": X0 + 0.002}


def report(api: Api, who: str = "inspector", **over: Any) -> Any:
    body = {
        "category": "06010",
        "channel": "inspector",
        "location": WEST,
        "description": "一堆垃圾",
        "photos": ["p://1.jpg"],
        **over,
    }
    return api.client.post("/api/v1/cases", headers=api.headers(who), json=body)


def counts(api: Api) -> tuple[int, int]:
    with api.ctx.sessions() as s:
        return (
            s.execute(select(func.count()).select_from(Case)).scalar_one(),
            s.execute(select(func.count()).select_from(LedgerEntry)).scalar_one(),
        )


def test_bad_reports_get_4xx_with_code_and_nothing_is_written(api: Api) -> None:
    bad = [
        ({"category": "99999"}, 422, "unknown_category"),
        ({"category": "abc"}, 422, "validation_failed"),
        ({"location": {"lat": 39.9, "lng": 116.4}}, 422, "outside_city"),
        ({"location": {"lat": 95, "lng": 106.5}}, 422, "validation_failed"),
        ({"description": "长" * 4001}, 422, "text_too_long"),
        ({"channel": "carrier_pigeon"}, 422, "validation_failed"),
        ({"location": None}, 422, "location_required"),  # and the text names no place
        ({"unexpected": 1}, 422, "validation_failed"),
        ({"component_ident": "123"}, 422, "validation_failed"),
    ]
    for over, status, code in bad:
        r = report(api, **over)
        assert r.status_code == status, (over, r.text)
        assert r.json()["error"]["code"] == code, (over, r.text)
        assert r.json()["error"]["message"]
    r = api.client.post(
        "/api/v1/cases",
        headers={**api.headers("inspector"), "Content-Type": "application/json"},
        content=b"{not json",
    )
    assert r.status_code == 422
    assert counts(api) == (0, 0)


def test_resident_cannot_pose_as_an_inspector(api: Api) -> None:
    r = report(api, who="resident")
    assert r.status_code == 403 and r.json()["error"]["code"] == "channel_forbidden"


def test_illegal_and_stale_transitions_are_409_and_leave_the_case_as_it_was(api: Api) -> None:
    case = report(api).json()["case"]
    assert case["status"] == "dispatched"
    # Each user is offered only what they may do: the assigned worker starts, the inspector not.
    assert "start" not in case["allowed_actions"]
    mine = api.client.get(f"/api/v1/cases/{case['id']}", headers=api.headers("worker")).json()
    assert {"start", "feedback", "return", "request_extension"} <= set(mine["allowed_actions"])
    assert "close" not in mine["allowed_actions"]
    path = f"/api/v1/cases/{case['id']}/transitions"
    before = counts(api)
    r = api.client.post(path, headers=api.headers("dispatcher"), json={"action": "close"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "illegal_transition"
    assert "allowed" in r.json()["error"]["message"]
    r = api.client.post(
        path,
        headers=api.headers("dispatcher"),
        json={"action": "return", "reason": "错派", "expected_version": case["version"] + 1},
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "stale_update"
    r = api.client.post(path, headers=api.headers("worker"), json={"action": "return"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "missing_field"
    r = api.client.post(path, headers=api.headers("dispatcher"), json={"action": "fly"})
    assert r.status_code == 422
    assert counts(api) == before
    r = api.client.post(
        path,
        headers=api.headers("worker"),
        json={"action": "return", "reason": "错派", "expected_version": case["version"]},
    )
    assert r.status_code == 200 and r.json()["status"] == "returned"
    assert (
        api.client.post(
            "/api/v1/cases/999999/transitions",
            headers=api.headers("admin"),
            json={"action": "accept"},
        ).status_code
        == 404
    )


def test_detail_carries_the_history_from_the_ledger(api: Api) -> None:
    case = report(api).json()["case"]
    detail = api.client.get(f"/api/v1/cases/{case['id']}", headers=api.headers("dispatcher")).json()
    assert [h["action"] for h in detail["history"]] == ["report", "accept", "file", "dispatch"]
    assert detail["history"][-1]["payload"]["worker_id"] == api.city.workers["near"]
    assert detail["case_no"].startswith("500107-2026-")


def test_cursor_pages_cover_every_case_once_and_filters_apply(api: Api) -> None:
    made = []
    for i in range(7):
        api.clock.advance(timedelta(minutes=5))
        # 200 m apart, so none is a duplicate of another.
        made.append(
            report(api, location={"lat": Y0 + 0.001 + 0.0017 * i, "lng": X0 + 0.002}).json()[
                "case"
            ]["id"]
        )
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3, "jurisdiction": "500107001"}
        if cursor:
            params["cursor"] = cursor
        page = api.client.get(
            "/api/v1/cases", headers=api.headers("dispatcher"), params=params
        ).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == sorted(made, reverse=True)
    r = api.client.get(
        "/api/v1/cases",
        headers=api.headers("dispatcher"),
        params={"status": "closed", "with_total": "true"},
    )
    assert r.json()["total"] == 0 and r.json()["items"] == []
    r = api.client.get(
        "/api/v1/cases",
        headers=api.headers("dispatcher"),
        params={"bbox": f"{X0},{Y0},{X0 + 0.01},{Y0 + 0.004}", "with_total": "true"},
    )
    assert r.json()["total"] == 2
    r = api.client.get(
        "/api/v1/cases", headers=api.headers("dispatcher"), params={"page": 2, "limit": 5}
    )
    assert [c["id"] for c in r.json()["items"]] == sorted(made, reverse=True)[5:]
    for bad in ({"cursor": "garbage!"}, {"bbox": "1,2,3"}, {"limit": 0}, {"status": "lost"}):
        r = api.client.get("/api/v1/cases", headers=api.headers("dispatcher"), params=bad)
        assert r.status_code == 422, bad


def test_kpis_count_the_month(api: Api) -> None:
    case = report(api).json()["case"]
    path = f"/api/v1/cases/{case['id']}/transitions"
    api.clock.advance(timedelta(hours=1))
    for who, body in (
        ("worker", {"action": "feedback"}),
        ("inspector", {"action": "verify_pass"}),
        ("dispatcher", {"action": "close"}),
        ("admin", {"action": "evaluate", "satisfaction": 4}),
    ):
        assert api.client.post(path, headers=api.headers(who), json=body).status_code == 200
    report(api, location={"lat": Y0 + 0.015, "lng": X0 + 0.004})  # a second, still open
    r = api.client.get(
        "/api/v1/kpis",
        headers=api.headers("dispatcher"),
        params={"month": "2026-11", "by": "street"},
    )
    assert r.status_code == 200, r.text
    (row,) = r.json()["items"]
    assert row["key"] == "500107001" and row["filed"] == 2
    assert row["close_rate"] == 50.0 and row["on_time_close_rate"] == 50.0
    assert row["on_time_handle_rate"] == 50.0 and row["satisfaction"] == 4.0
    assert row["avg_handling_hours"] == 1.0 and row["rating"] in "ABCDE"
    assert (
        api.client.get(
            "/api/v1/kpis", headers=api.headers("dispatcher"), params={"month": "2026-13"}
        ).status_code
        == 422
    )


def test_categories_and_actions_are_listed(api: Api) -> None:
    cats = api.client.get("/api/v1/categories", headers=api.headers("resident")).json()
    assert len(cats["items"]) >= 70 and cats["errors"] == []
    assert {c["kind"] for c in cats["items"]} == {"component", "event"}
    actions = api.client.get("/api/v1/case-actions").json()
    assert {"action": "dispatch", "name": "派遣"} in actions


def test_health(api: Api) -> None:
    r = api.client.get("/api/v1/health")
    assert r.status_code == 200 and r.json()["status"] == "ok"


def test_the_scheduler_escalates_overdue_cases_and_publishes_after_commit(api: Api) -> None:
    from cityops.cases.scheduler import run_once

    seen: list[str] = []
    api.ctx.bus.subscribe("cases.*", lambda e: seen.append(e.subject))
    case = report(api).json()["case"]
    seen.clear()
    assert run_once(api.ctx) == []
    api.clock.advance(timedelta(days=1))  # well past the 4 working hours
    assert run_once(api.ctx) == [case["id"]]
    assert seen == ["cases.warn_near_overdue"]
    assert run_once(api.ctx) == [case["id"]]
    detail = api.client.get(f"/api/v1/cases/{case['id']}", headers=api.headers("dispatcher")).json()
    assert detail["escalation_level"] == 2
    assert seen[-1] == "cases.escalate"
    r = api.client.get(
        "/api/v1/cases", headers=api.headers("dispatcher"), params={"overdue": "true"}
    )
    assert [c["id"] for c in r.json()["items"]] == [case["id"]]


def test_a_batch_takes_each_report_on_its_own(api: Api) -> None:
    good = {
        "category": "06010",
        "channel": "video",
        "location": WEST,
        "description": "AI: 暴露垃圾",
        "photos": ["p://v1.jpg"],
    }
    far = {**good, "location": {"lat": Y0 + 0.015, "lng": X0 + 0.004}}
    outside = {**good, "location": {"lat": 39.9, "lng": 116.4}}
    r = api.client.post(
        "/api/v1/cases/batch",
        headers=api.headers("dispatcher"),
        json={"reports": [good, outside, far, good]},
    )
    assert r.status_code == 200, r.text
    items = r.json()
    assert [i["index"] for i in items] == [0, 1, 2, 3]
    assert items[1]["error"]["code"] == "outside_city" and items[1]["result"] is None
    first, second, repeat = items[0]["result"], items[2]["result"], items[3]["result"]
    assert (
        first["dispatched"] and second["dispatched"] and first["case"]["id"] != second["case"]["id"]
    )
    assert repeat["duplicate"] and repeat["case"]["id"] == first["case"]["id"]
    assert repeat["case"]["report_count"] == 2
    assert counts(api)[0] == 2
    with api.ctx.sessions() as s:
        from cityops.ledger import service as ledger

        assert ledger.verify(session=s).ok
    r = api.client.post(
        "/api/v1/cases/batch", headers=api.headers("dispatcher"), json={"reports": []}
    )
    assert r.status_code == 422


def test_search_finds_a_case_by_number_id_or_words_within_the_other_filters(api: Api) -> None:
    def made(category: str, description: str, **over: Any) -> Any:
        r = report(api, category=category, description=description, **over)
        assert r.status_code == 201, r.text
        return r.json()["case"]

    lamp = made("01037", "路灯不亮，100%黑了", address="民主村3栋门口")
    rubbish = made("06010", "垃圾桶满了没人清")
    other = made("06012", "井盖旁边有积水", location={"lat": Y0 + 0.004, "lng": X0 + 0.004})

    def found(**params: Any) -> list[int]:
        r = api.client.get("/api/v1/cases", headers=api.headers("dispatcher"), params=params)
        assert r.status_code == 200, r.text
        return sorted(c["id"] for c in r.json()["items"])

    assert found(q="垃圾桶") == [rubbish["id"]]  # words in the description
    assert found(q="民主村3栋") == [lamp["id"]]  # in the address
    assert found(q="100%") == [lamp["id"]]  # % is a character here, not a wildcard
    assert found(q=lamp["case_no"]) == [lamp["id"]]  # 案卷号
    assert found(q=f"#{other['id']}") == [other["id"]]
    assert found(q="垃圾桶", category="06012") == []  # with the other filters
    assert found(q="没有这样的事") == []
    r = api.client.get("/api/v1/cases", headers=api.headers("dispatcher"), params={"q": "x" * 101})
    assert r.status_code == 422
