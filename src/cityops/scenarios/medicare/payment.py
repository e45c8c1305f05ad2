"""DRG payment (reference §1.4): 费率 × RW, outliers paid per item, the deposit, CMI by hospital.

Money is integer fen everywhere; weights are RW × 10,000 integers; ratios are exact fractions,
so a figure is rounded once (half up) and sums never drift. Parameters are data
(``data/payment.yaml``), each with its evidence level.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import yaml

from cityops.scenarios.medicare.drg_tables import DrgTables
from cityops.scenarios.medicare.grouper import Grouping, Status
from cityops.scenarios.medicare.records import LEVELS, DischargeRecord

SHIPPED_RULES = Path(__file__).resolve().parent / "data" / "payment.yaml"


def round_half_up(x: Fraction) -> int:
    """Round an exact amount to whole fen, halves away from zero (amounts are not negative)."""
    return int((x + Fraction(1, 2)).__floor__())


def _ratio(raw: Any, name: str) -> Fraction:
    try:
        value = Fraction(str(raw))
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"{name}: {raw!r} is not a number") from None
    if value < 0:
        raise ValueError(f"{name}: {raw} is negative")
    return value


def _by_level(raw: Any, name: str) -> dict[str, Fraction]:
    if not isinstance(raw, Mapping) or set(raw) != set(LEVELS):
        raise ValueError(f"{name} needs a value for each of {', '.join(LEVELS)}")
    return {lvl: _ratio(raw[lvl], f"{name}.{lvl}") for lvl in LEVELS}


@dataclass(frozen=True)
class DipRules:
    low_ratio: Fraction = Fraction(1, 2)
    high_ratio: Fraction = Fraction(2)
    extreme_ratio: Fraction = Fraction(5)
    level_coefficient: Mapping[str, Fraction] | None = None

    def coefficient(self, level: str | None) -> Fraction:
        if self.level_coefficient is None or level is None:
            return Fraction(1)
        return self.level_coefficient[level]


@dataclass(frozen=True)
class PaymentRules:
    rates_fen: Mapping[str, Fraction]  # fen per 1.0 RW, by level
    high_multiple: Mapping[str, Fraction]
    low_multiple: Fraction
    item_ratio: Fraction
    quality_deposit: Fraction
    dip: DipRules


def load_rules(path: Path = SHIPPED_RULES) -> PaymentRules:
    """Read payment parameters; ValueError names the first bad one (they are all needed)."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    dip = raw.get("dip") or {}
    return PaymentRules(
        rates_fen=_by_level(raw.get("rates_fen"), "rates_fen"),
        high_multiple=_by_level(raw.get("high_multiple"), "high_multiple"),
        low_multiple=_ratio(raw.get("low_multiple", "0.4"), "low_multiple"),
        item_ratio=_ratio(raw.get("item_ratio", 1), "item_ratio"),
        quality_deposit=_ratio(raw.get("quality_deposit", 0), "quality_deposit"),
        dip=DipRules(
            low_ratio=_ratio(dip.get("low_ratio", "0.5"), "dip.low_ratio"),
            high_ratio=_ratio(dip.get("high_ratio", 2), "dip.high_ratio"),
            extreme_ratio=_ratio(dip.get("extreme_ratio", 5), "dip.extreme_ratio"),
            level_coefficient=_by_level(dip["level_coefficient"], "dip.level_coefficient")
            if "level_coefficient" in dip
            else None,
        ),
    )


class PayKind(enum.StrEnum):
    drg = "drg"  # the DRG payment standard
    high = "high"  # 高倍率: per item
    low = "low"  # 低倍率: per item
    item = "item"  # ambiguous or ungroupable: per item


@dataclass(frozen=True, slots=True)
class CasePayment:
    record_id: str
    drg: str
    kind: PayKind
    standard_fen: int  # 费率 × RW (0 when not grouped)
    paid_fen: int
    deposit_fen: int  # withheld quality deposit
    why: str


