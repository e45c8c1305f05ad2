"""Patrol KPIs worked by hand (pure), and over HTTP per chief and per river."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cityops.cases.models import Case, CaseStatus
from cityops.scenarios.river.patrol_kpi import CoverFact, IssueFact, PatrolFact, kpi
from tests.api.conftest import Api, api  # noqa: F401
from tests.citykit import X0, Y0
from tests.scenarios.river.patrolkit import (
    call,
    patrol_once,
    rivers,  # noqa: F401
    start,
)

T0 = datetime(2026, 11, 2, tzinfo=UTC)


def issue(patrol: int, case: int, status: str, handled_h: float | None = None) -> IssueFact:
    handled = T0 + timedelta(hours=handled_h) if handled_h is not None else None
    return IssueFact(patrol, case, status, T0, handled)


def test_a_chiefs_figures_by_hand() -> None:
    sections = {1: 2.0, 2: 1.0}  # km
    patrols = [PatrolFact(1, 2500.0), PatrolFact(2, 1500.0)]
    covers = [
        CoverFact(1, 1, ((0.0, 0.5),)),
        CoverFact(2, 1, ((0.25, 0.75),)),  # overlaps patrol 1: section 1 covered 0–0.75
        CoverFact(2, 2, ((0.0, 0.4),)),
        CoverFact(3, 2, ((0.4, 1.0),)),  # someone else's patrol: not counted
        CoverFact(1, 9, ((0.0, 1.0),)),  # not one of the chief's sections
    ]
    issues = [
        issue(1, 10, "closed", 4),
        issue(1, 11, "handled", 10),
        issue(2, 12, "dispatched"),
        issue(2, 10, "closed", 4),  # the same case found again: counted once
        issue(3, 13, "closed", 1),  # someone else's
    ]
    k = kpi(section_km=sections, patrols=patrols, covers=covers, issues=issues)
    assert (k.sections, k.section_km, k.patrols) == (2, 3.0, 2)
    assert k.mileage_km == pytest.approx(4.0)  # (2500 + 1500) / 1000
    # Section 1: 0.75 × 2 km = 1.5 km; section 2: 0.4 × 1 km = 0.4 km → 1.9 of 3 km.
    assert k.covered_km == pytest.approx(1.9)
    assert k.coverage == pytest.approx(1.9 / 3)
    # Found 10, 11, 12; handled 10 (closed) and 11; closed 10 → 办结率 1/3.
    assert (k.issues_found, k.issues_handled, k.issues_closed) == (3, 2, 1)
    assert k.completion_rate == pytest.approx(1 / 3)
    assert k.mean_handle_hours == pytest.approx(7.0)  # (4 + 10) / 2


def test_nothing_to_count_gives_none_not_zero_division() -> None:
    k = kpi(section_km={}, patrols=[], covers=[], issues=[])
    assert k.coverage is None and k.completion_rate is None and k.mean_handle_hours is None
    assert (k.patrols, k.mileage_km, k.issues_found) == (0, 0.0, 0)


def test_verified_and_evaluated_cases_count_as_handled_and_evaluated_as_closed() -> None:
    issues = [issue(1, 1, "verified", 2), issue(1, 2, "evaluated", 6), issue(1, 3, "void")]
    k = kpi(section_km={1: 1.0}, patrols=[PatrolFact(1, 0.0)], covers=[], issues=issues)
    assert (k.issues_found, k.issues_handled, k.issues_closed) == (3, 2, 1)
    assert k.coverage == 0.0 and k.mean_handle_hours == pytest.approx(4.0)


def test_kpis_per_chief_and_per_river_over_http(rivers: Api) -> None:  # noqa: F811
    walked = patrol_once(rivers, "chief", "TM-001", "a")
    p = start(rivers, "chief", "b", section_code="TT-001")  # no track: an issue only
    body = {"description": "排污口冒黑水", "lat": Y0 + 0.012, "lng": X0 + 0.0047}
    issue = call(rivers, "POST", f"/patrols/{p['id']}/issues", json=body).json()
    assert call(rivers, "POST", f"/patrols/{p['id']}/finish").status_code == 200
    with rivers.ctx.sessions.begin() as s:  # handled 5 h after the report, then closed
        case = s.get(Case, issue["case_id"])
        assert case is not None
        case.status, case.handled_at = CaseStatus.closed, case.reported_at + timedelta(hours=5)
    km = {
        c: call(rivers, "GET", f"/sections/{c}", "admin").json()["length_km"]
        for c in ("TM-001", "TT-001")
    }

    r = call(rivers, "GET", "/kpis?by=chief&from=2026-11-01&to=2026-11-30", "admin")
    assert r.status_code == 200, r.text
    page = r.json()
    assert (page["start"], page["end"], page["by"]) == ("2026-11-01", "2026-11-30", "chief")
    rows = {int(i["key"]): i for i in page["items"]}
    mine = rows[rivers.city.workers["500107001-street_office"]]
    assert mine["levels"] == ["street"] and mine["sections"] == 2 and mine["patrols"] == 2
    assert mine["mileage_km"] == pytest.approx(walked["mileage_m"] / 1000, abs=0.001)
    # TM-001 walked end to end, TT-001 not at all: its share of the two sections' length.
    assert mine["section_km"] == pytest.approx(km["TM-001"] + km["TT-001"], abs=0.001)
    assert mine["covered_km"] == pytest.approx(km["TM-001"], abs=0.002)
    assert mine["coverage"] == pytest.approx(km["TM-001"] / mine["section_km"], abs=0.002)
    assert (mine["issues_found"], mine["issues_handled"], mine["issues_closed"]) == (1, 1, 1)
    assert mine["completion_rate"] == 1.0 and mine["mean_handle_hours"] == 5.0
    district = rows[rivers.city.workers["500107-shuiwu"]]
    assert (district["patrols"], district["coverage"], district["issues_found"]) == (0, 0.0, 0)
    assert district["completion_rate"] is None and district["mean_handle_hours"] is None

    rivers_ = {i["key"]: i for i in call(rivers, "GET", "/kpis?by=river", "admin").json()["items"]}
    assert rivers_["TM"]["patrols"] == 1 and rivers_["TM"]["sections"] == 3
    assert rivers_["TT"]["patrols"] == 1 and rivers_["TT"]["issues_found"] == 1
    assert rivers_["TT"]["coverage"] == 0.0
    # Street 500107002 sees TM-002 only, and none of the west street's patrols.
    east = call(rivers, "GET", "/kpis?by=river", "street2").json()["items"]
    assert [(i["key"], i["sections"], i["patrols"]) for i in east] == [("TM", 1, 0)]
    october = call(rivers, "GET", "/kpis?from=2026-10-01&to=2026-10-31", "admin").json()
    assert all(i["patrols"] == 0 for i in october["items"])
    r = call(rivers, "GET", "/kpis?from=2026-11-30&to=2026-11-01", "admin")
    assert r.status_code == 422 and r.json()["error"]["code"] == "bad_period"
    assert call(rivers, "GET", "/kpis?by=street", "admin").status_code == 422
