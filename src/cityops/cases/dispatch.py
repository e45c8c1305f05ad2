"""Worker choice for a dispatched case (派遣到人): pure functions of positions and workload.

Rule: only on-duty workers (and, with ``max_open``, only those below it) are eligible. Each
gets ``score = distance_m + open_cases × open_case_penalty_m`` (default 300 m per open case),
so a worker 200 m farther but with one case fewer still wins; scores are compared to the
metre (GPS is no finer) and equal scores go to the worker with fewer open cases, then the
lower staff id (deterministic). Workers without a known
position rank after every located one, by open cases. The reasons say all of this in words a
dispatcher can read.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time

from cityops.errors import ValidationFailed

EARTH_RADIUS_M = 6_371_008.8
DEFAULT_OPEN_CASE_PENALTY_M = 300.0


@dataclass(frozen=True, slots=True)
class Candidate:
    """A worker the service may dispatch to, as read from the staff table."""

    staff_id: int
    department_id: int | None
    lat: float | None
    lng: float | None
    on_duty: bool
    open_cases: int
    name: str = ""


@dataclass(frozen=True, slots=True)
class WorkerChoice:
    """The chosen worker and why (``considered``: all candidates; ``on_duty_count``: on duty)."""

    staff_id: int
    distance_m: float | None
    open_cases: int
    reasons: tuple[str, ...]
    considered: int
    on_duty_count: int


def _check_point(lat: float, lng: float) -> None:
    if not (math.isfinite(lat) and math.isfinite(lng) and -90 <= lat <= 90 and -180 <= lng <= 180):
        raise ValidationFailed(f"({lat}, {lng}) is not a WGS84 point", code="bad_coordinates")


def haversine_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in metres between two WGS84 points."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def _distance(c: Candidate, lat: float, lng: float) -> float | None:
    if c.lat is None or c.lng is None:
        return None
    if not (math.isfinite(c.lat) and math.isfinite(c.lng)):
        return None
    return haversine_m(lat, lng, c.lat, c.lng)


def choose_worker(
    *,
    candidates: Sequence[Candidate],
    lat: float,
    lng: float,
    max_open: int | None = None,
    open_case_penalty_m: float = DEFAULT_OPEN_CASE_PENALTY_M,
) -> WorkerChoice | None:
    """The best on-duty worker for a case at (lat, lng), or None if nobody is eligible."""
    _check_point(lat, lng)
    if open_case_penalty_m < 0 or not math.isfinite(open_case_penalty_m):
        raise ValidationFailed("open_case_penalty_m must be a non-negative number")
    on_duty = [c for c in candidates if c.on_duty]
    eligible = [c for c in on_duty if max_open is None or c.open_cases < max_open]
    if not eligible:
        return None

    def key(c: Candidate) -> tuple[int, float, int, int]:
        d = _distance(c, lat, lng)
        if d is None:
            return (1, 0.0, c.open_cases, c.staff_id)
        score = round(d + max(c.open_cases, 0) * open_case_penalty_m)  # to the metre
        return (0, float(score), c.open_cases, c.staff_id)

    best = min(eligible, key=key)
    distance = _distance(best, lat, lng)
    who = f"{best.name} " if best.name else ""
    reasons = [f"{who}在岗 on duty"]
    if distance is None:
        reasons.append("位置未知 position unknown (no located worker on duty)")
    else:
        reasons.append(f"距离 {distance:.0f} m distance")
    reasons.append(f"在办 {best.open_cases} 件 open cases")
    if distance is not None:
        score = distance + max(best.open_cases, 0) * open_case_penalty_m
        reasons.append(
            f"得分 {score:.0f} = 距离 + 在办×{open_case_penalty_m:.0f} m "
            f"score = distance + open cases × {open_case_penalty_m:.0f} m"
        )
    skipped = len(on_duty) - len(eligible)
    summary = f"在岗 {len(on_duty)}/{len(candidates)} 人中最优 best of {len(on_duty)} on duty"
    if skipped:
        summary += f"; {skipped} 人已满 {max_open} 件 at capacity"
    reasons.append(summary)
    return WorkerChoice(
        staff_id=best.staff_id,
        distance_m=distance,
        open_cases=best.open_cases,
        reasons=tuple(reasons),
        considered=len(candidates),
        on_duty_count=len(on_duty),
    )


def is_on_duty(
    *,
    shift_start: time,
    shift_end: time,
    works_weekends: bool,
    on_leave: bool,
    local_now: datetime,
    is_workday: bool,
    previous_is_workday: bool | None = None,
) -> bool:
    """Whether a worker is on shift at ``local_now`` (local wall-clock time).

    ``is_workday`` is for ``local_now``'s date. An overnight shift (start > end, e.g.
    20:00–06:00) covers the evening part on that day and the early-morning part belongs to the
    shift that began the day before, judged by ``previous_is_workday`` (defaults to
    ``is_workday``). ``shift_start == shift_end`` is a 24-hour shift. Workers who do not work
    weekends are off on every non-working day (weekends and holidays alike).
    """
    if on_leave:
        return False
    now = local_now.time().replace(tzinfo=None)
    if shift_start == shift_end:
        return works_weekends or is_workday
    if shift_start < shift_end:
        return (works_weekends or is_workday) and shift_start <= now < shift_end
    if now >= shift_start:  # evening part of a shift that began today
        return works_weekends or is_workday
    if now < shift_end:  # morning part of yesterday's shift
        began_on_workday = is_workday if previous_is_workday is None else previous_is_workday
        return works_weekends or began_on_workday
    return False
