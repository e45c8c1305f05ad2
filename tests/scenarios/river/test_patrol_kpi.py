"""Patrol KPIs worked by hand (pure), and over HTTP per chief and per river."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cityops.scenarios.river.patrol_kpi import CoverFact, IssueFact, PatrolFact, kpi

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
