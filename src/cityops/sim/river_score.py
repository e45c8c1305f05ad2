"""Score river-plan firings against the simulator's ground truth (pure).

What is counted (``ScoreParams`` holds the two windows, local defaults):

- A **label** is one incident reaching one station (``IncidentLabel``: the hours its increment
  stands more than 3 noise σ out of the noise). It is **detected** when some river plan fires at
  that station between the label's start and its end + ``grace_hours``, or an episode that fired
  at most ``grace_hours`` before the start is still on at the start (the alarm already covers
  it). Its **delay** is hours from the label's start to that firing (0 for an earlier one).
- An **incident** (a discharge) is detected when at least one of its labels is; a discharge that
  reached no station above 3σ has no label and is not counted. Also reported: the rate at the
  first station each incident reached (the nearest below the outfall), and over the incidents
  with at least one detectable label.
- A label is **detectable** when its peak increments would move the station's GB 3838 class by
  ``≥ drop`` classes from its baseline (``detectable``; what the class-drop rule can see) or
  give ``≥ 2`` co-moving parameters of a CUSUM plan a shift of ``≥ cusum_sigma`` noise σ for
  ``≥ cusum_hours`` (what the CUSUM pairs can see). Both raw and detectable rates are reported.
- A **false alarm** is a firing at a station with no label of that station within
  [start − grace, end + grace]. It is **fault-caused** when a recorded sensor fault on a property
  the plan reads was active at the firing or ended at most ``fault_hours`` before it (a drifting
  probe: any time, it drifts for good); those still count as false alarms (no river plan is a
  sensor-fault plan), reported apart by fault kind.
- Rates per **station-month** use stations × days / 30.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cityops.rules.plans import Plan, inputs_of
from cityops.sim.river_faults import FaultKind
from cityops.sim.river_incidents import IncidentLabel
from cityops.sim.river_replay import Firing
from cityops.sim.river_series import Labelled
from cityops.sim.river_spec import PROPERTIES

HOUR = 3600.0
_CORRUPTING = (FaultKind.flat, FaultKind.spike, FaultKind.drift)  # a gap corrupts no value


@dataclass(frozen=True, slots=True)
class ScoreParams:
    grace_hours: float = 6.0  # local default: a firing this long after a label still counts
    fault_hours: float = 24.0  # local default: how long a fault may explain a firing after it


@dataclass(slots=True)
class PlanScore:
    firings: int = 0
    matched: int = 0
    false: int = 0
    fault: int = 0
    fault_kinds: Counter[str] = field(default_factory=Counter)
    first_detections: int = 0


@dataclass(slots=True)
class LabelOutcome:
    label: IncidentLabel
    detected: bool
    delay_h: float | None
    by: str | None
    reasons: tuple[str, ...]  # the rules its signal meets (river_truth); empty: undetectable

    @property
    def detectable(self) -> bool:
        return bool(self.reasons)


@dataclass(slots=True)
class Score:
    stations: int
    days: float
    labels: list[LabelOutcome]
    incidents: int
    incidents_detected: int
    false_alarms: int
    fault_alarms: int
    by_plan: dict[str, PlanScore]

    @property
    def station_months(self) -> float:
        return self.stations * self.days / 30.0

    def rate(self, which: Iterable[LabelOutcome] | None = None) -> float | None:
        chosen = list(self.labels if which is None else which)
        return sum(o.detected for o in chosen) / len(chosen) if chosen else None

    @property
    def detectable_rate(self) -> float | None:
        return self.rate(o for o in self.labels if o.detectable)

    @property
    def false_per_station_month(self) -> float:
        return self.false_alarms / self.station_months if self.station_months else 0.0

    def delays(self, q: float) -> float | None:
        got = [o.delay_h for o in self.labels if o.delay_h is not None]
        return float(np.percentile(got, q)) if got else None

    def by_incident(self) -> dict[str, list[LabelOutcome]]:
        out: dict[str, list[LabelOutcome]] = {}
        for o in self.labels:
            out.setdefault(o.label.incident, []).append(o)
        return out

    def summary(self) -> dict[str, Any]:
        dry = [o for o in self.labels if not o.label.rain]
        wet = [o for o in self.labels if o.label.rain]
        incidents = self.by_incident().values()
        first = [min(ls, key=lambda o: o.label.arrival_hours) for ls in incidents]
        seeable = [ls for ls in incidents if any(o.detectable for o in ls)]
        return {
            "stations": self.stations,
            "days": self.days,
            "station_months": round(self.station_months, 1),
            "labels": len(self.labels),
            "labels_detected": sum(o.detected for o in self.labels),
            "detection_rate": _r(self.rate()),
            "detectable_labels": sum(o.detectable for o in self.labels),
            "detectable_rate": _r(self.detectable_rate),
            "detectable_by": dict(Counter(r for o in self.labels for r in o.reasons)),
            "dry_rate": _r(self.rate(dry)),
            "rain_labels": len(wet),
            "rain_rate": _r(self.rate(wet)),
            "incidents": self.incidents,
            "incidents_detected": self.incidents_detected,
            "incident_rate": _share(self.incidents_detected, self.incidents),
            "first_station_rate": _r(self.rate(first)),
            "detectable_incidents": len(seeable),
            "detectable_incident_rate": _share(
                sum(any(o.detected for o in ls) for ls in seeable), len(seeable)
            ),
            "delay_p50_h": _r(self.delays(50)),
            "delay_p95_h": _r(self.delays(95)),
            "false_alarms": self.false_alarms,
            "fault_caused": self.fault_alarms,
            "false_per_station_month": _r(self.false_per_station_month),
            "by_plan": {
                p: {
                    "firings": s.firings,
                    "matched": s.matched,
                    "first_detections": s.first_detections,
                    "false": s.false,
                    "fault_caused": s.fault,
                    "fault_kinds": dict(s.fault_kinds),
                    "false_per_station_month": _r(s.false / self.station_months),
                }
                for p, s in sorted(self.by_plan.items())
            },
        }


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


def plan_properties(plans: Iterable[Plan]) -> dict[str, frozenset[str]]:
    """The observed properties each plan's trigger and sustain read (its per-thing names)."""
    out: dict[str, frozenset[str]] = {}
    for p in plans:
        names = {n for part in (p.trigger, p.sustain) if part for n in inputs_of(part)}
        props = {src.per_thing.get(n, n) for src in p.sources if src.per_thing for n in names}
        out[p.id] = frozenset(props or names)
    return out


