"""DIP 按病种分值付费 (reference §2): packet matching, case points, point value, payment.

A 核心病种 is principal diagnosis (a code or category) + principal procedure (empty = 保守治疗);
what no core packet takes falls into a 综合病种 of its ICD chapter letter by treatment:
保守治疗 (conservative, no procedure), 治疗性操作 (therapeutic, non-OR procedures only) or
相关手术 (surgery, an OR procedure). Points are kept exact (fractions) and money in fen.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

from cityops.errors import CityOpsError
from cityops.scenarios.medicare import icd
from cityops.scenarios.medicare.drg_loader import LoadIssue, table_rows
from cityops.scenarios.medicare.drg_tables import diagnosis_keys, procedure_keys
from cityops.scenarios.medicare.payment import DipRules, round_half_up
from cityops.scenarios.medicare.records import DischargeRecord

SHIPPED = Path(__file__).resolve().parent / "data" / "dip" / "packets.csv"


class Kind(enum.StrEnum):
    core = "core"
    conservative = "conservative"  # 保守治疗组
    therapeutic = "therapeutic"  # 治疗性操作组
    surgery = "surgery"  # 相关手术组


@dataclass(frozen=True, slots=True)
class Packet:
    code: str
    dx: str
    proc: str  # "" = conservative treatment
    kind: Kind
    points: Fraction
    avg_cost_fen: int
    name: str


@dataclass
class Catalogue:
    core: dict[tuple[str, str], Packet]
    comprehensive: dict[tuple[str, Kind], Packet]


def _packet(row: dict[str, str]) -> Packet:
    kind = Kind(row["kind"])
    if kind == Kind.core:
        try:
            dx = icd.diagnosis(row["dx"], field="dx")
            proc = icd.procedure(row["proc"], field="proc") if row["proc"] else ""
        except CityOpsError as exc:
            raise ValueError(exc.message) from None
    else:
        dx, proc = row["dx"].upper(), ""
        if len(dx) != 1 or not dx.isalpha():
            raise ValueError(f"a {kind} packet is keyed by an ICD chapter letter, not {dx!r}")
    try:
        points, avg = Fraction(row["points"]), int(row["avg_cost_fen"])
    except (ValueError, ZeroDivisionError):
        raise ValueError("points and avg_cost_fen must be numbers") from None
    if points <= 0 or avg <= 0:
        raise ValueError("points and avg_cost_fen must be positive")
    return Packet(row["packet"], dx, proc, kind, points, avg, row["name"])


def load_catalogue(path: Path = SHIPPED) -> tuple[Catalogue, list[LoadIssue]]:
    """Read a packet catalogue; bad rows are reported (file:line) and left out."""
    cat, issues = Catalogue({}, {}), []
    for n, row in table_rows(path):
        try:
            p = _packet(row)
        except (ValueError, KeyError) as exc:
            issues.append(LoadIssue(path.name, n, f"{exc}; row left out"))
            continue
        if p.kind == Kind.core:
            cat.core[(p.dx, p.proc)] = p
        else:
            cat.comprehensive[(p.dx, p.kind)] = p
    return cat, issues


def match(
    record: DischargeRecord, cat: Catalogue, or_procs: frozenset[str]
) -> tuple[Packet | None, str]:
    """The record's packet and why; None when even no 综合病种 takes it."""
    dx_keys = diagnosis_keys(record.principal_dx)
    proc = record.procedures[0] if record.procedures else ""
    for pk in procedure_keys(proc) if proc else ("",):
        for dk in dx_keys:
            p = cat.core.get((dk, pk))
            if p is not None:
                treat = f"procedure {proc}" if proc else "no procedure"
                return p, f"核心病种 {p.code}: principal diagnosis {record.principal_dx}, {treat}"
    if not record.procedures:
        kind = Kind.conservative
    elif any(k in or_procs for c in record.procedures for k in procedure_keys(c)):
        kind = Kind.surgery
    else:
        kind = Kind.therapeutic
    p = cat.comprehensive.get((record.principal_dx[0], kind))
    if p is None:
        return None, f"no core packet and no {kind} 综合病种 for chapter {record.principal_dx[0]}"
    return p, f"综合病种 {p.code}: chapter {record.principal_dx[0]}, {kind}"


class Deviation(enum.StrEnum):
    normal = "normal"
    low = "low"  # 费用偏差: below low_ratio of the packet's average
    high = "high"
    extreme = "extreme"  # above extreme_ratio: expert review (特例单议)


@dataclass(frozen=True, slots=True)
class DipCase:
    record_id: str
    packet: str | None
    base_points: Fraction
    coefficient: Fraction  # deviation coefficient
    points: Fraction  # base × deviation coefficient × hospital-level coefficient
    deviation: Deviation
    why: str


def score(
    record: DischargeRecord,
    cat: Catalogue,
    *,
    rules: DipRules,
    or_procs: frozenset[str],
    level: str | None = None,
) -> DipCase:
    """A case's DIP points: its packet's points adjusted for cost deviation and hospital level."""
    p, why = match(record, cat, or_procs)
    if p is None:
        return DipCase(
            record.id, None, Fraction(0), Fraction(0), Fraction(0), Deviation.normal, why
        )
    ratio = Fraction(record.cost_fen, p.avg_cost_fen)
    if ratio < rules.low_ratio:
        dev, coef = Deviation.low, ratio
    elif ratio > rules.high_ratio:
        dev = Deviation.extreme if ratio > rules.extreme_ratio else Deviation.high
        coef = ratio - rules.high_ratio + 1
    else:
        dev, coef = Deviation.normal, Fraction(1)
    if dev != Deviation.normal:
        why += (
            f"; cost {float(ratio):.2f}× the packet average: {dev}, coefficient {float(coef):.4f}"
        )
    points = p.points * coef * rules.coefficient(level)
    return DipCase(record.id, p.code, p.points, coef, points, dev, why)


@dataclass(frozen=True)
class Settlement:
    total_points: Fraction
    point_value_fen: Fraction  # fen per point = budget ÷ total points
    paid_fen: list[int]  # per case, in order

    @property
    def point_value(self) -> Decimal:
        """Fen per point to 4 decimals, for display."""
        v = self.point_value_fen
        return (Decimal(v.numerator) / Decimal(v.denominator)).quantize(Decimal("0.0001"))


def settle(cases: Sequence[DipCase], budget_fen: int) -> Settlement:
    """点值 = budget ÷ Σ points; each case is paid its points × 点值 (rounded to the fen)."""
    total = sum((c.points for c in cases), Fraction(0))
    if total <= 0:
        raise ValueError("no case has DIP points: nothing to settle")
    value = Fraction(budget_fen) / total
    return Settlement(total, value, [round_half_up(c.points * value) for c in cases])
