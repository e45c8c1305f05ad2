"""DRG payment worked by hand on the shipped parameters (三级 费率 ¥12,000/RW, 二级 ¥10,000;
高倍率 3× / 2×, 低倍率 0.4×, 3 % deposit) and CMI by hospital."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from cityops.scenarios.medicare import payment
from cityops.scenarios.medicare.grouper import group
from cityops.scenarios.medicare.payment import PayKind
from tests.scenarios.medicare.drg_kit import TABLES, rec

RULES = payment.load_rules()


def pay(cost: int, level: str = "三级", **kw: object) -> payment.CasePayment:
    r = rec(**{"principal_dx": "K35.800", "procedures": "47.0901", "cost_fen": cost, **kw})
    return payment.pay_case(r, group(r, TABLES), tables=TABLES, rules=RULES, level=level)


def test_a_normal_case_is_paid_rate_times_weight_less_the_deposit() -> None:
    p = pay(1_000_000)  # GD15, RW 0.86
    assert (p.drg, p.kind) == ("GD15", PayKind.drg)
    assert p.standard_fen == 1_032_000  # 1,200,000 × 0.86
    assert p.paid_fen == 1_032_000
    assert p.deposit_fen == 30_960  # 3 %
    assert pay(1_000_000, "二级").paid_fen == 860_000  # 1,000,000 × 0.86


def test_high_outliers_by_level() -> None:
    # GD15's average cost is 1,032,000: 三级 threshold 3 × = 3,096,000, 二级 2 × = 2,064,000
    assert pay(3_096_000).kind == PayKind.drg
    high = pay(3_096_001)
    assert (high.kind, high.paid_fen, high.standard_fen) == (PayKind.high, 3_096_001, 1_032_000)
    assert high.deposit_fen == 92_880  # 92,880.03 rounded
    assert pay(2_064_001, "二级").kind == PayKind.high
    assert pay(2_064_000, "二级").kind == PayKind.drg


def test_low_outliers_are_paid_per_item() -> None:
    assert pay(412_800).kind == PayKind.drg  # exactly 0.4 × 1,032,000
    low = pay(412_799)
    assert (low.kind, low.paid_fen, low.deposit_fen) == (PayKind.low, 412_799, 12_384)


def test_ungroupable_and_ambiguous_cases_are_paid_per_item() -> None:
    assert pay(500_000, principal_dx="R50.900", procedures="").kind == PayKind.item
    p = pay(700_000, principal_dx="I10.x00", procedures="54.1100")
    assert (p.drg, p.kind, p.paid_fen, p.standard_fen) == ("FQY", PayKind.item, 700_000, 0)


def test_rate_from_budget_is_exact() -> None:
    rate = payment.rate_from_budget(12_000_000, [10_000, 20_000, 30_000])  # Σ RW = 6
    assert rate == 2_000_000
    odd = payment.rate_from_budget(1_000_000, [30_000])
    assert odd == Fraction(1_000_000, 3)
    assert payment.standard_fen(30_000, odd) == 1_000_000  # no drift through the fraction
    with pytest.raises(ValueError):
        payment.rate_from_budget(1, [])


def test_rounding_is_half_up_to_the_fen() -> None:
    assert [payment.round_half_up(Fraction(n, 2)) for n in (1, 3, 5)] == [1, 2, 3]
    assert payment.round_half_up(Fraction(1, 3)) == 0


def test_cmi_by_hospital() -> None:
    rs = [
        rec(id="1", hospital="H1", principal_dx="K35.800", procedures="47.0901",
            other_dx="J18.900"),  # GD11 1.35
        rec(id="2", hospital="H1", principal_dx="K35.800", procedures="47.0901"),  # GD15 0.86
        rec(id="3", hospital="H1", principal_dx="R50.900"),  # 0000
        rec(id="4", hospital="H0", principal_dx="K35.800"),  # GZ15 0.5
    ]  # fmt: skip
    gs = [group(r, TABLES) for r in rs]
    h0, h1 = payment.cmi_by_hospital(rs, gs)
    assert (h1.hospital, h1.cases, h1.grouped, h1.ungroupable, h1.weight_e4) == (
        "H1", 3, 2, 1, 22_100
    )  # fmt: skip
    assert str(h1.cmi) == "1.1050"  # (1.35 + 0.86) / 2: ungroupable cases carry no weight
    assert (h0.hospital, str(h0.cmi), h0.paid_fen) == ("H0", "0.5000", None)


def test_bad_parameters_name_the_field(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("rates_fen: {一级: 1, 二级: 2}\nhigh_multiple: {}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="rates_fen needs a value for each of 一级, 二级, 三级"):
        payment.load_rules(path)