def score(
    run: Labelled,
    firings: Sequence[Firing],
    plans: Iterable[Plan],
    *,
    detectable: Mapping[tuple[str, str], tuple[str, ...]] | None = None,
    params: ScoreParams | None = None,
) -> Score:
    """Judge ``firings`` of ``plans`` over ``run`` (``detectable``: per (incident, station), the
    rules its signal meets, from ``river_truth.detectable``; without it every label counts as
    detectable)."""
    p = params or ScoreParams()
    grace = p.grace_hours * HOUR
    reads = plan_properties(plans)
    by_station: dict[str, list[Firing]] = {}
    for f in firings:
        by_station.setdefault(f.station, []).append(f)
    labels_at: dict[str, list[IncidentLabel]] = {}
    for lb in run.labels:
        labels_at.setdefault(lb.station, []).append(lb)
    outcomes: list[LabelOutcome] = []
    by_plan: dict[str, PlanScore] = {pid: PlanScore() for pid in reads}
    for lb in run.labels:
        start, end = lb.start.timestamp(), lb.end.timestamp()
        hits = [
            f
            for f in by_station.get(lb.station, ())
            if start <= f.at <= end + grace
            or (start - grace <= f.at < start and (f.cleared is None or f.cleared >= start))
        ]
        first = min(hits, key=lambda f: f.at) if hits else None
        if first is not None:
            by_plan.setdefault(first.plan, PlanScore()).first_detections += 1
        delay = None if first is None else max(0.0, first.at - start) / HOUR
        why = ("any",) if detectable is None else detectable.get((lb.incident, lb.station), ())
        by = first.plan if first is not None else None
        outcomes.append(LabelOutcome(lb, first is not None, delay, by, why))
    faults = _faults_by_station(run)
    false = fault = 0
    for f in firings:
        ps = by_plan.setdefault(f.plan, PlanScore())
        ps.firings += 1
        near = any(
            lb.start.timestamp() - grace <= f.at <= lb.end.timestamp() + grace
            for lb in labels_at.get(f.station, ())
        )
        if near:
            ps.matched += 1
            continue
        ps.false += 1
        false += 1
        kind = _fault_at(faults.get(f.station, ()), run, f.at, reads.get(f.plan, frozenset()), p)
        if kind is not None:
            ps.fault += 1
            ps.fault_kinds[kind] += 1
            fault += 1
    done = {o.label.incident for o in outcomes if o.detected}
    incidents = {lb.incident for lb in run.labels}
    return Score(
        len(run.stations),
        len(run.times) / 24.0,
        outcomes,
        len(incidents),
        len(done),
        false,
        fault,
        by_plan,
    )


def _faults_by_station(run: Labelled) -> dict[str, list[tuple[str, int, int, int]]]:
    """Per station: (property or "*", kind, first hour, end hour) of each corrupting fault."""
    out: dict[str, list[tuple[str, int, int, int]]] = {}
    f = run.faults
    for i, j, kind, a, b in zip(
        f.station.tolist(), f.prop.tolist(), f.kind.tolist(), f.start.tolist(), f.end.tolist(),
        strict=True,
    ):  # fmt: skip
        if kind in _CORRUPTING:
            prop = PROPERTIES[j] if j >= 0 else "*"
            out.setdefault(run.stations[i], []).append((prop, kind, a, b))
    return out


def _fault_at(
    faults: Iterable[tuple[str, int, int, int]],
    run: Labelled,
    at: float,
    props: frozenset[str],
    p: ScoreParams,
) -> str | None:
    """The kind of a corrupting fault on a property the plan reads that explains a firing at
    ``at`` (transient faults first: a drift is always there once a probe drifts)."""
    hour = (at - float(run.times[0])) / HOUR
    found = None
    for prop, kind, a, b in faults:
        if prop != "*" and prop not in props:
            continue
        if kind == FaultKind.drift:
            found = found or FaultKind(kind).name
        elif a <= hour < b + p.fault_hours:
            return FaultKind(kind).name
    return found
