"""The GB 3838-2002 limits and the black-odorous (黑臭水体) thresholds as validated data.

The numbers live in ``data/gb3838.yaml``; this module loads and checks them once, on import. Unlike
rule plans (which report a bad entry and go on), a broken standard table stops the import: every
class the hub reports would be wrong.
"""

from __future__ import annotations

import enum
import itertools
import math
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from cityops.errors import ValidationFailed

STANDARD_FILE = Path(__file__).parent / "data" / "gb3838.yaml"


class WaterBody(enum.StrEnum):
    """河流 or 湖库: total phosphorus has its own limits in lakes and reservoirs."""

    river = "river"
    lake = "lake"


class Direction(enum.StrEnum):
    lower_better = "lower"  # lower is better: limits are "≤"
    higher_better = "higher"  # higher is better (溶解氧): limits are "≥"
    in_range = "range"  # pass/fail inside a range (pH 6–9)


_Frozen = ConfigDict(frozen=True, extra="forbid")
Limits = tuple[float, float, float, float, float]


class Item(BaseModel):
    """One GB 3838 basic item: its limits for classes I..V and its plausible physical range."""

    model_config = _Frozen

    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    unit: str = "mg/L"
    direction: Direction
    limits: Limits | None = None
    lake_limits: Limits | None = None
    range: tuple[float, float] | None = None
    counted: bool = True
    min: float = 0.0
    max: float
    class_i_saturation_pct: float | None = Field(default=None, gt=0, le=100)

    @model_validator(mode="after")
    def _check(self) -> Item:
        if self.direction == Direction.in_range:
            if self.range is None or self.limits is not None or self.lake_limits is not None:
                raise ValueError(f"{self.key}: a range item has `range` and no limits")
            lo, hi = self.range
            if not self.min <= lo < hi <= self.max:
                raise ValueError(f"{self.key}: range {self.range} outside [{self.min}, {self.max}]")
            return self
        if self.limits is None or self.range is not None:
            raise ValueError(f"{self.key}: a {self.direction} item has limits and no range")
        if self.lake_limits is not None and self.direction != Direction.lower_better:
            raise ValueError(f"{self.key}: lake limits only for lower-is-better items")
        for limits in (self.limits, self.lake_limits):
            if limits is None:
                continue
            steps = list(itertools.pairwise(limits))
            ordered = (
                all(a <= b for a, b in steps)
                if self.direction == Direction.lower_better
                else all(a >= b for a, b in steps)
            )
            if not ordered:
                raise ValueError(f"{self.key}: limits {limits} not ordered from class I to V")
            if not all(self.min < v < self.max for v in limits):
                raise ValueError(f"{self.key}: limits {limits} outside ({self.min}, {self.max})")
        return self

    def limits_for(self, water_body: WaterBody) -> Limits:
        """Class I..V limits for this water body (the lake row where the standard has one)."""
        if self.limits is None:
            raise ValueError(f"{self.key} has no class limits (pass/fail)")
        if water_body == WaterBody.lake and self.lake_limits is not None:
            return self.lake_limits
        return self.limits


class MainPollutantRule(BaseModel):
    model_config = _Frozen

    default_target: int = Field(ge=1, le=5)
    at_most: int = Field(ge=1)


class RiverGradeRule(BaseModel):
    """The share-of-sections rule for a river or basin (1b)."""

    model_config = _Frozen

    min_sections: int = Field(ge=1)
    good_share: float = Field(gt=0, le=1)
    fair_share: float = Field(gt=0, le=1)
    light_worst_share: float = Field(gt=0, le=1)
    heavy_worst_share: float = Field(gt=0, le=1)

    @model_validator(mode="after")
    def _check(self) -> RiverGradeRule:
        if not (
            self.fair_share < self.good_share and self.light_worst_share < self.heavy_worst_share
        ):
            raise ValueError("river grade shares out of order")
        return self


Op = Literal["<", "<=", ">", ">="]


class Bound(BaseModel):
    """A reading is inside the range when ``reading <op> value``."""

    model_config = _Frozen

    op: Op
    value: float

    def holds(self, reading: float) -> bool:
        v = self.value
        return {"<": reading < v, "<=": reading <= v, ">": reading > v, ">=": reading >= v}[self.op]


class Indicator(BaseModel):
    model_config = _Frozen

    key: str
    name: str
    unit: str
    light: Bound
    severe: Bound
    min: float
    max: float

    @model_validator(mode="after")
    def _check(self) -> Indicator:
        if self.light.op[0] != self.severe.op[0]:
            raise ValueError(f"{self.key}: light and severe bounds point different ways")
        if not self.min <= min(self.light.value, self.severe.value) <= self.max:
            raise ValueError(f"{self.key}: bounds outside [{self.min}, {self.max}]")
        lower_is_worse = self.light.op[0] == "<"
        if (
            (self.severe.value > self.light.value)
            if lower_is_worse
            else (self.severe.value < self.light.value)
        ):
            raise ValueError(f"{self.key}: the severe range is not inside the light one")
        return self


class BlackOdorousRule(BaseModel):
    model_config = _Frozen

    indicators: dict[str, Indicator]
    shallow_depth_cm: float = Field(gt=0)
    shallow_fraction: float = Field(gt=0, lt=1)
    one_share: float = Field(gt=0, le=1)
    two_share: float = Field(gt=0, le=1)
    body_share: float = Field(gt=0, le=1)
    run_length: int = Field(ge=2)


class Standard(BaseModel):
    """The whole table: items by key, and the evaluation rules around them."""

    model_config = _Frozen

    items: dict[str, Item]
    main_pollutants: MainPollutantRule
    river_grade: RiverGradeRule
    black_odorous: BlackOdorousRule


def _keyed(raw: object) -> dict[str, object]:
    if not isinstance(raw, dict):
        raise ValueError("expected a mapping of key → entry")
    return {k: {"key": k, **v} if isinstance(v, dict) else v for k, v in raw.items()}


def _bounds(raw: dict[str, object]) -> dict[str, object]:
    out = dict(raw)
    for side in ("light", "severe"):
        pair = out.get(side)
        if isinstance(pair, list) and len(pair) == 2:
            out[side] = {"op": pair[0], "value": pair[1]}
    return out


def load(path: Path = STANDARD_FILE) -> Standard:
    """Parse and check the table; raises ValueError (pydantic's) naming the bad entry."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    bo = dict(doc["black_odorous"])
    bo["indicators"] = {k: _bounds(v) for k, v in _keyed(bo["indicators"]).items()}  # type: ignore[arg-type]
    return Standard.model_validate({**doc, "items": _keyed(doc["items"]), "black_odorous": bo})


def check_range(key: str, value: float, lo: float, hi: float, unit: str) -> None:
    """Refuse a reading outside what the quantity can physically be (a sensor fault, a typo)."""
    if not (math.isfinite(value) and lo <= value <= hi):
        raise ValidationFailed(
            f"{key} = {value} is outside the physical range [{lo}, {hi}] {unit}",
            code="value_out_of_range",
            item=key,
        )


@cache
def standard() -> Standard:
    return load()


STANDARD = standard()  # checked on import
