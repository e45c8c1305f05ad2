"""Which labels the river rules could see at all: the detection benchmark's "detectable" (pure).

A label (``IncidentLabel``) is the hours a discharge's increment stands more than 3 noise σ out
of the noise on *any* property at one station; far downstream that may be one property by a
little, which no rule of issue 6 is meant to catch. So the benchmark also reports the labels
whose own signal meets one of the rules. The signal is the run minus its *twin*: the same
stations, window, seed and faults without discharges (the simulator's increments are exact, so
the difference is the discharge, except where a value hits a physical bound or a probe is
stuck). A label is **detectable** when, at an hour of it that the plan's rain flag (its
``unless: recent rainfall``) does not hold back, for some river plan:

- ``class``: with the discharge, the station's GB 3838 single-factor class at that hour is at
  least the class-drop plan's ``drop`` classes worse than the best of the ``samples`` hours
  before it, and without the discharge it is not (hub rule (a) on one sample, whatever the
  plan's ``confirm``; a pulse that worsens the class slowly is no class drop);
- ``black_odorous``: the discharge makes the point black-odorous at the plan's ``level``;
- ``co_moving``: a CUSUM plan's trigger holds with each CUSUM leaf true when its input's
  increment is at least ``SIGMA`` noise σ in the leaf's direction (hub rule (b): co-moving
  parameters; 3 σ is the simulator's own label threshold, ``TransportParams.label_sigma``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cityops.errors import ValidationFailed
from cityops.rules.plans import AllOf, AnyOf, AtLeast, Cusum, Detector, Not, Plan, Recent
from cityops.scenarios.river import evaluate
from cityops.scenarios.river.evaluate import BlackOdorous
from cityops.sim.river_incidents import TransportParams
from cityops.sim.river_series import Labelled
from cityops.sim.river_spec import StationSpec

SIGMA = TransportParams().label_sigma
CLASS_ITEMS = ("ph", "do", "codmn", "cod", "bod5", "nh3n", "tp")
_RANK = {BlackOdorous.none: 0, BlackOdorous.light: 1, BlackOdorous.severe: 2}
Reasons = tuple[str, ...]


def detectable(
    run: Labelled, twin: Labelled, stations: Sequence[StationSpec], plans: Iterable[Plan]
) -> dict[tuple[str, str], Reasons]:
    """Per label (incident, station): the rules its signal meets (empty: none)."""
    if twin.stations != run.stations or len(twin.times) != len(run.times):
        raise ValueError("the twin must be the same stations and window without discharges")
    specs = {s.code: s for s in stations}
    plans = list(plans)
    masks: dict[tuple[str, str], NDArray[np.bool_]] = {}
    out: dict[tuple[str, str], Reasons] = {}
    t0 = int(run.times[0])
    for lb in run.labels:
        a = (int(lb.start.timestamp()) - t0) // 3600
        b = (int(lb.end.timestamp()) - t0) // 3600
        found: list[str] = []
        for plan in plans:
            key = (plan.id, lb.station)
            if key not in masks:
                masks[key] = _rain_mask(plan, run.series[lb.station]["rainfall"], run.times)
            hours = [h for h in range(a, b + 1) if not masks[key][h]]
            why = _meets(plan, run, twin, specs[lb.station], hours)
            if why and why not in found:
                found.append(why)
        out[(lb.incident, lb.station)] = tuple(found)
    return out


def _rain_mask(plan: Plan, rain: NDArray[Any], times: NDArray[np.int64]) -> NDArray[np.bool_]:
    """Hours the plan's ``unless: recent rainfall`` holds (none when it has no such flag)."""
    u = plan.unless
    if not isinstance(u, Recent) or u.above is None:
        return np.zeros(len(times), bool)
    hit = np.nan_to_num(rain.astype(np.float64), nan=0.0) >= u.above
    at = times.astype(np.float64)
    last = np.maximum.accumulate(np.where(hit, at, -np.inf))  # the latest hit so far
    return np.asarray(at - last < u.within, bool)


def _meets(
    plan: Plan, run: Labelled, twin: Labelled, spec: StationSpec, hours: list[int]
) -> str | None:
    trig = plan.trigger
    code = spec.code
    if isinstance(trig, Detector) and trig.detector == "water_class_drop":
        drop, samples = int(trig.params["drop"]), int(trig.params["samples"])
        for h in hours:
            if _drop(run, h, spec, samples) >= drop > _drop(twin, h, spec, samples):
                return "class"
    elif isinstance(trig, Detector) and trig.detector == "black_odorous_onset":
        level = _RANK[BlackOdorous(trig.params.get("level", "light"))]
        for h in hours:
            after, before = _grade(run.series[code], h), _grade(twin.series[code], h)
            if after is not None and before is not None and after >= level > before:
                return "black_odorous"
    elif trig is not None and _all_cusum(trig):
        sigma = run.sigma.get(code, {})
        for h in hours:
            inc = {p: float(run.series[code][p][h] - twin.series[code][p][h]) for p in sigma}
            if _tree(trig, {p: v / sigma[p] for p, v in inc.items() if sigma[p] > 0}):
                return "co_moving"
    return None


def _all_cusum(trig: Any) -> bool:
    if isinstance(trig, AllOf | AnyOf | AtLeast):
        return all(_all_cusum(t) for t in trig.of)
    if isinstance(trig, Not):
        return False
    return isinstance(trig, Cusum)


def _tree(trig: Any, z: Mapping[str, float]) -> bool:
    """The trigger with each CUSUM leaf true when its input moved ≥ SIGMA σ its way."""
    if isinstance(trig, AllOf):
        return all(_tree(t, z) for t in trig.of)
    if isinstance(trig, AnyOf):
        return any(_tree(t, z) for t in trig.of)
    if isinstance(trig, AtLeast):
        return sum(_tree(t, z) for t in trig.of) >= trig.n
    assert isinstance(trig, Cusum)
    v = z.get(trig.input, 0.0)
    if math.isnan(v):
        return False
    return {"up": v, "down": -v, "both": abs(v)}[trig.direction] >= SIGMA


def _drop(run: Labelled, h: int, spec: StationSpec, samples: int) -> int:
    """How many classes the station's class at hour ``h`` is worse than the best of the
    ``samples`` hours before it (0 when a class is missing)."""
    now = _class(run.series[spec.code], h, spec)
    before = [_class(run.series[spec.code], k, spec) for k in range(max(h - samples, 0), h)]
    known = [c for c in before if c is not None]
    return now - min(known) if now is not None and known else 0


def _class(series: Mapping[str, NDArray[Any]], h: int, spec: StationSpec) -> int | None:
    values = {k: float(series[k][h]) for k in CLASS_ITEMS}
    if any(math.isnan(v) for v in values.values()):
        return None
    try:
        return int(evaluate.section_class(values=values, water_body=spec.water_body))
    except ValidationFailed:
        return None


def _grade(series: Mapping[str, NDArray[Any]], h: int) -> int | None:
    got = {k: float(series[k][h]) for k in ("transparency", "do", "orp", "nh3n")}
    if any(math.isnan(v) for v in got.values()):
        return None
    try:
        grade = evaluate.black_odorous(
            transparency_cm=got["transparency"], do=got["do"], orp=got["orp"], nh3n=got["nh3n"]
        ).grade
    except ValidationFailed:
        return None
    return _RANK[grade]
