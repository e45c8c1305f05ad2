"""Water-quality evaluation by GB 3838-2002 and black-odorous grading: pure functions, no I/O.

Single-factor method (单因子评价, 评价办法 2011): each item gets a class; a section takes its worst
counted item; the main pollutants (主要污染指标) are the worst items above the target class.
Black-odorous water (黑臭水体) is graded per the 2015 MOHURD/MEP guide. Numbers come from
``standards.py``; bad input raises ``ValidationFailed`` with a code, which the API returns as a 422.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cityops.errors import ValidationFailed
from cityops.scenarios.river.blackodorous import (
    BlackOdorous,
    BodyGrade,
    PointGrade,
    black_odorous,
    water_body_black_odorous,
)
from cityops.scenarios.river.standards import (
    STANDARD,
    Direction,
    Item,
    RiverGradeRule,
    WaterBody,
    check_range,
)


class WaterClass(enum.IntEnum):
    """水质类别, ordered best to worst; 劣V is worse than every limit of class V."""

    I = 1  # noqa: E741 - the standard's own name
    II = 2
    III = 3
    IV = 4
    V = 5
    worse_than_v = 6

    @property
    def label(self) -> str:
        return "劣V" if self is WaterClass.worse_than_v else self.name

    @classmethod
    def parse(cls, text: str) -> WaterClass:
        for c in cls:
            if text in (c.label, c.name):
                return c
        raise ValidationFailed(f"unknown water class {text!r}", code="unknown_class")


class Grade(enum.StrEnum):
    """水质状况: the verbal grade of a class, a section or a river."""

    excellent = "优"
    good = "良好"
    light = "轻度污染"
    moderate = "中度污染"
    heavy = "重度污染"


_GRADES = {1: Grade.excellent, 2: Grade.excellent, 3: Grade.good, 4: Grade.light}


def grade_of(water_class: WaterClass) -> Grade:
    """I–II 优, III 良好, IV 轻度污染, V 中度污染, 劣V 重度污染."""
    if water_class >= WaterClass.V:
        return Grade.moderate if water_class == WaterClass.V else Grade.heavy
    return _GRADES[water_class]


def _item(key: str) -> Item:
    try:
        return STANDARD.items[key]
    except KeyError:
        known = ", ".join(STANDARD.items)
        raise ValidationFailed(
            f"unknown item {key!r}; known: {known}", code="unknown_item", item=key
        ) from None


def item_class(
    *, item: str, value: float, water_body: WaterBody, do_saturation_pct: float | None = None
) -> WaterClass:
    """The class of one reading. A value equal to a limit meets it, so a limit two classes share
    gives the better class; pH inside its range is class I, outside 劣V; DO is "≥".

    ``do_saturation_pct``: DO at ≥ the table's saturation share (90 %, unconfirmed) is class I too.
    """
    spec = _item(item)
    check_range(item, value, spec.min, spec.max, spec.unit)
    if spec.direction == Direction.in_range:
        assert spec.range is not None
        lo, hi = spec.range
        return WaterClass.I if lo <= value <= hi else WaterClass.worse_than_v
    if (
        spec.direction == Direction.higher_better
        and do_saturation_pct is not None
        and spec.class_i_saturation_pct is not None
        and do_saturation_pct >= spec.class_i_saturation_pct
    ):
        return WaterClass.I
    lower = spec.direction == Direction.lower_better
    for cls, limit in zip(WaterClass, spec.limits_for(water_body), strict=False):
        if (value <= limit) if lower else (value >= limit):
            return cls
    return WaterClass.worse_than_v


def item_classes(
    *, values: Mapping[str, float], water_body: WaterBody, do_saturation_pct: float | None = None
) -> dict[str, WaterClass]:
    if not values:
        raise ValidationFailed("give at least one item", code="no_items")
    return {
        k: item_class(item=k, value=v, water_body=water_body, do_saturation_pct=do_saturation_pct)
        for k, v in values.items()
    }


def _counted(classes: Mapping[str, WaterClass]) -> dict[str, WaterClass]:
    counted = {k: c for k, c in classes.items() if STANDARD.items[k].counted}
    if not counted:
        raise ValidationFailed(
            "no item that counts for the section class (TN and fecal coliform are reported only)",
            code="no_counted_items",
        )
    return counted


def section_class(
    *, values: Mapping[str, float], water_body: WaterBody, do_saturation_pct: float | None = None
) -> WaterClass:
    """Single-factor: the worst class among the counted items."""
    classes = item_classes(
        values=values, water_body=water_body, do_saturation_pct=do_saturation_pct
    )
    return max(_counted(classes).values())


@dataclass(frozen=True, kw_only=True)
class Pollutant:
    """A main pollutant: its class and exceedance multiple 超标倍数 (C − Cs)/Cs against the target
    class limit Cs; None for pH and DO, which have no "≤" limit to exceed."""

    item: str
    name: str
    water_class: WaterClass
    multiple: float | None


def main_pollutants(
    *,
    values: Mapping[str, float],
    water_body: WaterBody,
    target_class: WaterClass | None = None,
    at_most: int = STANDARD.main_pollutants.at_most,
    do_saturation_pct: float | None = None,
) -> list[Pollutant]:
    """Counted items worse than the target (class III if none), worst class first, then the
    larger multiple; at most ``at_most``."""
    target = target_class or WaterClass(STANDARD.main_pollutants.default_target)
    if target > WaterClass.V:
        raise ValidationFailed("a target class is I..V", code="unknown_class")
    classes = _counted(
        item_classes(values=values, water_body=water_body, do_saturation_pct=do_saturation_pct)
    )
    found: list[Pollutant] = []
    for key, cls in classes.items():
        if cls <= target:
            continue
        spec = STANDARD.items[key]
        multiple = None
        if spec.direction == Direction.lower_better:
            limit = spec.limits_for(water_body)[target - 1]
            multiple = (values[key] - limit) / limit
        found.append(Pollutant(item=key, name=spec.name, water_class=cls, multiple=multiple))
    found.sort(
        key=lambda p: (-p.water_class, -(p.multiple if p.multiple is not None else -1), p.item)
    )
    return found[:at_most]


@dataclass(frozen=True, kw_only=True)
class Attainment:
    """Whether a section meets its target (达标): "符合 X类" or "劣于 X类"; ``gap``: classes
    worse than the target."""

    attained: bool
    gap: int
    phrase: str


def target_attainment(*, actual: WaterClass, target: WaterClass) -> Attainment:
    gap = max(0, actual - target)
    word = "符合" if gap == 0 else "劣于"
    return Attainment(attained=gap == 0, gap=gap, phrase=f"{word}{target.label}类")


@dataclass(frozen=True, kw_only=True)
class RiverGrade:
    grade: Grade
    good_share: float  # share of sections in class I–III
    worst_share: float  # share of sections in 劣V


def river_grade(
    classes: Sequence[WaterClass], *, rule: RiverGradeRule = STANDARD.river_grade
) -> RiverGrade:
    """A river or basin with ≥ ``min_sections`` sections, by the share of its sections in I–III
    (and in 劣V when that share is below the 良好 bound). Fewer sections: use ``average_values``
    and ``section_class`` instead, as the method says."""
    n = len(classes)
    if n < rule.min_sections:
        raise ValidationFailed(
            f"{n} sections: the share rule needs {rule.min_sections}; average the values instead",
            code="too_few_sections",
        )
    good = sum(1 for c in classes if c <= WaterClass.III) / n
    worst = sum(1 for c in classes if c == WaterClass.worse_than_v) / n
    if good >= rule.good_share:
        grade = Grade.excellent
    elif good >= rule.fair_share:
        grade = Grade.good
    elif worst < rule.light_worst_share:
        grade = Grade.light
    elif worst < rule.heavy_worst_share:
        grade = Grade.moderate
    else:
        grade = Grade.heavy
    return RiverGrade(grade=grade, good_share=good, worst_share=worst)


def average_values(sections: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """Per item, the mean over the sections that measured it (for rivers with few sections)."""
    keys = {k for s in sections for k in s}
    return {
        k: math.fsum(s[k] for s in sections if k in s) / sum(k in s for s in sections) for k in keys
    }


__all__ = [
    "Attainment", "BlackOdorous", "BodyGrade", "Grade", "PointGrade", "Pollutant", "RiverGrade",
    "WaterClass", "average_values", "black_odorous", "grade_of", "item_class", "item_classes",
    "main_pollutants", "river_grade", "section_class", "target_attainment",
    "water_body_black_odorous",
]  # fmt: skip
