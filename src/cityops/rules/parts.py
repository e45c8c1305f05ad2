"""The parts of a plan: durations, trigger leaves and composites, schedules, actions.

Pydantic models, strict (unknown keys are errors) and frozen; ``plans.py`` assembles them into a
``Plan`` and loads the YAML.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SEVERITIES = ("blue", "yellow", "orange", "red")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)\s*$")
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def seconds(value: object) -> float:
    """``"90s"``, ``"15m"``, ``"1h"``, ``"2d"`` or a number of seconds → seconds (> 0)."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        out = float(value)
    elif isinstance(value, str) and (m := _DURATION.match(value)):
        out = float(m.group(1)) * _UNITS[m.group(2)]
    else:
        raise ValueError(f"not a duration: {value!r} (write 30s, 15m, 1h or 2d)")
    if out <= 0:
        raise ValueError(f"a duration must be positive, got {value!r}")
    return out


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Duration(_Strict):
    @field_validator("for_", "every", "after", "per", "hold", "reopen_window", "recheck",
                     "renotify_every", "escalate_after", "flap_window", "latch", "within",
                     "half_life", check_fields=False, mode="before")  # fmt: skip
    @classmethod
    def _duration(cls, v: object) -> object:
        return None if v is None else seconds(v)


# ---------------------------------------------------------------------------------- triggers
class Above(_Duration):
    """Value ≥ ``value`` (latched until it falls below ``clear``), optionally held ``for``."""

    type: Literal["above"]
    input: str = "value"
    value: float
    clear: float | None = None
    for_: float | None = Field(default=None, alias="for")

    @model_validator(mode="after")
    def _band(self) -> Above:
        if self.clear is not None and self.clear > self.value:
            raise ValueError(f"above: clear ({self.clear}) must not exceed value ({self.value})")
        return self


class Below(_Duration):
    """Value ≤ ``value`` (latched until it rises above ``clear``), optionally held ``for``."""

    type: Literal["below"]
    input: str = "value"
    value: float
    clear: float | None = None
    for_: float | None = Field(default=None, alias="for")

    @model_validator(mode="after")
    def _band(self) -> Below:
        if self.clear is not None and self.clear < self.value:
            raise ValueError(f"below: clear ({self.clear}) must not be under value ({self.value})")
        return self


class Rate(_Duration):
    """Change per ``per`` between consecutive readings ≥ ``above`` (or ≤ ``below``)."""

    type: Literal["rate"]
    input: str = "value"
    per: float = 60.0
    above: float | None = None
    below: float | None = None

    @model_validator(mode="after")
    def _one_side(self) -> Rate:
        if (self.above is None) == (self.below is None):
            raise ValueError("rate: give exactly one of above / below")
        return self


class NofM(_Strict):
    """At least ``n`` of the last ``m`` readings are ≥ ``above`` (or ≤ ``below``)."""

    type: Literal["n_of_m"]
    input: str = "value"
    n: int = Field(ge=1)
    m: int = Field(ge=1, le=60)
    above: float | None = None
    below: float | None = None

    @model_validator(mode="after")
    def _shape(self) -> NofM:
        if self.n > self.m:
            raise ValueError(f"n_of_m: n ({self.n}) exceeds m ({self.m})")
        if (self.above is None) == (self.below is None):
            raise ValueError("n_of_m: give exactly one of above / below")
        return self


class NoData(_Duration):
    """No reading for ``for`` (the device is offline); clears on the next reading."""

    type: Literal["no_data"]
    input: str = "value"
    for_: float = Field(alias="for")


class FlatLine(_Duration):
    """Sensor fault: the value has not moved more than ``tolerance`` for ``for``."""

    type: Literal["flat_line"]
    input: str = "value"
    for_: float = Field(alias="for")
    tolerance: float = Field(default=0.0, ge=0)


class Jump(_Strict):
    """Sensor fault: one reading differs from the previous by more than ``max_step``."""

    type: Literal["jump"]
    input: str = "value"
    max_step: float = Field(gt=0)


class OutOfRange(_Strict):
    """Sensor fault: a value outside what the sensor can physically report."""

    type: Literal["out_of_range"]
    input: str = "value"
    min: float
    max: float


class Recent(_Duration):
    """Some reading ≥ ``above`` (or ≤ ``below``) within the last ``within`` (rain in 6 h)."""

    type: Literal["recent"]
    input: str = "value"
    within: float
    above: float | None = None
    below: float | None = None

    @model_validator(mode="after")
    def _one_side(self) -> Recent:
        if (self.above is None) == (self.below is None):
            raise ValueError("recent: give exactly one of above / below")
        return self


