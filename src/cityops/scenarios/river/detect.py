"""Pollution-event detectors of river stations, plugged into the rules engine (rules.detectors).

Importing this module registers three detectors, the case listener that turns a river plan's
case into a river event (``events.on_rule_case``), and the shipped river plans (``PLANS_DIR``).
Each detector reads a station's newest sample (the latest value of each input) and judges it by
GB 3838-2002 and the 2015 black-odorous guide through ``evaluate.py``:

* ``water_class_drop``: the station's single-factor class is ≥ ``drop`` classes worse than it was
  at one of the last ``samples`` samples (hub rule, §1d), on ``confirm`` samples in a row (1:
  at once; 2: a one-sample spike of a probe is not taken for a discharge); holds until the
  class is back at or better than the section's target class.
* ``black_odorous_onset``: the point is black-odorous at ``level`` (light or severe) on
  ``confirm`` samples in a row; holds until it is not black-odorous.
* ``target_breach``: the class has been worse than the section's target for ``days`` without a
  break (0: worse now; a plan's ``sustain`` uses that).

The section and its target come from the station's Thing when the engine binds the plan
(``events.section_of_thing``); a Thing on no section is reported and not bound. A sample with a
value outside the physical range (a sensor fault) is ignored: it neither fires nor clears.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from cityops.errors import ValidationFailed
from cityops.rules.caseport import on_case_opened
from cityops.rules.detectors import Detector, DetectorState, Facts, Unbound, register
from cityops.rules.ports import SourceInfo
from cityops.scenarios.river import evaluate
from cityops.scenarios.river.evaluate import BlackOdorous, WaterClass
from cityops.scenarios.river.events import on_rule_case, section_of_thing
from cityops.scenarios.river.standards import STANDARD, WaterBody

PLANS_DIR = Path(__file__).parent / "data" / "plans"
PLAN_PREFIX = "river-"  # plans whose cases become river events
DAY = 86400.0
# The station inputs (shared observed-property names) black_odorous() reads.
BLACK_ODOROUS_INPUTS = ("transparency", "do", "orp", "nh3n")
_RANK = {BlackOdorous.none: 0, BlackOdorous.light: 1, BlackOdorous.severe: 2}


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DropParams(_Params):
    drop: int = Field(ge=1, le=5)
    samples: int = Field(ge=1, le=24)
    confirm: int = Field(default=1, ge=1, le=24)


class OnsetParams(_Params):
    level: Literal["light", "severe"] = "light"
    confirm: int = Field(default=1, ge=1, le=24)


class BreachParams(_Params):
    days: float = Field(ge=0, le=366)


def _earlier_on(d: DetectorState, t: float) -> bool:
    """Whether the detector held before the sample at ``t`` (a reading with the same time as the
    last one refines that sample: it is judged again from the state before it)."""
    return bool(d.get("p", False)) if d.get("t") == t else bool(d.get("on", False))


def section_facts(*, code: str, target_class: str, water_body: WaterBody) -> Facts:
    """What every river detector knows of a station: its section's code, target class ("I".."V")
    and water body. The engine builds them from the stored section; a benchmark or test that
    binds plans without a database builds them here the same way."""
    return {"section": code, "target": target_class, "water_body": water_body.value}


class _OnSection(Detector):
    """Detectors of a station on a section: the section's code, target class and water body
    are their facts (one lookup per station, shared by every river detector)."""

    def facts(self, session: Session, info: SourceInfo) -> Facts:
        thing = info.thing_id
        site = section_of_thing(session=session, thing_id=thing) if thing is not None else None
        if site is None:
            raise Unbound(f"thing {thing} is on no river section")
        s = site.section
        return section_facts(code=s.code, target_class=s.target_class, water_body=s.water_body)


class _SectionDetector(_OnSection):
    """Detectors of the GB 3838 class: their inputs are GB 3838 items."""

    def check_inputs(self, inputs: Sequence[str]) -> None:
        unknown = [i for i in inputs if i not in STANDARD.items]
        if unknown:
            raise ValueError(f"{self.name}: {unknown} are no GB 3838 items")
        if not any(STANDARD.items[i].counted for i in inputs):
            raise ValueError(f"{self.name}: no input counts for the class (TN is reported only)")

    @staticmethod
    def water_class(values: Mapping[str, float], facts: Facts) -> WaterClass | None:
        """The sample's single-factor class; None when a value is physically impossible."""
        return _class_of(tuple(values.items()), facts["water_body"])


@lru_cache(maxsize=4096)
def _class_of(values: tuple[tuple[str, float], ...], water_body: str) -> WaterClass | None:
    """The class of one sample, computed once for every plan of the station that asks (each
    river plan with a class detector judges the same sample)."""
    try:
        return evaluate.section_class(values=dict(values), water_body=WaterBody(water_body))
    except ValidationFailed:
        return None


class WaterClassDrop(_SectionDetector):
    name = "water_class_drop"
    Params = DropParams

    def update(
        self, params: Any, state: DetectorState, t: float, values: Mapping[str, float], facts: Facts
    ) -> DetectorState:
        cls = self.water_class(values, facts)
        if cls is None:
            return state
        n = params.samples + params.confirm
        seq = [*[h for h in state.get("h", []) if h[0] != t][-(n - 1) :], [t, int(cls)]]
        run, before = seq[-params.confirm :], seq[-n : -params.confirm]
        drop = (
            len(run) == params.confirm
            and bool(before)
            and min(c for _, c in run) - min(c for _, c in before) >= params.drop
        )
        was = _earlier_on(state, t)
        on = drop or (was and cls > WaterClass.parse(facts["target"]))
        return {"h": seq, "t": t, "p": was, "on": on, "class": cls.label}


class TargetBreach(_SectionDetector):
    name = "target_breach"
    Params = BreachParams

    def update(
        self, params: Any, state: DetectorState, t: float, values: Mapping[str, float], facts: Facts
    ) -> DetectorState:
        cls = self.water_class(values, facts)
        if cls is None:
            return state
        if cls <= WaterClass.parse(facts["target"]):
            return {"t": t, "on": False, "class": cls.label}
        since = state.get("since", t)
        return {"t": t, "since": since, "on": t - since >= params.days * DAY, "class": cls.label}


class BlackOdorousOnset(_OnSection):
    name = "black_odorous_onset"
    Params = OnsetParams

    def check_inputs(self, inputs: Sequence[str]) -> None:
        unknown = sorted(set(inputs) - set(BLACK_ODOROUS_INPUTS))
        if unknown:
            raise ValueError(f"{self.name} reads {sorted(BLACK_ODOROUS_INPUTS)}, not {unknown}")

    def update(
        self, params: Any, state: DetectorState, t: float, values: Mapping[str, float], facts: Facts
    ) -> DetectorState:
        try:
            grade = evaluate.black_odorous(
                transparency_cm=values.get("transparency"),
                do=values.get("do"),
                orp=values.get("orp"),
                nh3n=values.get("nh3n"),
            ).grade
        except ValidationFailed:
            return state
        was = _earlier_on(state, t)
        before = state.get("pr", 0) if state.get("t") == t else state.get("run", 0)
        run = before + 1 if _RANK[grade] >= _RANK[BlackOdorous(params.level)] else 0
        on = run >= params.confirm or (was and grade is not BlackOdorous.none)
        return {"t": t, "p": was, "pr": before, "run": run, "on": on, "grade": grade.value}


for _detector in (WaterClassDrop(), BlackOdorousOnset(), TargetBreach()):
    register(_detector)
on_case_opened(PLAN_PREFIX, on_rule_case)