def standard_fen(weight_e4: int, rate_fen: Fraction) -> int:
    """DRG payment standard = 费率 × RW."""
    return round_half_up(rate_fen * weight_e4 / 10_000)


def rate_from_budget(budget_fen: int, weights_e4: Iterable[int]) -> Fraction:
    """费率 = DRG budget ÷ Σ(predicted cases × RW): fen per 1.0 RW (exact)."""
    total = sum(weights_e4)
    if total <= 0 or budget_fen < 0:
        raise ValueError("a rate needs a budget ≥ 0 and cases with weight")
    return Fraction(budget_fen * 10_000, total)


def pay_case(
    record: DischargeRecord,
    grouping: Grouping,
    *,
    tables: DrgTables,
    rules: PaymentRules,
    level: str,
) -> CasePayment:
    """What the fund owes for one case at a hospital of ``level`` (一级/二级/三级)."""
    cost = record.cost_fen
    item = round_half_up(cost * rules.item_ratio)
    if grouping.status != Status.grouped:
        return _paid(record, grouping, PayKind.item, 0, item, rules, f"{grouping.drg}: per item")
    drg = tables.drgs[grouping.drg]
    std = standard_fen(drg.weight_e4, rules.rates_fen[level])
    base = drg.avg_cost_fen if drg.avg_cost_fen is not None else std
    high, low = rules.high_multiple[level], rules.low_multiple
    if cost > high * base:
        why = f"高倍率: cost {cost} > {high} × {base}; per item"
        return _paid(record, grouping, PayKind.high, std, item, rules, why)
    if cost < low * base:
        why = f"低倍率: cost {cost} < {low} × {base}; per item"
        return _paid(record, grouping, PayKind.low, std, item, rules, why)
    why = f"{grouping.drg}: RW {drg.weight_e4 / 1e4:g} × 费率 {_fen(rules.rates_fen[level])} fen"
    return _paid(record, grouping, PayKind.drg, std, std, rules, why)


def _fen(x: Fraction) -> str:
    return str(x.numerator) if x.denominator == 1 else f"{float(x):.2f}"


def _paid(
    r: DischargeRecord,
    g: Grouping,
    kind: PayKind,
    std: int,
    paid: int,
    rules: PaymentRules,
    why: str,
) -> CasePayment:
    deposit = round_half_up(paid * rules.quality_deposit)
    return CasePayment(r.id, g.drg, kind, std, paid, deposit, why)


@dataclass(frozen=True, slots=True)
class HospitalCmi:
    hospital: str
    cases: int
    grouped: int
    ambiguous: int
    ungroupable: int
    weight_e4: int  # Σ RW × 10,000 over grouped cases
    paid_fen: int | None  # when every case's level was known

    @property
    def cmi(self) -> Decimal:
        """CMI = Σ RW ÷ grouped cases, to 4 decimals (0 with no grouped case)."""
        if not self.grouped:
            return Decimal(0)
        return (Decimal(self.weight_e4) / self.grouped / 10_000).quantize(Decimal("0.0001"))


def cmi_by_hospital(
    records: Sequence[DischargeRecord],
    groupings: Sequence[Grouping],
    *,
    payments: Sequence[CasePayment] | None = None,
) -> list[HospitalCmi]:
    """Per hospital: case counts by status, Σ RW, CMI (and Σ paid), sorted by hospital code."""
    acc: dict[str, list[int]] = {}
    for i, (r, g) in enumerate(zip(records, groupings, strict=True)):
        a = acc.setdefault(r.hospital, [0, 0, 0, 0, 0, 0])
        a[0] += 1
        if g.status == Status.grouped:
            a[1] += 1
            a[4] += g.weight_e4
        elif g.status == Status.ambiguous:
            a[2] += 1
        else:
            a[3] += 1
        if payments is not None:
            a[5] += payments[i].paid_fen
    return [
        HospitalCmi(h, a[0], a[1], a[2], a[3], a[4], a[5] if payments is not None else None)
        for h, a in sorted(acc.items())
    ]
