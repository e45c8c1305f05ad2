"""Play a simulated river run through the river plans' pure evaluation (no database).

The shipped river plans (ids starting ``river-``) are compiled and bound the way the engine binds
them (``rules.binding.bind_all`` over a directory of the stations' datastreams, each station a
Thing with one datastream per observed property; the detectors' facts are the station's section
facts, ``detect.section_facts``, from its ``StationSpec``). Then each station's hours are fed in
time order, one sample per hour: every property of a sample has the hour as its phenomenon time,
rainfall first (so the rain flag is up before the water-quality readings of the same hour are
judged), the others in ``river_spec.PROPERTIES`` order; a missing value (NaN: a dropout or lost
reading) is no reading. Timers the evaluation sets (the rain window of ``recent``, a CUSUM
``latch``, rechecks, verification) are kept per instance as the engine keeps them (a newer timer
of the same kind replaces the older, a cancel drops it) and fired by ``on_timer`` at their due
time, before the first sample at or after it. Every rising edge is a ``Firing``; its episode
ends at the falling edge (or stays open at the end of the run).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from cityops.rules.binding import Bindings, Instance, bind_all
from cityops.rules.detectors import Detector, Facts
from cityops.rules.evaluate import Compiled, Outcome, State, Timer, initial, on_reading, on_timer
from cityops.rules.plans import Plan, load_plans
from cityops.rules.ports import SourceInfo, StaticDirectory
from cityops.scenarios.river.detect import PLAN_PREFIX, section_facts
from cityops.sim.river_series import Labelled
from cityops.sim.river_spec import PROPERTIES, UNITS, StationSpec

# Feeding order within one sample: the rain gauge first.
ORDER: tuple[str, ...] = ("rainfall", *(p for p in PROPERTIES if p != "rainfall"))


@dataclass(frozen=True, slots=True)
class Firing:
    """A plan fired at ``station`` at ``at`` (epoch s); ``cleared`` when it fell (None: still on
    at the end); ``by_timer`` when a timer (the rain window passing) rather than a reading did."""

    plan: str
    station: str
    at: float
    cleared: float | None
    by_timer: bool


def river_plans(plans: Iterable[Plan] | None = None) -> list[Plan]:
    """The river plans (the shipped ones by default)."""
    found = load_plans().plans if plans is None else plans
    return [p for p in found if p.id.startswith(PLAN_PREFIX) and p.enabled]


def datastream_id(station: int, prop: str) -> int:
    """The datastream id the replay gives property ``prop`` of the ``station``-th station."""
    return station * len(PROPERTIES) + PROPERTIES.index(prop) + 1


def bind(stations: Sequence[StationSpec], plans: Iterable[Plan]) -> Bindings:
    """The plans bound to the stations as the engine binds them (thing id = index + 1)."""
    directory = StaticDirectory()
    for i, s in enumerate(stations):
        for prop in PROPERTIES:
            ds = datastream_id(i, prop)
            directory.add(
                SourceInfo(ds, f"{s.code} {prop}", i + 1, observed_property=prop, unit=UNITS[prop])
            )
    by_thing = {i + 1: s for i, s in enumerate(stations)}

    def lookup(det: Detector, info: SourceInfo) -> Facts:
        del det  # every river detector reads the station's section facts
        s = by_thing[info.thing_id or 0]
        return section_facts(code=s.code, target_class=s.target_class, water_body=s.water_body)

    compiled = {p.id: Compiled(p) for p in plans}
    return bind_all(compiled, directory, lookup)


class _Station:
    """One station's instances, states and pending timers while its hours are replayed."""

    def __init__(self, code: str, instances: Sequence[Instance]) -> None:
        self.code = code
        self.insts = {inst.key + "|" + inst.cp.plan.id: inst for inst in instances}
        self.states: dict[str, State] = {k: initial(i.cp, i.key) for k, i in self.insts.items()}
        self.timers: dict[tuple[str, str], Timer] = {}  # (instance, kind) → the pending one
        self.heap: list[tuple[float, str, str]] = []
        self.open: dict[str, tuple[float, bool]] = {}  # instance → (fired at, by timer)
        self.firings: list[Firing] = []

    def apply(self, k: str, out: Outcome, by_timer: bool) -> None:
        self.states[k] = out.state
        for kind in out.cancel:
            self.timers.pop((k, kind), None)
        for tm in out.timers:
            self.timers[(k, tm.kind)] = tm
            heapq.heappush(self.heap, (tm.fire_at, k, tm.kind))
        if out.trace is None:
            return
        plan, at = self.insts[k].cp.plan.id, float(out.state.get("at", 0.0))
        if out.trace["event"] == "fire":
            self.open[k] = (at, by_timer)
        elif out.trace["event"] == "clear" and k in self.open:
            fired, timer = self.open.pop(k)
            self.firings.append(Firing(plan, self.code, fired, float(out.state["cleared"]), timer))

    def due(self, t: float) -> None:
        """Fire every pending timer due at or before ``t``, in time order."""
        while self.heap and self.heap[0][0] <= t:
            at, k, kind = heapq.heappop(self.heap)
            tm = self.timers.get((k, kind))
            if tm is None or tm.fire_at != at:  # replaced or cancelled since
                continue
            del self.timers[(k, kind)]
            self.apply(k, on_timer(self.insts[k].cp, self.states[k], tm, at), True)

    def close(self) -> list[Firing]:
        for k, (fired, timer) in self.open.items():
            plan = self.insts[k].cp.plan.id
            self.firings.append(Firing(plan, self.code, fired, None, timer))
        return sorted(self.firings, key=lambda f: (f.at, f.plan))


def replay(
    run: Labelled, stations: Sequence[StationSpec], plans: Iterable[Plan] | None = None
) -> list[Firing]:
    """Every firing of the river plans over the run (``stations``: the run's, same order)."""
    if tuple(s.code for s in stations) != run.stations:
        raise ValueError("the stations must be the run's, in the run's order")
    bound = bind(stations, river_plans(plans))
    times = [float(t) for t in run.times]
    out: list[Firing] = []
    for i, s in enumerate(stations):
        routes = _routes(bound, i)
        st = _Station(s.code, [inst for pairs in routes.values() for inst, _ in pairs])
        columns = [(prop, run.series[s.code][prop].tolist()) for prop in ORDER if prop in routes]
        for h, t in enumerate(times):
            st.due(t)
            for prop, values in columns:
                v = values[h]
                if math.isnan(v):
                    continue
                for inst, name in routes[prop]:
                    k = inst.key + "|" + inst.cp.plan.id
                    o = on_reading(inst.cp, st.states[k], name, t, v, t, inst.facts)
                    if o.changed or o.timers or o.cancel or o.trace:
                        st.apply(k, o, False)
        out += st.close()
    return out


def _routes(bound: Bindings, station: int) -> Mapping[str, list[tuple[Instance, str]]]:
    """Per property of the station: the (instance, input name) pairs its readings go to."""
    out: dict[str, list[tuple[Instance, str]]] = {}
    for prop in PROPERTIES:
        pairs = bound.index.get(datastream_id(station, prop))
        if pairs:
            out[prop] = pairs
    return out
