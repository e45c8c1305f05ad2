"""Binding plans to sources (pure): which instances a plan has, their inputs, and their facts.

The engine binds through here against its directory with facts looked up in the database; a
benchmark or a test binds the same way against a ``StaticDirectory`` with facts it knows, so
both evaluate exactly the instances a deployment would.

- ``bind_plan``: one ``Instance`` per source of a plan (a datastream, a selector's datastreams,
  one per thing that has every ``per_thing`` property, or a named group of inputs); a source
  whose unit is not the plan's is reported and skipped.
- ``bind_all``: every compiled plan bound, with its detectors' facts (``rules.detectors``) from
  a ``FactLookup``; detectors that share one ``facts`` method share its answer per thing. A
  source a detector cannot run on (``Unbound``) is reported and not bound. Also the index the
  engine routes readings by: datastream → (instance, input name).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cityops.rules.detectors import Detector, Facts, Unbound
from cityops.rules.evaluate import Compiled
from cityops.rules.plans import Disabled, Selector, Source
from cityops.rules.ports import Directory, SourceInfo

# A detector's facts about a source; raises ``Unbound`` when the source cannot run it.
FactLookup = Callable[[Detector, SourceInfo], Facts]
Index = dict[int, list[tuple["Instance", str]]]


@dataclass(frozen=True, slots=True)
class Instance:
    """A plan bound to one source: its key, its inputs (name → datastream), what it is, and what
    its detectors know about it."""

    cp: Compiled
    key: str
    inputs: dict[str, int]
    info: SourceInfo
    facts: Mapping[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Bindings:
    instances: dict[tuple[str, str], Instance] = field(default_factory=dict)
    index: Index = field(default_factory=dict)
    problems: list[Disabled] = field(default_factory=list)


def bind_all(
    compiled: Mapping[str, Compiled], directory: Directory, lookup: FactLookup | None
) -> Bindings:
    """Every plan bound to the directory's sources (``lookup``: None when no plan has a
    detector)."""
    out = Bindings()
    known: dict[tuple[Any, str], Facts | Unbound] = {}
    for pid, cp in compiled.items():
        for inst in bind_plan(cp, directory, out.problems):
            if cp.detectors:
                if lookup is None:
                    raise ValueError(f"plan {pid} has detectors: binding needs a fact lookup")
                found = _facts(inst, lookup, known, out.problems)
                if found is None:
                    continue
                inst = Instance(cp, inst.key, inst.inputs, inst.info, found)
            out.instances[(pid, inst.key)] = inst
            for name, ds in inst.inputs.items():
                out.index.setdefault(ds, []).append((inst, name))
    return out


def _facts(
    inst: Instance,
    lookup: FactLookup,
    known: dict[tuple[Any, str], Facts | Unbound],
    problems: list[Disabled],
) -> Facts | None:
    """What the plan's detectors know about the source (None: not bound, reported)."""
    facts: dict[str, Any] = {}
    subject = f"thing:{inst.info.thing_id}" if inst.info.thing_id is not None else inst.key
    for bound in inst.cp.detectors.values():
        det = bound.detector
        key = (type(det).facts, subject)  # detectors sharing the lookup share the answer
        if key not in known:
            try:
                known[key] = lookup(det, inst.info)
            except Unbound as exc:
                known[key] = exc
        got = known[key]
        if isinstance(got, Unbound):
            reason = f"{inst.key}: {det.name}: {got}; not bound"
            problems.append(Disabled(inst.cp.plan.id, reason))
            return None
        facts.update(got)
    return facts


def bind_plan(cp: Compiled, directory: Directory, problems: list[Disabled]) -> list[Instance]:
    """The plan's instances over the directory's sources (mismatched units reported)."""
    if not cp.plan.sources:  # a schedule for no particular source
        return [Instance(cp, "-", {}, SourceInfo(0, cp.plan.name))]
    out: list[Instance] = []
    for src in cp.plan.sources:
        if src.selector is not None:
            ids = directory.select(src.selector)
            out += [_one(cp, directory, src, f"ds:{d}", {"value": d}) for d in ids]
        elif src.per_thing is not None:
            out += _per_thing(cp, directory, src, src.per_thing)
        elif src.datastream is not None:
            out.append(_one(cp, directory, src, f"ds:{src.datastream}", {"value": src.datastream}))
        else:
            assert src.inputs is not None and src.key is not None
            out.append(_one(cp, directory, src, src.key, dict(src.inputs)))
    good = []
    unit = cp.plan.unit
    for inst in out:
        if unit and inst.info.unit and inst.info.unit != unit:
            reason = f"{inst.key}: unit {inst.info.unit} is not the plan's {unit}; not bound"
            problems.append(Disabled(cp.plan.id, reason))
        else:
            good.append(inst)
    return good


def _per_thing(
    cp: Compiled, directory: Directory, src: Source, props: dict[str, str]
) -> list[Instance]:
    """One instance per thing that has a datastream of every named observed property."""
    things: dict[int, dict[str, int]] = {}
    for name, prop in props.items():
        for ds in directory.select(Selector(observed_property=prop, area=src.area)):
            info = directory.describe(ds)
            if info is not None and info.thing_id is not None:
                things.setdefault(info.thing_id, {}).setdefault(name, ds)
    return [
        _one(cp, directory, src, f"thing:{tid}", inputs)
        for tid, inputs in sorted(things.items())
        if len(inputs) == len(props)
    ]


def _one(
    cp: Compiled, directory: Directory, src: Source, key: str, inputs: dict[str, int]
) -> Instance:
    first = next(iter(inputs.values()))
    known = directory.describe(first) or SourceInfo(first)
    info = SourceInfo(
        datastream_id=first,
        name=known.name or key,
        thing_id=known.thing_id,
        observed_property=known.observed_property,
        unit=known.unit,
        lat=src.lat if src.lat is not None else known.lat,
        lng=src.lng if src.lng is not None else known.lng,
        component_ident=src.component or known.component_ident,
        jurisdiction_code=known.jurisdiction_code,
        actuators={**known.actuators, **src.actuators},
    )
    return Instance(cp, key, inputs, info)