class Cusum(_Duration):
    """Two-sided standardised CUSUM (ffstream: Bodenham & Adams 2016; defaults k 0.25, h 8, 50).

    Each reading adds z = (x − μ)/σ (σ at least ``min_sigma``) to S⁺ = max(0, S⁺ + z − k) and
    S⁻ = max(0, S⁻ − z − k). A sum over ``h`` in ``direction`` is an alarm and both sums restart
    from zero (as detecta's ``detect_cusum``). The leaf holds for ``latch`` after each alarm, or
    without ``latch`` until the input's next reading.

    ``baseline: burn_in`` (default): the first ``burn_in`` readings give μ and σ, kept for good.
    ``baseline: moving``: μ and σ² are exponentially weighted averages of the input with
    ``half_life`` (a reading ``half_life`` old weighs half), so slow drift, seasons and
    day-to-day wander move the baseline instead of adding up as a shift; z is taken against the
    baseline *before* the reading joins it, the first ``burn_in`` readings only learn, and a
    reading joins it clipped to ``clip`` σ, so a pulse is not learnt as normal while it lasts.
    """

    type: Literal["cusum"]
    input: str = "value"
    k: float = Field(default=0.25, ge=0)
    h: float = Field(default=8.0, gt=0)
    burn_in: int = Field(default=50, ge=2, le=10_000)
    direction: Literal["up", "down", "both"] = "both"
    min_sigma: float = Field(default=0.0, ge=0)
    latch: float | None = None
    baseline: Literal["burn_in", "moving"] = "burn_in"
    half_life: float | None = None
    clip: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _moving(self) -> Cusum:
        if (self.baseline == "moving") != (self.half_life is not None):
            raise ValueError("cusum: a moving baseline needs half_life (and only it has one)")
        if self.clip is not None and self.baseline != "moving":
            raise ValueError("cusum: clip applies to a moving baseline")
        return self


class Detector(_Strict):
    """A condition over several inputs that a scenario registers (``rules.detectors``).

    ``detector`` names it, ``inputs`` are the plan's input names it reads, ``params`` its settings;
    an unknown detector or bad params make the plan invalid (reported and disabled).
    """

    type: Literal["detector"]
    detector: str = Field(min_length=1, max_length=64)
    inputs: list[str] = Field(min_length=1, max_length=32)
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known(self) -> Detector:
        from cityops.rules.detectors import bind

        bind(self.detector, self.inputs, self.params)
        return self


class AllOf(_Strict):
    type: Literal["all"]
    of: list[Trigger] = Field(min_length=1)


class AnyOf(_Strict):
    type: Literal["any"]
    of: list[Trigger] = Field(min_length=1)


class AtLeast(_Strict):
    """At least ``n`` of the conditions hold (two co-moving parameters of several)."""

    type: Literal["at_least"]
    n: int = Field(ge=1)
    of: list[Trigger] = Field(min_length=1)

    @model_validator(mode="after")
    def _reachable(self) -> AtLeast:
        if self.n > len(self.of):
            raise ValueError(f"at_least: n ({self.n}) exceeds the {len(self.of)} conditions")
        return self


class Not(_Strict):
    """The condition does not hold. (To keep a plan from *firing* only, use the plan's
    ``unless``: a ``not`` inside the trigger also makes the plan clear.)"""

    type: Literal["not"]
    of: Trigger


Leaf = (
    Above | Below | Rate | NofM | NoData | FlatLine | Jump | OutOfRange | Recent | Cusum | Detector
)
Trigger = Annotated[Leaf | AllOf | AnyOf | AtLeast | Not, Field(discriminator="type")]
AllOf.model_rebuild()
AnyOf.model_rebuild()
AtLeast.model_rebuild()
Not.model_rebuild()


class Schedule(_Duration):
    """Fire on a clock: ``every`` N, or a 5-field ``cron`` in the plan's time zone."""

    every: float | None = None
    cron: str | None = None

    @model_validator(mode="after")
    def _one(self) -> Schedule:
        if (self.every is None) == (self.cron is None):
            raise ValueError("schedule: give exactly one of every / cron")
        if self.cron is not None:
            from cityops.rules.cron import Cron

            Cron.parse(self.cron)
        return self


# ----------------------------------------------------------------------------------- actions
Severity = Literal["blue", "yellow", "orange", "red"]


class Actuate(_Strict):
    """Command an actuator: by role on the source's thing (``target: fan``) or by ``thing`` id."""

    type: Literal["actuate"]
    target: str | None = None
    thing: int | None = None
    command: str = Field(min_length=1, max_length=64)
    payload: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _whom(self) -> Actuate:
        if (self.target is None) == (self.thing is None):
            raise ValueError("actuate: give exactly one of target (a role) / thing (an id)")
        return self


class RaiseAlarm(_Strict):
    """Raise the (plan, source) alarm, or escalate it to ``severity`` if it is lower."""

    type: Literal["alarm"]
    severity: Severity
    message: str = Field(default="", max_length=500)


class EscalateAlarm(_Strict):
    type: Literal["escalate_alarm"]
    to: Severity | None = None  # None: one level up


class ClearAlarm(_Strict):
    type: Literal["clear_alarm"]


class OpenCase(_Strict):
    """Open a case (or add the readings to the one already open for this source)."""

    type: Literal["case"]
    category: str = Field(pattern=r"^\d{5}$")
    title: str | None = Field(default=None, max_length=120)
    description: str = Field(default="", max_length=2000)


class Notify(_Strict):
    type: Literal["notify"]
    to: list[str] = Field(min_length=1)
    message: str = Field(min_length=1, max_length=500)


class Recheck(_Duration):
    """Wait, then run ``then`` if the trigger is still firing (same episode)."""

    type: Literal["recheck"]
    after: float
    then: list[Action] = Field(min_length=1)


Action = Annotated[
    Actuate | RaiseAlarm | EscalateAlarm | ClearAlarm | OpenCase | Notify | Recheck,
    Field(discriminator="type"),
]
Recheck.model_rebuild()
