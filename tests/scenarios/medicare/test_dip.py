"""DIP on the shipped synthetic catalogue: core and 综合病种 packets, cost-deviation
coefficients, and settlement by point value = budget ÷ total points."""

from __future__ import annotations

from fractions import Fraction

import pytest

from cityops.scenarios.medicare import dip, payment
from cityops.scenarios.medicare.dip import Deviation
from tests.scenarios.medicare.drg_kit import TABLES, rec

CAT, _ = dip.load_catalogue()
RULES = payment.load_rules().dip


def score(cost: int = 1_056_000, level: str | None = None, **kw: object) -> dip.DipCase:
    r = rec(**{"principal_dx": "K35.800", "procedures": "47.0901", "cost_fen": cost, **kw})
    return dip.score(r, CAT, rules=RULES, or_procs=TABLES.or_procs, level=level)


def test_core_packet_by_diagnosis_and_procedure() -> None:
    c = score()
    assert (c.packet, c.points, c.deviation) == ("K35-47.0901", 88, Deviation.normal)
    assert c.why == "核心病种 K35-47.0901: principal diagnosis K35.800, procedure 47.0901"
    assert score(procedures="").packet == "K35-0"  # 保守治疗


@pytest.mark.parametrize(
    ("kw", "packet"),
    [
        ({"principal_dx": "K29.700", "procedures": ""}, "K"),  # 保守治疗组
        ({"principal_dx": "K29.700", "procedures": "44.4301"}, "K*t"),  # non-OR: 治疗性操作组
        ({"principal_dx": "K29.700", "procedures": "54.1100"}, "K*s"),  # OR: 相关手术组
        ({"principal_dx": "K92.200", "procedures": "44.4301"}, "K92-44.4301"),
    ],
)
def test_comprehensive_packets_by_chapter_and_treatment(kw: dict[str, str], packet: str) -> None:
    assert score(**kw).packet == packet


def test_no_packet_is_said_so() -> None:
    c = score(principal_dx="N80.000", procedures="", sex=2)
    assert (c.packet, c.points) == (None, 0)
    assert c.why == "no core packet and no conservative 综合病种 for chapter N"


def test_deviation_coefficients() -> None:
    # packet average 1,056,000 fen, 88 points
    assert score(528_000).deviation == Deviation.normal  # exactly half: not below
    low = score(500_000)
    assert (low.deviation, low.coefficient) == (Deviation.low, Fraction(500_000, 1_056_000))
    assert low.points == Fraction(125, 3)  # 88 × 500/1056
    high = score(2_640_000)  # 2.5 × → (2.5 − 2) + 1 = 1.5
    assert (high.deviation, high.coefficient, high.points) == (Deviation.high, 1.5, 132)
    extreme = score(6 * 1_056_000)
    assert (extreme.deviation, extreme.points) == (Deviation.extreme, 440)


def test_hospital_level_coefficient() -> None:
    rules = dip.DipRules(level_coefficient={"一级": Fraction(1), "二级": Fraction(1),
                                            "三级": Fraction(6, 5)})  # fmt: skip
    r = rec(principal_dx="K35.800", procedures="47.0901", cost_fen=1_056_000)
    assert dip.score(
        r, CAT, rules=rules, or_procs=TABLES.or_procs, level="三级"
    ).points == Fraction(528, 5)


def test_settlement_point_value_is_budget_over_points() -> None:
    cases = [  # each at its packet's average cost: no deviation
        score(),
        score(576_000, procedures=""),
        score(480_000, principal_dx="K29.700", procedures=""),
    ]
    s = dip.settle(cases, 1_760_000)  # 88 + 48 + 40 = 176 points
    assert (s.total_points, s.point_value_fen) == (176, 10_000)
    assert s.paid_fen == [880_000, 480_000, 400_000]
    thirds = dip.settle([score(), score(), score()], 1_000_000)
    assert str(thirds.point_value) == "3787.8788"
    assert thirds.paid_fen == [333_333] * 3
    with pytest.raises(ValueError, match="nothing to settle"):
        dip.settle([], 100)
