"""Patrol KPIs (巡河考核) of one group (a chief, or a river) over a period: pure arithmetic.

The caller picks the group's patrols (finished, started in the period: a chief's own patrols,
or every patrol along a river) and its sections with their lengths; this module counts.

- ``patrols``: how many patrols.
- ``mileage_km`` = Σ patrol mileage (m) / 1000.
- ``coverage`` = Σ_sections |∪ covered intervals of the section over the patrols| × length
  ÷ Σ_sections length: the share of the group's river length patrolled at least once (two
  patrols over the same stretch count it once). ``covered_km`` is the numerator. None when the
  group has no section length.
- ``issues_found``: distinct cases the patrols reported (a case reported on two patrols counts
  once).
- ``issues_handled``: of those, cases whose status is handled, verified, closed or evaluated
  (处置完成 or later).
- ``issues_closed``: cases closed or evaluated (结案).
- ``completion_rate`` (办结率) = issues_closed ÷ issues_found; None when nothing was found.
- ``mean_handle_hours`` = mean over cases with a handling time of (handled_at − reported_at) in
  hours (处置用时, clock hours); None when no case was handled yet.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from cityops.scenarios.river.patrol_track import Interval, covered_share

HANDLED = frozenset({"handled", "verified", "closed", "evaluated"})
CLOSED = frozenset({"closed", "evaluated"})


@dataclass(frozen=True, slots=True)
class PatrolFact:
    patrol_id: int
    mileage_m: float


@dataclass(frozen=True, slots=True)
class CoverFact:
    patrol_id: int
    section_id: int
    intervals: tuple[Interval, ...]


@dataclass(frozen=True, slots=True)
class IssueFact:
    patrol_id: int
    case_id: int
    status: str
    reported_at: datetime
    handled_at: datetime | None


@dataclass(frozen=True, slots=True)
class PatrolKpi:
    sections: int
    section_km: float
    patrols: int
    mileage_km: float
    covered_km: float
    coverage: float | None
    issues_found: int
    issues_handled: int
    issues_closed: int
    completion_rate: float | None
    mean_handle_hours: float | None


def _ratio(num: float, den: float) -> float | None:
    return num / den if den > 0 else None


def kpi(
    *,
    section_km: Mapping[int, float],
    patrols: Sequence[PatrolFact],
    covers: Iterable[CoverFact],
    issues: Iterable[IssueFact],
) -> PatrolKpi:
    """The group's figures (formulas in the module docstring). ``covers`` and ``issues`` may
    hold other groups' rows: only those of ``patrols`` (and covers of ``section_km``) count."""
    ids = {p.patrol_id for p in patrols}
    by_section: dict[int, list[Interval]] = {}
    for c in covers:
        if c.patrol_id in ids and c.section_id in section_km:
            by_section.setdefault(c.section_id, []).extend(c.intervals)
    covered = sum(covered_share(ivs) * section_km[s] for s, ivs in by_section.items())
    total_km = sum(section_km.values())
    cases: dict[int, IssueFact] = {}
    for i in issues:
        if i.patrol_id in ids:
            cases.setdefault(i.case_id, i)
    handled = [c for c in cases.values() if c.status in HANDLED]
    closed = [c for c in cases.values() if c.status in CLOSED]
    hours = [
        (c.handled_at - c.reported_at).total_seconds() / 3600.0
        for c in cases.values()
        if c.handled_at is not None
    ]
    return PatrolKpi(
        sections=len(section_km),
        section_km=total_km,
        patrols=len(ids),
        mileage_km=sum(p.mileage_m for p in patrols) / 1000.0,
        covered_km=covered,
        coverage=_ratio(covered, total_km),
        issues_found=len(cases),
        issues_handled=len(handled),
        issues_closed=len(closed),
        completion_rate=_ratio(len(closed), len(cases)),
        mean_handle_hours=sum(hours) / len(hours) if hours else None,
    )
