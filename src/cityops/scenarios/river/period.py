"""GB 3838-2002 evaluation of a period over arrays of readings: pure numpy, no I/O.

The input is hourly readings per station and item, ``values[station, item, hour]`` with NaN for
a missing hour. ``period_sums`` folds them into per-period sums and counts (months, a year: any
cut of the hours), from which ``means`` gives each station's period mean per item (the mean of
the hours it has). Everything after that works on means, whatever their leading axes:

- ``classify``: each item's class, looked up in the limit tables with ``np.searchsorted`` (the
  same class as ``evaluate.item_class`` gives one value: a limit two classes share gives the
  better one, pH is I inside 6–9 and 劣V outside, DO's limits are "≥", lakes have their own TP
  row). The 90 % DO-saturation alternative is not applied: stations report concentrations.
- ``overall``: the single-factor class over the counted items; ``grades``, ``attained``.
- ``multiples``/``main_pollutants``: exceedance multiples against a target class.
- ``group_means``: sections from their stations' means, rivers from their sections'.
- ``river_grades``: a river or basin with fewer than ``min_sections`` assessed sections averages
  its sections' concentrations and takes the single-factor class; with more, the share rule.

Class codes are ``evaluate.WaterClass`` values (1..6 = I..劣V) and 0 where there is no data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt

from cityops.scenarios.river.evaluate import Grade, Pollutant, WaterClass
from cityops.scenarios.river.standards import STANDARD, Direction, RiverGradeRule, WaterBody

Floats = npt.NDArray[np.floating[Any]]
Ints = npt.NDArray[np.integer[Any]]
Bools = npt.NDArray[np.bool_]

NO_DATA = 0
GRADES: tuple[Grade, ...] = tuple(Grade)  # grade codes index this; -1: no grade
_GRADE_OF_CLASS = np.array([-1, 0, 0, 1, 2, 3, 4], dtype=np.int8)  # by class code 0..6
AVERAGE, SHARE = 1, 2  # river_grades methods (0: no assessed section)

_LOWER, _HIGHER, _RANGE, _NOT_GB = 0, 1, 2, -1


@dataclass(frozen=True, slots=True)
class ItemTable:
    """What the lookup needs per item, in the caller's item order. ``river``/``lake`` hold each
    item's limits I..V made ascending (DO's negated), so ``searchsorted`` finds the class."""

    items: tuple[str, ...]
    kind: tuple[int, ...]
    river: Floats  # (items, 5)
    lake: Floats  # (items, 5)
    sign: Floats  # (items,) +1 lower-is-better, -1 higher-is-better
    bounds: Floats  # (items, 2): the pH range
    counted: Bools  # (items,)


@cache
def table(items: tuple[str, ...]) -> ItemTable:
    """The lookup table for these items; keys GB 3838 has no class for are skipped (class 0)."""
    n = len(items)
    river, lake = np.full((n, 5), np.nan), np.full((n, 5), np.nan)
    sign, bounds = np.ones(n), np.full((n, 2), np.nan)
    kinds: list[int] = []
    counted = np.zeros(n, dtype=bool)
    for j, key in enumerate(items):
        spec = STANDARD.items.get(key)
        if spec is None:
            kinds.append(_NOT_GB)
            continue
        counted[j] = spec.counted
        if spec.direction == Direction.in_range:
            assert spec.range is not None
            kinds.append(_RANGE)
            bounds[j] = spec.range
            continue
        higher = spec.direction == Direction.higher_better
        kinds.append(_HIGHER if higher else _LOWER)
        sign[j] = -1.0 if higher else 1.0
        river[j] = np.asarray(spec.limits_for(WaterBody.river)) * sign[j]
        lake[j] = np.asarray(spec.limits_for(WaterBody.lake)) * sign[j]
    return ItemTable(items, tuple(kinds), river, lake, sign, bounds, counted)


def period_sums(values: Floats, edges: Sequence[int], *, block: int = 64) -> tuple[Floats, Ints]:
    """Per station, item and period: the sum and count of the hours with data.

    ``values``: (stations, items, hours), NaN for a gap. ``edges``: each period's first hour,
    strictly increasing from 0; a period runs to the next edge (the last to the end). Stations
    go ``block`` at a time, so the scratch memory is a block's, not the whole array's.
    """
    cuts = np.asarray(edges, dtype=np.intp)
    hours = values.shape[-1]
    if cuts.size == 0 or cuts[0] != 0 or np.any(np.diff(cuts) <= 0) or cuts[-1] >= hours:
        raise ValueError(f"period edges must rise strictly from 0 below {hours}: {edges}")
    stations, items = values.shape[0], values.shape[1]
    sums = np.empty((stations, items, cuts.size), dtype=np.float64)
    counts = np.empty((stations, items, cuts.size), dtype=np.int32)
    for s0 in range(0, stations, block):
        part = values[s0 : s0 + block]
        gaps = np.isnan(part)
        sums[s0 : s0 + block] = np.add.reduceat(
            np.where(gaps, 0.0, part), cuts, axis=2, dtype=np.float64
        )
        counts[s0 : s0 + block] = np.add.reduceat(~gaps, cuts, axis=2, dtype=np.int32)
    return sums, counts


def means(sums: Floats, counts: Ints, *, min_count: int = 1) -> Floats:
    """sum / count, NaN where fewer than ``min_count`` hours had data."""
    with np.errstate(invalid="ignore", divide="ignore"):
        out: Floats = np.where(counts >= max(min_count, 1), sums / counts, np.nan)
    return out


def classify(values: Floats, items: Sequence[str], lake: bool | Bools = False) -> Ints:
    """Class code per item: ``values[..., item]``; ``lake`` broadcasts over the leading axes."""
    t = table(tuple(items))
    v = np.asarray(values, dtype=np.float64)
    lake_mask = np.asarray(lake, dtype=bool)
    out = np.zeros(v.shape, dtype=np.int8)
    for j, kind in enumerate(t.kind):
        x = v[..., j]
        if kind == _NOT_GB:
            continue
        if kind == _RANGE:
            lo, hi = t.bounds[j]
            cls = np.where((x >= lo) & (x <= hi), int(WaterClass.I), int(WaterClass.worse_than_v))
        else:
            cls = np.searchsorted(t.river[j], x * t.sign[j], side="left") + 1
            if not np.array_equal(t.river[j], t.lake[j]) and lake_mask.any():
                in_lake = np.searchsorted(t.lake[j], x * t.sign[j], side="left") + 1
                cls = np.where(lake_mask, in_lake, cls)
        out[..., j] = np.where(np.isnan(x), NO_DATA, cls)
    return out


def overall(classes: Ints, items: Sequence[str]) -> Ints:
    """Single-factor: the worst class among the counted items with data (0: none)."""
    counted = table(tuple(items)).counted
    result: Ints = np.where(counted, classes, NO_DATA).max(axis=-1).astype(np.int8)
    return result


def grades(classes: Ints) -> Ints:
    """Grade code per class code (an index into ``GRADES``; -1 where there is no class)."""
    out: Ints = _GRADE_OF_CLASS[np.asarray(classes, dtype=np.intp)]
    return out


def attained(classes: Ints, targets: Ints) -> Bools:
    """Whether each class meets its target (no data never does)."""
    c = np.asarray(classes)
    out: Bools = (c > NO_DATA) & (c <= np.asarray(targets))
    return out


def multiples(
    values: Floats, classes: Ints, items: Sequence[str], targets: Ints, lake: bool | Bools = False
) -> Floats:
    """超标倍数 (C − Cs)/Cs against each target class's limit Cs, for counted "≤" items worse
    than the target; NaN elsewhere (pH and DO have no multiple)."""
    t = table(tuple(items))
    v = np.asarray(values, dtype=np.float64)
    target = np.asarray(targets, dtype=np.intp)[..., None]
    lower = np.array([k == _LOWER for k in t.kind]) & t.counted
    limits = np.where(np.asarray(lake, dtype=bool)[..., None, None], t.lake, t.river)
    cs = np.take_along_axis(
        np.broadcast_to(limits, (*v.shape, 5)), np.clip(target - 1, 0, 4)[..., None], axis=-1
    )[..., 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        out: Floats = np.where(lower & (classes > target), (v - cs) / cs, np.nan)
    return out


def main_pollutants(
    values: Floats,
    items: Sequence[str],
    *,
    target: int,
    lake: bool = False,
    at_most: int = STANDARD.main_pollutants.at_most,
) -> list[Pollutant]:
    """One station's or section's main pollutants, as ``evaluate.main_pollutants`` orders them:
    worst class first, then the larger multiple."""
    row = np.asarray(values, dtype=np.float64)
    classes = classify(row, items, lake)
    mult = multiples(row, classes, items, np.asarray(target), lake)
    counted = table(tuple(items)).counted
    found = [
        Pollutant(
            item=key,
            name=STANDARD.items[key].name,
            water_class=WaterClass(int(classes[j])),
            multiple=None if np.isnan(mult[j]) else float(mult[j]),
        )
        for j, key in enumerate(items)
        if counted[j] and classes[j] > target
    ]
    found.sort(
        key=lambda p: (-p.water_class, -(p.multiple if p.multiple is not None else -1), p.item)
    )
    return found[:at_most]


def group_means(values: Floats, groups: Ints, n_groups: int) -> Floats:
    """Per group, the mean of its members' values (axis 0), ignoring NaN; NaN where none."""
    v = np.asarray(values, dtype=np.float64)
    idx = np.asarray(groups, dtype=np.intp)
    present = ~np.isnan(v)
    sums = np.zeros((n_groups, *v.shape[1:]))
    counts = np.zeros((n_groups, *v.shape[1:]))
    np.add.at(sums, idx, np.where(present, v, 0.0))
    np.add.at(counts, idx, present)
    with np.errstate(invalid="ignore", divide="ignore"):
        out: Floats = np.where(counts > 0, sums / counts, np.nan)
    return out


