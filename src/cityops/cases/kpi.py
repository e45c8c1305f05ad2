"""KPIs (绩效评价), the composite score (综合指标值) and the A–E rating, as pure functions.

The service counts case rows over a period into ``KpiCounts``; everything here is arithmetic
on those counts, so every figure on a dashboard can be recomputed by hand.

Composite score: a weighted mean of 0–100 term scores (分值). Rates that are better when high
(结案率, 按期结案率, 按期处置率) score as the rate; rates that are better when low (监督举报率,
返工率) score as 100 − rate; the 立案数 count scores through a step table. A term whose rate
has no denominator (nothing to close in the period) is left out and the remaining weights are
re-normalised; with no rate term at all there is no score and no rating.

Weights and step tables follow one public implementation (reference §1.7). Cited: region
10/20/30 %, department 立案数 ≤50 → 10 points … >1000 → 0 plus 0.3 × each of three rates.
NOT cited (local defaults, edit here): the region's 按期结案率 weight 40 % (the code had 10 %,
which does not sum to 100), the intermediate steps of both 立案数 tables, and the whole region
立案数 table (fewer problems filed in a region scores higher).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Literal

from cityops.errors import ValidationFailed

Subject = Literal["region", "department"]

# term → weight; each term's score is 0–100.
WEIGHTS: dict[str, dict[str, float]] = {
    "region": {
        "public_report": 0.10,  # 监督举报率分值 = 100 − 监督举报率
        "filed": 0.20,  # 立案数分值 (REGION_FILED_STEPS)
        "close_rate": 0.30,  # 结案率
        "on_time_close_rate": 0.40,  # 按期结案率 (40 % inferred)
    },
    "department": {
        "filed": 0.10,  # 立案数分值: 0–10 points = 0–100 score × 0.1
        "close_rate": 0.30,  # 结案率
        "on_time_handle_rate": 0.30,  # 按期处置率
        "rework": 0.30,  # 100 − 返工率
    },
}
# (upper bound of 立案数 inclusive, score 0–100); above the last bound scores the final value.
FILED_STEPS: dict[str, tuple[tuple[int, float], ...]] = {
    "department": ((50, 100.0), (100, 80.0), (200, 60.0), (500, 40.0), (1000, 20.0)),
    "region": ((50, 100.0), (100, 90.0), (200, 80.0), (500, 60.0), (1000, 40.0)),
}
FILED_ABOVE: dict[str, float] = {"department": 0.0, "region": 20.0}
# (minimum score, rating), highest first.
RATINGS: tuple[tuple[float, str], ...] = ((90.0, "A"), (75.0, "B"), (60.0, "C"), (40.0, "D"))
LOWEST_RATING = "E"


@dataclass
class KpiCounts:
    """Counts over a period [start, end) from ``case`` rows (cases/models.py).

    - reported: ``reported_at`` in the period (上报数).
    - filed: ``filed_at`` in the period (立案数).
    - voided: ``reported_at`` in the period and ``status = void`` (作废/不予立案数).
    - dispatched: ``dispatched_at`` in the period (派遣数).
    - due_to_close: ``filed_at`` in the period and ``status != void`` (应结案数).
    - closed: of due_to_close, ``status in (closed, evaluated)`` (结案数).
    - closed_on_time: of closed, ``closing_type = normal`` (按期结案数).
    - due_to_handle: ``dispatched_at`` in the period and ``status != void`` (应处置数).
    - handled_on_time: of due_to_handle, ``handled_on_time is true`` (按期处置数).
    - reworked: of due_to_close, ``rework_count > 0`` (返工数): sent back by a failed check
      (核查不通过), or closed as fixed and reopened by its reporter within
      ``CITYOPS_REOPEN_DAYS`` (群众重开, ``reopen``); either adds one to ``rework_count``.
    - overdue: of due_to_handle, ``deadline_at < as_of`` and (``handled_at`` is null or
      ``handled_at > deadline_at``), with ``as_of = min(period end, now)`` (超期数).
    - public_verified: of due_to_close, ``channel in (resident, hotline)`` (监督举报核实数;
      监督举报率 = public_verified / filed).
    - handling_seconds_sum / handling_count: of due_to_handle with ``handled_at`` not null,
      the sum and number of ``handling_seconds``: the working seconds from dispatch to
      feedback, set by the service at feedback (处置用时).
    - satisfaction_sum / satisfaction_count / satisfied_count: of due_to_close with
      ``satisfaction`` not null: the sum of ratings (1–5), their number, and how many are ≥ 4.
    """

    reported: int = 0
    filed: int = 0
    voided: int = 0
    dispatched: int = 0
    due_to_close: int = 0
    closed: int = 0
    closed_on_time: int = 0
    due_to_handle: int = 0
    handled_on_time: int = 0
    reworked: int = 0
    overdue: int = 0
    public_verified: int = 0
    handling_seconds_sum: float = 0.0
    handling_count: int = 0
    satisfaction_sum: int = 0
    satisfaction_count: int = 0
    satisfied_count: int = 0


def add_counts(parts: Iterable[KpiCounts]) -> KpiCounts:
    """The counts of a whole from its disjoint parts (a district from its streets)."""
    total = KpiCounts()
    for part in parts:
        for f in fields(KpiCounts):
            setattr(total, f.name, getattr(total, f.name) + getattr(part, f.name))
    return total


@dataclass(frozen=True, slots=True)
class ScorePart:
    """One term of the composite: its score (0–100), weight, and weighted points."""

    term: str
    score: float
    weight: float
    points: float


@dataclass(frozen=True, slots=True)
class KpiSet:
    """The KPI set of one subject over one period; rates in percent, None without data."""

    subject: str
    filed: int  # 立案数
    close_rate: float | None  # 结案率
    on_time_close_rate: float | None  # 按期结案率
    on_time_handle_rate: float | None  # 按期处置率
    rework_rate: float | None  # 返工率
    overdue: int  # 超期数
    public_report_rate: float | None  # 监督举报率 (lower is better)
    avg_handling_hours: float | None  # 平均处置时长
    satisfaction: float | None  # 满意度 mean 1–5
    satisfaction_rate: float | None  # 满意率: % of ratings ≥ 4
    score: float | None  # 综合指标值 0–100
    rating: str | None  # A–E
    parts: tuple[ScorePart, ...] = ()


def _rate(numerator: float, denominator: float) -> float | None:
    return None if denominator == 0 else round(numerator / denominator * 100.0, 2)


def _check(counts: KpiCounts) -> None:
    for f in fields(counts):
        value = getattr(counts, f.name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValidationFailed(f"KPI count {f.name} must be a number", code="bad_kpi_counts")
        if not math.isfinite(value) or value < 0:
            raise ValidationFailed(f"KPI count {f.name} must be ≥ 0", code="bad_kpi_counts")
    subsets = (
        ("closed", "due_to_close"),
        ("closed_on_time", "closed"),
        ("reworked", "due_to_close"),
        ("public_verified", "due_to_close"),
        ("handled_on_time", "due_to_handle"),
        ("overdue", "due_to_handle"),
        ("handling_count", "due_to_handle"),
        ("satisfied_count", "satisfaction_count"),
    )
    for part, whole in subsets:
        if getattr(counts, part) > getattr(counts, whole):
            raise ValidationFailed(
                f"KPI count {part} ({getattr(counts, part)}) exceeds {whole} "
                f"({getattr(counts, whole)})",
                code="bad_kpi_counts",
            )
    n = counts.satisfaction_count
    if not n <= counts.satisfaction_sum <= 5 * n:
        raise ValidationFailed(
            "satisfaction_sum must lie between 1 and 5 per rating", code="bad_kpi_counts"
        )


def filed_score(filed: int, *, subject: Subject) -> float:
    """立案数分值 (0–100) from the subject's step table."""
    for bound, score in FILED_STEPS[subject]:
        if filed <= bound:
            return score
    return FILED_ABOVE[subject]


