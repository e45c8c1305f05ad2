"""医药价格智治, pure: medians per (product, district), ratios, tolerance boundaries, ranking and
the consecutive-check streak — each worked by hand."""

from __future__ import annotations

import math

import numpy as np

from cityops.scenarios.medicare import pricegov
from cityops.scenarios.medicare.pricegov import Rows, Tolerances

NAN = float("nan")


def rows(unit: list[float], group: list[int], listed: list[float], vbp: list[float]) -> Rows:
    n = len(unit)
    return Rows(
        stock_id=np.arange(1, n + 1, dtype=np.int64),
        pharmacy=np.arange(10, 10 + n, dtype=np.int64),
        group=np.array(group, dtype=np.int64),
        unit=np.array(unit, dtype=float),
        listed_unit=np.array(listed, dtype=float),
        vbp_unit=np.array(vbp, dtype=float),
    )


def test_median_odd_and_even_groups_given_back_per_row() -> None:
    # group 0: 10, 30, 20 → 20; group 1: 7, 5 → (5 + 7) / 2 = 6
    median, peers = pricegov.group_medians(
        np.array([0, 1, 0, 0, 1], dtype=np.int64), np.array([10.0, 7.0, 30.0, 20.0, 5.0])
    )
    assert median.tolist() == [20.0, 6.0, 20.0, 20.0, 6.0]
    assert peers.tolist() == [3, 2, 3, 3, 2]


def test_exactly_at_the_tolerance_is_not_flagged_just_above_is() -> None:
    tol = Tolerances(listed=0.25, vbp=0.5, median=10.0, min_peers=2)
    # listed 100 a unit: 125 is +25 % (at the tolerance), 126 is +26 %
    out = pricegov.compare(rows([125.0, 126.0], [0, 0], [100.0, 100.0], [NAN, NAN]), tol)
    assert out.r_listed.tolist() == [0.25, 0.26]
    assert out.flags.tolist() == [0, pricegov.FLAG_LISTED]
    assert math.isnan(out.r_vbp[0])  # no VBP award: not compared, not flagged


def test_vbp_and_median_flags_and_the_worst_ratio() -> None:
    tol = Tolerances(listed=0.15, vbp=0.5, median=0.5, min_peers=3)
    # one group of three: 40, 60, 100 → median 60; the 100 row: +66.7 % over the median,
    # VBP 50 → +100 %, listed 100 → 0 %
    out = pricegov.compare(rows([40.0, 60.0, 100.0], [0, 0, 0], [100.0] * 3, [50.0] * 3), tol)
    assert out.median.tolist() == [60.0] * 3
    assert out.flags[2] == pricegov.FLAG_VBP | pricegov.FLAG_MEDIAN
    assert pricegov.flag_names(int(out.flags[2])) == ["vbp", "median"]
    assert out.worst[2] == 1.0  # the VBP ratio, the largest
    assert out.flags[:2].tolist() == [0, 0]  # 60 is +20 % over VBP: under 50 %


def test_a_group_under_min_peers_is_not_compared_with_its_median() -> None:
    tol = Tolerances(listed=10.0, vbp=10.0, median=0.1, min_peers=3)
    out = pricegov.compare(rows([10.0, 100.0], [0, 0], [NAN, NAN], [NAN, NAN]), tol)
    assert np.isnan(out.r_median).all() and out.flags.tolist() == [0, 0]
    assert np.isnan(out.worst).all()


def test_ranking_by_flagged_rows_then_mean_deviation() -> None:
    tol = Tolerances(listed=0.15, vbp=1.0, median=10.0, min_peers=9)
    # ratios vs listed 100: pharmacy 1: +50 %, +0 %; pharmacy 2: +20 %, +30 % (two flagged);
    # pharmacy 3: -10 %
    r = rows([150.0, 100.0, 120.0, 130.0, 90.0], [0, 1, 0, 1, 0], [100.0] * 5, [NAN] * 5)
    out = pricegov.compare(r, tol)
    ranks = pricegov.rank(np.array([1, 1, 2, 2, 3], dtype=np.int64), out, limit=10)
    assert [(k.key, k.flagged) for k in ranks] == [(2, 2), (1, 1), (3, 0)]
    assert math.isclose(ranks[0].mean_worst, 0.25) and math.isclose(ranks[1].max_worst, 0.5)
    assert len(pricegov.rank(np.array([1, 1, 2, 2, 3], dtype=np.int64), out, limit=1)) == 1


def test_streak_counts_consecutive_checks() -> None:
    def step(flagged: bool, last: int | None, prev: int | None, today: int, streak: int) -> int:
        return pricegov.next_streak(
            flagged=flagged, last_flag_day=last, previous_check_day=prev, today=today,
            streak=streak,
        )  # fmt: skip

    assert step(True, None, None, 10, 0) == 1  # first flag
    assert step(True, 10, 10, 11, 1) == 2  # flagged in the previous check
    assert step(True, 11, 11, 11, 2) == 2  # a re-run the same day
    assert step(True, 10, 12, 13, 3) == 1  # the check of day 12 did not flag it
    assert step(True, 10, 10, 14, 2) == 3  # no check on days 11–13: still consecutive checks
    assert step(False, 10, 10, 11, 2) == 0


def test_a_bigger_pack_listed_cheaper_per_unit_is_not_an_outlier() -> None:
    tol = Tolerances(listed=0.15, vbp=0.15, median=0.30, min_peers=3)
    # packs of 12 listed 100 a unit, packs of 48 listed 60 a unit (药品差比价); each sold at
    # listed + 10 %, and one small pack at +50 %: markups 1.1, 1.1, 1.1, 1.5 → median 1.1
    out = pricegov.compare(
        rows([110.0, 66.0, 66.0, 150.0], [0] * 4, [100.0, 60.0, 60.0, 100.0], [NAN] * 4), tol
    )
    assert np.allclose(out.median, [110.0, 66.0, 66.0, 110.0])
    assert np.allclose(out.r_median[:3], 0.0) and math.isclose(out.r_median[3], 1.5 / 1.1 - 1)
    assert out.flags.tolist() == [0, 0, 0, pricegov.FLAG_LISTED | pricegov.FLAG_MEDIAN]