@dataclass(frozen=True, slots=True)
class RiverGrades:
    """Per river (axis 0; further axes as the sections' classes had, e.g. months)."""

    method: Ints  # AVERAGE, SHARE, or 0 where no section was assessed
    water_class: Ints  # the averaged concentrations' class (AVERAGE only; else 0)
    grade: Ints  # index into GRADES, -1 where none
    assessed: Ints  # sections with a class
    class_counts: Ints  # (..., 6): sections in I..劣V
    good_share: Floats  # share in I–III (NaN where none assessed)
    worst_share: Floats  # share in 劣V
    means: Floats  # (..., items): the sections' averaged concentrations


def river_grades(
    section_classes: Ints,
    section_means: Floats,
    rivers: Ints,
    n_rivers: int,
    items: Sequence[str],
    *,
    lake: bool | Bools = False,
    rule: RiverGradeRule = STANDARD.river_grade,
) -> RiverGrades:
    """The river (or basin) grade of each group of sections: ``rivers[i]`` is section i's group;
    ``lake`` per river (湖库 phosphorus limits for the averaged values)."""
    cls = np.asarray(section_classes, dtype=np.intp)
    idx = np.asarray(rivers, dtype=np.intp)
    counts = np.zeros((n_rivers, *cls.shape[1:], 6), dtype=np.int64)
    for c in range(1, 7):
        np.add.at(counts[..., c - 1], idx, cls == c)
    assessed = counts.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        good = np.where(assessed > 0, counts[..., :3].sum(axis=-1) / assessed, np.nan)
        worst = np.where(assessed > 0, counts[..., 5] / assessed, np.nan)
    by_share = np.select(
        [good >= rule.good_share, good >= rule.fair_share, worst < rule.light_worst_share,
         worst < rule.heavy_worst_share],
        [0, 1, 2, 3],
        default=4,
    )  # fmt: skip
    mean = group_means(section_means, idx, n_rivers)
    lake_of = np.asarray(lake, dtype=bool)
    if lake_of.ndim:
        lake_of = lake_of.reshape(lake_of.shape + (1,) * (mean.ndim - 1 - lake_of.ndim))
    averaged = overall(classify(mean, items, lake_of), items)
    method = np.where(assessed == 0, 0, np.where(assessed < rule.min_sections, AVERAGE, SHARE))
    grade = np.where(
        method == SHARE, by_share, np.where(method == AVERAGE, grades(averaged), -1)
    ).astype(np.int8)
    return RiverGrades(
        method=method.astype(np.int8),
        water_class=np.where(method == AVERAGE, averaged, NO_DATA).astype(np.int8),
        grade=grade,
        assessed=assessed,
        class_counts=counts,
        good_share=good,
        worst_share=worst,
        means=mean,
    )


def label(code: int) -> str | None:
    """A class code's label (I..V, 劣V), None for no data."""
    return WaterClass(code).label if code > NO_DATA else None


def grade_label(code: int) -> str | None:
    return GRADES[code].value if code >= 0 else None


def class_grade(code: int) -> str | None:
    """The grade label of one class code (None for no data)."""
    return grade_label(int(_GRADE_OF_CLASS[code]))
