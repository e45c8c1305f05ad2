"""Black-odorous water grading (城市黑臭水体整治工作指南, MOHURD/MEP 2015): pure functions.

Per reading, each indicator (transparency, DO, ORP, NH3-N) is in the severe, light or no range;
a monitoring point is graded from the shares of its data in the severe range, a water body from
its points. Thresholds come from ``standards.py``.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass

from cityops.errors import ValidationFailed
from cityops.scenarios.river.standards import STANDARD, BlackOdorousRule, check_range


class BlackOdorous(enum.StrEnum):
    none = "none"
    light = "light"  # 轻度黑臭
    severe = "severe"  # 重度黑臭

    @property
    def label(self) -> str:
        return {"none": "非黑臭", "light": "轻度黑臭", "severe": "重度黑臭"}[self.value]


Readings = float | Sequence[float] | None


@dataclass(frozen=True, kw_only=True)
class PointGrade:
    """A monitoring point's grade and, per indicator given, the share of its data severe."""

    grade: BlackOdorous
    severe_shares: dict[str, float]


def _level(key: str, value: float, depth_cm: float | None, rule: BlackOdorousRule) -> BlackOdorous:
    ind = rule.indicators[key]
    check_range(key, value, ind.min, ind.max, ind.unit)
    if key == "transparency_cm" and depth_cm is not None and depth_cm < rule.shallow_depth_cm:
        if value >= depth_cm:  # clear to the bottom
            return BlackOdorous.none
        if value < rule.shallow_fraction * depth_cm:
            return BlackOdorous.severe
        return BlackOdorous.light
    if ind.severe.holds(value):
        return BlackOdorous.severe
    return BlackOdorous.light if ind.light.holds(value) else BlackOdorous.none


def black_odorous(
    *,
    transparency_cm: Readings = None,
    do: Readings = None,
    orp: Readings = None,
    nh3n: Readings = None,
    depth_cm: float | None = None,
    rule: BlackOdorousRule = STANDARD.black_odorous,
) -> PointGrade:
    """One point from its samples (a number or a series per indicator). Severe when one indicator
    has ≥ 60 % of its data severe or two have ≥ 30 % each; light when any reading is in a light or
    severe range; otherwise not black-odorous."""
    given = {"transparency_cm": transparency_cm, "do": do, "orp": orp, "nh3n": nh3n}
    series = {
        k: [v] if isinstance(v, int | float) else list(v) for k, v in given.items() if v is not None
    }
    if not any(series.values()):
        raise ValidationFailed("give at least one black-odorous reading", code="no_readings")
    if depth_cm is not None and not (math.isfinite(depth_cm) and depth_cm > 0):
        raise ValidationFailed(f"depth_cm = {depth_cm} must be > 0", code="value_out_of_range")
    levels = {k: [_level(k, v, depth_cm, rule) for v in vs] for k, vs in series.items() if vs}
    shares = {k: sum(lv == BlackOdorous.severe for lv in ls) / len(ls) for k, ls in levels.items()}
    if any(s >= rule.one_share for s in shares.values()) or (
        sum(s >= rule.two_share for s in shares.values()) >= 2
    ):
        grade = BlackOdorous.severe
    elif any(lv != BlackOdorous.none for ls in levels.values() for lv in ls):
        grade = BlackOdorous.light
    else:
        grade = BlackOdorous.none
    return PointGrade(grade=grade, severe_shares=shares)


@dataclass(frozen=True, kw_only=True)
class BodyGrade:
    """A water body from its points in order along it; ``severe_stretches`` are (first, last)
    point indexes of runs of ≥ 3 severe points, the stretch between them being severe."""

    grade: BlackOdorous
    severe_share: float
    severe_stretches: list[tuple[int, int]]


def water_body_black_odorous(
    points: Sequence[BlackOdorous], *, rule: BlackOdorousRule = STANDARD.black_odorous
) -> BodyGrade:
    if not points:
        raise ValidationFailed("give at least one point", code="no_readings")
    severe = [p == BlackOdorous.severe for p in points]
    stretches: list[tuple[int, int]] = []
    start: int | None = None
    for i, s in enumerate([*severe, False]):
        if s and start is None:
            start = i
        elif not s and start is not None:
            if i - start >= rule.run_length:
                stretches.append((start, i - 1))
            start = None
    share = sum(severe) / len(points)
    if share >= rule.body_share:
        grade = BlackOdorous.severe
    elif any(p != BlackOdorous.none for p in points):
        grade = BlackOdorous.light
    else:
        grade = BlackOdorous.none
    return BodyGrade(grade=grade, severe_share=share, severe_stretches=stretches)