def rating(score: float) -> str:
    """A ≥ 90, B ≥ 75, C ≥ 60, D ≥ 40, else E."""
    if not math.isfinite(score):
        raise ValidationFailed(f"score {score} is not a number", code="bad_score")
    for minimum, label in RATINGS:
        if score >= minimum:
            return label
    return LOWEST_RATING


def composite(
    term_scores: dict[str, float | None], *, subject: Subject
) -> tuple[float | None, tuple[ScorePart, ...]]:
    """Weighted mean of the available term scores, re-normalised over missing terms."""
    weights = WEIGHTS[subject]
    available = {t: s for t, s in term_scores.items() if t in weights and s is not None}
    rate_terms = [t for t in available if t != "filed"]
    if not rate_terms:
        return None, ()
    total_weight = sum(weights[t] for t in available)
    parts = tuple(
        ScorePart(t, s, weights[t], round(s * weights[t] / total_weight, 2))
        for t, s in available.items()
    )
    score = sum(s * weights[t] for t, s in available.items()) / total_weight
    return round(score, 2), parts


def compute_kpis(counts: KpiCounts, *, subject: Subject) -> KpiSet:
    """The KPI set, composite score and rating of a region (区域) or department (部门)."""
    if subject not in WEIGHTS:
        raise ValidationFailed(f"subject {subject!r} is not region or department")
    _check(counts)
    close_rate = _rate(counts.closed, counts.due_to_close)
    on_time_close = _rate(counts.closed_on_time, counts.due_to_close)
    on_time_handle = _rate(counts.handled_on_time, counts.due_to_handle)
    rework = _rate(counts.reworked, counts.due_to_close)
    public = _rate(counts.public_verified, counts.filed)
    terms: dict[str, float | None] = {
        "public_report": None if public is None else 100.0 - public,
        "filed": filed_score(counts.filed, subject=subject),
        "close_rate": close_rate,
        "on_time_close_rate": on_time_close,
        "on_time_handle_rate": on_time_handle,
        "rework": None if rework is None else 100.0 - rework,
    }
    score, parts = composite(terms, subject=subject)
    sat_n = counts.satisfaction_count
    return KpiSet(
        subject=subject,
        filed=counts.filed,
        close_rate=close_rate,
        on_time_close_rate=on_time_close,
        on_time_handle_rate=on_time_handle,
        rework_rate=rework,
        overdue=counts.overdue,
        public_report_rate=public,
        avg_handling_hours=(
            round(counts.handling_seconds_sum / counts.handling_count / 3600.0, 2)
            if counts.handling_count
            else None
        ),
        satisfaction=round(counts.satisfaction_sum / sat_n, 2) if sat_n else None,
        satisfaction_rate=_rate(counts.satisfied_count, sat_n),
        score=score,
        rating=None if score is None else rating(score),
        parts=parts,
    )
