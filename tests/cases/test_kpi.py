"""KPI rates, composite scores and ratings, checked against hand-computed numbers."""

from __future__ import annotations

import pytest

from cityops.cases.kpi import KpiCounts, compute_kpis, filed_score, rating
from cityops.errors import ValidationFailed


def month() -> KpiCounts:
    """A district month: 80 filed, 4 of them voided later, 72 closed (60 on time) …"""
    return KpiCounts(
        reported=95,
        filed=80,
        voided=15,
        dispatched=75,
        due_to_close=76,
        closed=72,
        closed_on_time=60,
        due_to_handle=75,
        handled_on_time=66,
        reworked=3,
        overdue=9,
        public_verified=8,
        handling_seconds_sum=70 * 3.5 * 3600,
        handling_count=70,
        satisfaction_sum=170,
        satisfaction_count=40,
        satisfied_count=34,
    )


def test_rates() -> None:
    k = compute_kpis(month(), subject="region")
    assert k.filed == 80
    assert k.close_rate == 94.74  # 72 / 76
    assert k.on_time_close_rate == 78.95  # 60 / 76
    assert k.on_time_handle_rate == 88.0  # 66 / 75
    assert k.rework_rate == 3.95  # 3 / 76
    assert k.public_report_rate == 10.0  # 8 / 80
    assert k.overdue == 9
    assert k.avg_handling_hours == 3.5
    assert k.satisfaction == 4.25  # 170 / 40
    assert k.satisfaction_rate == 85.0  # 34 / 40


def test_region_composite() -> None:
    # 0.1 × (100 − 10) + 0.2 × 90 (80 filed ≤ 100) + 0.3 × 94.74 + 0.4 × 78.95 = 87.002
    k = compute_kpis(month(), subject="region")
    assert k.score == 87.0
    assert k.rating == "B"
    assert {p.term: p.points for p in k.parts} == {
        "public_report": 9.0,
        "filed": 18.0,
        "close_rate": 28.42,
        "on_time_close_rate": 31.58,
    }


def test_department_composite() -> None:
    # 8 points (80 filed ≤ 100) + 0.3 × 94.74 + 0.3 × 88 + 0.3 × (100 − 3.95) = 91.637
    k = compute_kpis(month(), subject="department")
    assert k.score == 91.64
    assert k.rating == "A"


def test_missing_rate_terms_are_left_out_and_weights_renormalised() -> None:
    # Nothing filed in the period, 10 dispatched (older cases), 5 on time:
    # (0.1 × 100 + 0.3 × 50) / 0.4 = 62.5
    counts = KpiCounts(dispatched=10, due_to_handle=10, handled_on_time=5)
    k = compute_kpis(counts, subject="department")
    assert k.close_rate is None and k.rework_rate is None
    assert k.on_time_handle_rate == 50.0
    assert k.score == 62.5
    assert k.rating == "C"


def test_no_cases_means_no_score_and_no_rating() -> None:
    k = compute_kpis(KpiCounts(), subject="region")
    assert (k.score, k.rating, k.close_rate, k.public_report_rate) == (None, None, None, None)
    assert (k.avg_handling_hours, k.satisfaction, k.satisfaction_rate) == (None, None, None)


@pytest.mark.parametrize(
    ("filed", "region", "department"),
    [(0, 100, 100), (50, 100, 100), (51, 90, 80), (1000, 40, 20), (1001, 20, 0)],
)
def test_filed_step_tables(filed: int, region: float, department: float) -> None:
    assert filed_score(filed, subject="region") == region
    assert filed_score(filed, subject="department") == department


@pytest.mark.parametrize(
    ("score", "label"),
    [(100, "A"), (90, "A"), (89.99, "B"), (75, "B"), (74.99, "C"), (60, "C"), (40, "D"),
     (39.99, "E"), (0, "E")],
)  # fmt: skip
def test_rating_bands(score: float, label: str) -> None:
    assert rating(score) == label


@pytest.mark.parametrize(
    "counts",
    [
        KpiCounts(due_to_close=5, closed=6),
        KpiCounts(due_to_close=5, closed=5, closed_on_time=6),
        KpiCounts(due_to_handle=2, handled_on_time=3),
        KpiCounts(filed=-1),
        KpiCounts(satisfaction_count=1, satisfaction_sum=6),
        KpiCounts(satisfaction_count=2, satisfaction_sum=8, satisfied_count=3),
        KpiCounts(handling_seconds_sum=float("nan")),
    ],
)
def test_inconsistent_counts_are_rejected(counts: KpiCounts) -> None:
    with pytest.raises(ValidationFailed) as err:
        compute_kpis(counts, subject="region")
    assert err.value.code == "bad_kpi_counts"


def test_rating_rejects_nan() -> None:
    with pytest.raises(ValidationFailed):
        rating(float("nan"))
