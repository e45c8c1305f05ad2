"""Patrols (巡河) over HTTP on both backends: start, fixes in batches, issues as cases, finish.

TM-001 runs west→east about 0.01° of longitude (≈ 968 m) through street 500107001; the walks
are 21 fixes from its start to its end, 10 s apart (≈ 48 m a step, 4.8 m/s).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from cityops.api.stream import may_see
from cityops.auth.models import Role
from cityops.auth.scope import Principal
from cityops.bus.memory import Event
from cityops.cases.models import Case, CaseStatus, Channel
from cityops.geo.coords import haversine_m
from cityops.ledger import service as ledger
from cityops.scenarios.river.models import PatrolPoint
from tests.api.conftest import Api, api  # noqa: F401
from tests.citykit import X0, Y0
from tests.photos.images import jpeg, uploaded_ref
from tests.scenarios.river.patrolkit import (
    call,
    line_of,
    patrol_once,
    rivers,  # noqa: F401
    start,
    walk,
)


def points(
    api: Api,  # noqa: F811
    pid: int,
    batch: list[dict[str, Any]],
    crs: str = "wgs84",
    who: str = "chief",
) -> Any:
    return call(api, "POST", f"/patrols/{pid}/points", who, json={"crs": crs, "points": batch})


def test_a_chief_walks_a_section_and_the_patrol_keeps_its_figures(rivers: Api) -> None:  # noqa: F811
    p = start(rivers)
    assert p["status"] == "active" and p["section_code"] == "TM-001" and p["river_code"] == "TM"
    again = call(rivers, "POST", "/patrols", json={"client_id": "p1", "section_code": "TM-001"})
    assert again.status_code == 200 and again.json()["id"] == p["id"]  # idempotent start
    line = line_of(rivers, "TM-001")
    fixes = walk(line)
    first = points(rivers, p["id"], fixes[:11]).json()
    assert (first["stored"], first["accepted"], first["flagged"]) == (11, 11, 0)
    second = points(rivers, p["id"], fixes[11:]).json()
    assert second["point_count"] == 21 and second["flagged_count"] == 0
    resent = points(rivers, p["id"], fixes[:11]).json()  # the phone sends a batch again
    assert (resent["stored"], resent["repeated"], resent["point_count"]) == (0, 11, 21)
    r = call(rivers, "POST", f"/patrols/{p['id']}/finish")
    assert r.status_code == 200, r.text
    done = r.json()
    length_m = line.length * 96_779  # the line is nearly straight west→east
    assert done["status"] == "finished" and done["ended_at"] is not None
    assert done["mileage_m"] == pytest.approx(length_m, rel=0.01)
    assert done["duration_s"] == 200
    assert done["coverage"] == pytest.approx(1.0, abs=0.001)
    assert call(rivers, "POST", f"/patrols/{p['id']}/finish").json() == done  # again: same
    d = call(rivers, "GET", f"/patrols/{p['id']}").json()
    assert d["track"]["geometry"]["type"] == "MultiLineString"
    (stretch,) = d["track"]["geometry"]["coordinates"]
    assert len(stretch) == 21 and stretch[0] == pytest.approx(list(line.coords[0]))
    assert d["flagged_points"] == {"type": "FeatureCollection", "features": []}
    # The walk ends where TM-002 begins: the buffer reaches 100 m into it too.
    shares = {s["code"]: s["share"] for s in d["sections"]}
    assert shares["TM-001"] == pytest.approx(1.0, abs=0.001)
    assert shares["TM-002"] == pytest.approx(100 / (d["sections"][1]["length_km"] * 1000), rel=0.1)
    with rivers.ctx.sessions() as s:
        steps = [e.action for e in ledger.history(session=s, subject=f"river_patrol:{p['id']}")]
    assert steps == ["river.patrol_start", "river.patrol_finish"]


def test_bad_fixes_are_stored_with_their_flags_and_kept_out_of_the_mileage(rivers: Api) -> None:  # noqa: F811
    p = start(rivers)
    line = line_of(rivers, "TM-001")
    fixes = walk(line)
    fixes[5] = {**fixes[5], "lat": fixes[5]["lat"] + 0.02}  # 2.2 km north for one fix
    fixes[8] = {**fixes[8], "accuracy_m": 500}
    fixes.append({**fixes[3], "lng": fixes[3]["lng"] + 0.0001})  # t of fix 4 again, elsewhere
    late = fixes[15:]
    r = points(rivers, p["id"], [*fixes[:15]]).json()
    assert r["flags"] == {"teleport": 1, "inaccurate": 1}
    r = points(rivers, p["id"], late[::-1]).json()  # newest first: all but one came late
    assert r["flags"] == {"out_of_order": 5, "duplicate": 1}
    assert (r["stored"], r["accepted"], r["flagged"]) == (7, 1, 6)
    done = call(rivers, "POST", f"/patrols/{p['id']}/finish").json()
    assert done["point_count"] == 22 and done["flagged_count"] == 8
    # The mileage is the walk's: the spike and the poor fix lie on or off the line, not walked.
    assert done["mileage_m"] == pytest.approx(line.length * 96_779, rel=0.01)
    d = call(rivers, "GET", f"/patrols/{p['id']}").json()
    flags = sorted(f["properties"]["flag"] for f in d["flagged_points"]["features"])
    assert flags == ["duplicate", "inaccurate", *["out_of_order"] * 5, "teleport"]
    in_track = {f["properties"]["flag"]: f["properties"]["in_track"]
                for f in d["flagged_points"]["features"]}  # fmt: skip
    assert in_track == {"teleport": False, "inaccurate": False, "duplicate": False,
                        "out_of_order": True}  # fmt: skip
    assert len(d["track"]["geometry"]["coordinates"][0]) == 19  # 21 − spike − poor fix


def test_a_gcj02_walk_is_stored_in_wgs84_and_measures_the_same(rivers: Api) -> None:  # noqa: F811
    wgs = patrol_once(rivers, client_id="a")
    gcj = patrol_once(rivers, client_id="b", gcj02=True)
    assert gcj["mileage_m"] == pytest.approx(wgs["mileage_m"], abs=1.0)
    assert gcj["coverage"] == pytest.approx(wgs["coverage"], abs=0.001)
    with rivers.ctx.sessions() as s:
        rows = s.execute(
            select(PatrolPoint).order_by(PatrolPoint.patrol_id, PatrolPoint.seq)
        ).scalars()
        by_patrol: dict[int, list[PatrolPoint]] = {}
        for row in rows:
            by_patrol.setdefault(row.patrol_id, []).append(row)
    a, b = by_patrol[wgs["id"]], by_patrol[gcj["id"]]
    assert max(haversine_m(x.lng, x.lat, y.lng, y.lat) for x, y in zip(a, b, strict=True)) < 1.0


def test_an_issue_found_on_a_patrol_becomes_a_patrol_case(rivers: Api) -> None:  # noqa: F811
    p = start(rivers, "dchief", river_code="TM")
    assert p["section_code"] is None
    photo = uploaded_ref(rivers, jpeg(), who="dchief")
    body = {"description": "河面漂浮垃圾", "lat": Y0 + 0.0105, "lng": X0 + 0.0153,
            "photos": [photo]}  # fmt: skip
    r = call(rivers, "POST", f"/patrols/{p['id']}/issues", "dchief", json=body)
    assert r.status_code == 201, r.text
    issue = r.json()
    assert issue["section_code"] == "TM-002"  # the nearest section of the river
    assert issue["category_code"] == "06025" and issue["status"] == "reported"
    with rivers.ctx.sessions() as s:
        case = s.get(Case, issue["case_id"])
        assert case is not None
        assert case.channel is Channel.patrol and case.street_code == "500107002"
        assert case.reporter_staff_id == rivers.city.workers["500107-shuiwu"]
        assert photo in (case.photos or "")
    d = call(rivers, "GET", f"/patrols/{p['id']}", "dchief").json()
    assert [i["case_id"] for i in d["issues"]] == [issue["case_id"]] and d["issue_count"] == 1
    case_read = rivers.client.get(
        f"/api/v1/cases/{issue['case_id']}", headers=rivers.headers("dchief")
    )
    assert case_read.status_code == 200
    # GCJ-02 from a phone map is converted; an unknown photo is refused, nothing filed.
    gcj = {**body, "crs": "gcj02", "photos": ["photo:" + "0" * 64 + ".jpg"]}
    r = call(rivers, "POST", f"/patrols/{p['id']}/issues", "dchief", json=gcj)
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_photo"
    r = call(rivers, "POST", f"/patrols/{p['id']}/issues", "dchief", json={**body, "photos": [""]})
    assert r.status_code == 422
    with rivers.ctx.sessions() as s:
        assert len(s.execute(select(Case.id)).all()) == 1


def test_a_finished_patrol_takes_no_more_fixes_or_issues(rivers: Api) -> None:  # noqa: F811
    done = patrol_once(rivers)
    fixes = walk(line_of(rivers, "TM-001"), n=2)
    r = points(rivers, done["id"], fixes)
    assert r.status_code == 409 and r.json()["error"]["code"] == "patrol_finished"
    issue = {"description": "x", "lat": Y0 + 0.0101, "lng": X0 + 0.0047}
    r = call(rivers, "POST", f"/patrols/{done['id']}/issues", json=issue)
    assert r.status_code == 409 and r.json()["error"]["code"] == "patrol_finished"


def test_who_may_start_and_write_to_a_patrol(rivers: Api) -> None:  # noqa: F811
    def go(who: str, **body: Any) -> Any:
        return call(rivers, "POST", "/patrols", who, json={"client_id": "x", **body})

    r = go("admin", section_code="TM-001")  # no staff member behind the account
    assert r.status_code == 403 and r.json()["error"]["code"] == "no_staff_id"
    r = go("resident", section_code="TM-001")
    assert r.status_code == 403 and r.json()["error"]["code"] == "role_forbidden"
    r = go("chief2", section_code="TM-001")
    assert r.status_code == 403 and r.json()["error"]["code"] == "outside_jurisdiction"
    r = go("chief", section_code="NOPE")
    assert r.status_code == 404 and r.json()["error"]["code"] == "section_not_found"
    r = go("chief", section_code="TM-001", river_code="TM")
    assert r.status_code == 422
    r = go("chief2", river_code="TT")  # 测试河 has no section in street 500107002
    assert r.status_code == 403 and r.json()["error"]["code"] == "outside_jurisdiction"
    mine = start(rivers)
    r = call(rivers, "POST", "/patrols", json={"client_id": "p1", "section_code": "TT-001"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "client_id_reused"
    r = call(rivers, "POST", "/patrols", json={"client_id": "p2", "section_code": "TT-001"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "patrol_active"
    assert r.json()["error"]["detail"]["patrol_id"] == mine["id"]
    fixes = walk(line_of(rivers, "TM-001"), n=2)
    r = points(rivers, mine["id"], fixes, who="inspector")  # a staff member, but not his
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_your_patrol"
    future = [{**fixes[0], "t": (rivers.clock.now() + timedelta(hours=1)).isoformat()}]
    r = points(rivers, mine["id"], future)
    assert r.status_code == 422 and r.json()["error"]["code"] == "time_in_future"
    r = points(rivers, mine["id"], [{k: v for k, v in fixes[0].items() if k != "t"}])
    assert r.status_code == 422
    naive = [{**fixes[0], "t": "2026-11-25T08:00:00"}]
    assert points(rivers, mine["id"], naive).status_code == 422
    assert points(rivers, mine["id"], fixes * 2501).status_code == 422  # > 5,000 fixes
    assert call(rivers, "GET", "/patrols/999999").status_code == 404


def test_patrol_lists_filter_by_staff_river_and_time_and_follow_jurisdiction(rivers: Api) -> None:  # noqa: F811
    a = patrol_once(rivers, "chief", "TM-001", "a")
    b = patrol_once(rivers, "chief2", "TM-002", "b")

    def ids(who: str, query: str = "") -> list[int]:
        r = call(rivers, "GET", f"/patrols{query}", who)
        assert r.status_code == 200, r.text
        return [i["id"] for i in r.json()["items"]]

    assert ids("admin") == [b["id"], a["id"]]  # newest first
    assert ids("dispatcher") == [b["id"], a["id"]]
    assert ids("chief") == [a["id"]] and ids("chief2") == [b["id"]]
    assert ids("chief", "?staff=me") == [a["id"]]
    assert ids("admin", "?river=TT") == [] and ids("admin", "?river=TM&status=finished") == [
        b["id"], a["id"]]  # fmt: skip
    assert ids("admin", "?since=2026-11-26T00:00:00Z") == []
    assert ids("admin", "?until=2026-11-26T00:00:00Z&page_size=1&page=2") == [a["id"]]
    assert call(rivers, "GET", f"/patrols/{a['id']}", "chief2").status_code == 404
    page = call(rivers, "GET", "/patrols?page_size=1", "admin").json()
    assert page["total"] == 2 and page["page_size"] == 1
    assert page["items"][0]["staff_name"] == "工2st"
    r = call(rivers, "GET", "/patrols?staff=me", "admin")
    assert r.status_code == 422 and r.json()["error"]["code"] == "no_staff_id"


def test_closing_a_patrol_case_shows_in_the_patrol(rivers: Api) -> None:  # noqa: F811
    p = start(rivers)
    body = {"description": "排污口冒黑水", "lat": Y0 + 0.0101, "lng": X0 + 0.0047}
    issue = call(rivers, "POST", f"/patrols/{p['id']}/issues", json=body).json()
    with rivers.ctx.sessions.begin() as s:
        case = s.get(Case, issue["case_id"])
        assert case is not None
        case.status = CaseStatus.closed
    d = call(rivers, "GET", f"/patrols/{p['id']}").json()
    assert d["issues"][0]["status"] == "closed" and d["issues"][0]["section_code"] == "TM-001"


def test_a_later_batch_can_clear_an_earlier_verdict(rivers: Api) -> None:  # noqa: F811
    p = start(rivers)
    fixes = walk(line_of(rivers, "TM-001"))
    # The chief drives 5.5 km north in 10 s (a car, or a GPS outage): alone, that fix is a
    # teleport; once two more fixes walk on from there, it is where the track went on.
    moved = [{**f, "lat": f["lat"] + 0.05} for f in fixes[5:8]]
    assert points(rivers, p["id"], fixes[:5]).json()["flagged"] == 0
    r = points(rivers, p["id"], moved[:1]).json()
    assert r["flags"] == {"teleport": 1} and r["flagged_count"] == 1
    r = points(rivers, p["id"], moved[1:]).json()
    assert r["flagged"] == 0 and r["flagged_count"] == 0  # the first moved fix was cleared
    d = call(rivers, "GET", f"/patrols/{p['id']}").json()
    assert [len(s) for s in d["track"]["geometry"]["coordinates"]] == [5, 3]
    assert d["flagged_points"]["features"] == []
    # The jump is not mileage: four steps before it, two after (≈ 48 m each).
    assert d["mileage_m"] == pytest.approx(6 * line_of(rivers, "TM-001").length * 96_779 / 20,
                                           rel=0.02)  # fmt: skip


def test_a_patrol_is_streamed_live_to_its_street_and_walker_only(rivers: Api) -> None:  # noqa: F811
    seen: list[Event] = []
    rivers.ctx.bus.subscribe("river.*", seen.append)
    p = start(rivers)
    call(rivers, "POST", f"/patrols/{p['id']}/finish")
    (started, *_rest) = [e for e in seen if e.subject == "river.patrol.start"]
    street = Principal(1, "s", Role.street_staff, "500107001")
    other = Principal(2, "o", Role.district_dispatcher, "500108")
    walker = Principal(3, "w", Role.field_worker, "500107001", staff_id=p["staff_id"])
    stranger = Principal(4, "x", Role.field_worker, "500107001", staff_id=p["staff_id"] + 1)
    assert may_see(street, started) and may_see(walker, started)
    assert not may_see(other, started) and not may_see(stranger, started)
