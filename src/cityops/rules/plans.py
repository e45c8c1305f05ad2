"""Plans (预案) as validated data: YAML in, typed plans out; a bad plan is reported and disabled.

A plan binds *sources* (datastream ids, or a selector the directory resolves) to one *trigger*
(a tree of conditions over the source's inputs) or a *schedule*, and to the *actions* taken when
the trigger fires, when it clears, and on a recheck. Numbers may be written as ``$name`` and
taken from the plan's ``params`` (defaults that a deployment overrides), so a set-point whose
source is unconfirmed is a visible, editable parameter rather than a constant buried in a rule.
The parts (triggers, actions, durations) are in ``parts.py`` and re-exported here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, model_validator

from cityops.rules.parts import (
    SEVERITIES,
    Above,
    Action,
    Actuate,
    AllOf,
    AnyOf,
    AtLeast,
    Below,
    ClearAlarm,
    Cusum,
    Detector,
    EscalateAlarm,
    FlatLine,
    Jump,
    Leaf,
    NoData,
    NofM,
    Not,
    Notify,
    OpenCase,
    OutOfRange,
    RaiseAlarm,
    Rate,
    Recent,
    Recheck,
    Schedule,
    Severity,
    Trigger,
    _Duration,
    _Strict,
    seconds,
)
from cityops.validated import parse_each

DATA_DIR = Path(__file__).parent / "data" / "plans"
__all__ = [
    "SEVERITIES",
    "Above",
    "Action",
    "Actuate",
    "AlarmPolicy",
    "AllOf",
    "AnyOf",
    "AtLeast",
    "Below",
    "ClearAlarm",
    "Cusum",
    "Detector",
    "Disabled",
    "EscalateAlarm",
    "FlatLine",
    "Jump",
    "Leaf",
    "NoData",
    "NofM",
    "Not",
    "Notify",
    "OpenCase",
    "OutOfRange",
    "Plan",
    "PlanSet",
    "RaiseAlarm",
    "Rate",
    "Recent",
    "Recheck",
    "Schedule",
    "Selector",
    "Severity",
    "Source",
    "Trigger",
    "Verification",
    "inputs_of",
    "leaf_inputs",
    "leaves_of",
    "load_plans",
    "parse_plan",
    "seconds",
]


# ----------------------------------------------------------------------------------- sources
class Selector(_Strict):
    """Datastreams the directory resolves: by observed property, within an area or component."""

    observed_property: str
    area: str | None = Field(default=None, description="jurisdiction code prefix")
    component: str | None = Field(default=None, pattern=r"^\d{17}$")


class Source(_Strict):
    """One source: a datastream (inline facts optional), a group of named inputs, a selector, or
    ``per_thing`` (input name → observed property: one instance per thing that has them all)."""

    datastream: int | None = None
    inputs: dict[str, int] | None = None
    selector: Selector | None = None
    per_thing: dict[str, str] | None = None
    area: str | None = Field(default=None, description="for per_thing: a jurisdiction prefix")
    key: str | None = None
    lat: float | None = None
    lng: float | None = None
    component: str | None = Field(default=None, pattern=r"^\d{17}$")
    actuators: dict[str, int] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one(self) -> Source:
        kinds = (self.datastream, self.inputs, self.selector, self.per_thing)
        if sum(x is not None for x in kinds) != 1:
            raise ValueError(
                "a source is exactly one of datastream / inputs / selector / per_thing"
            )
        if self.inputs is not None and not self.key:
            raise ValueError("a source with inputs needs a key")
        return self


class Verification(_Duration):
    """智能核查/结案: normal for ``hold`` → verified and closed; back within ``reopen_window``."""

    hold: float
    reopen_window: float = 86400.0
    recheck: float = 600.0


class AlarmPolicy(_Duration):
    renotify_every: float | None = 1800.0
    escalate_after: float | None = 3600.0
    flap_window: float = 600.0
    flap_limit: int = Field(default=3, ge=1)
    notify: list[str] = Field(default_factory=lambda: ["duty_officer"])


class Plan(_Duration):
    """One 预案."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")
    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    enabled: bool = True
    unit: str | None = None
    params: dict[str, float | int | str] = Field(default_factory=dict)
    sources: list[Source] = Field(default_factory=list)
    trigger: Trigger | None = None
    # Fire only while ``unless`` does not hold (a rain flag): it keeps the plan from firing but
    # never clears it. Once fired, the plan stays on while ``sustain`` holds, even if the trigger
    # fell (a pollution event stays open until the water is back to its target class).
    unless: Trigger | None = None
    sustain: Trigger | None = None
    schedule: Schedule | None = None
    timezone: str = "Asia/Shanghai"
    actions: list[Action] = Field(min_length=1)
    on_clear: list[Action] = Field(default_factory=list)
    verification: Verification | None = None
    alarm: AlarmPolicy = Field(default_factory=AlarmPolicy)
    evidence: int = Field(default=10, ge=1, le=100)

    @model_validator(mode="after")
    def _shape(self) -> Plan:
        if (self.trigger is None) == (self.schedule is None):
            raise ValueError("a plan has exactly one of trigger / schedule")
        if self.trigger is not None and not self.sources:
            raise ValueError("a plan with a trigger needs at least one source")
        if self.trigger is None and (self.unless or self.sustain):
            raise ValueError("unless / sustain qualify a trigger; a schedule plan has none")
        names = {n for t in (self.trigger, self.unless, self.sustain) if t for n in inputs_of(t)}
        for src in self.sources:
            named = src.inputs if src.inputs is not None else src.per_thing
            if named is not None:
                missing = names - set(named)
                if missing:
                    raise ValueError(f"source {src.key or ''} lacks inputs {sorted(missing)}")
            elif names - {"value"}:
                raise ValueError(
                    f"trigger reads inputs {sorted(names)}; bind them with source inputs"
                )
        if self.verification and not any(_has_case(a) for a in self.actions):
            raise ValueError("verification needs a case action")
        return self


def _has_case(action: Any) -> bool:
    if isinstance(action, OpenCase):
        return True
    return isinstance(action, Recheck) and any(_has_case(a) for a in action.then)


def leaf_inputs(leaf: Leaf) -> list[str]:
    """The input names one leaf reads (a detector reads several)."""
    return list(leaf.inputs) if isinstance(leaf, Detector) else [leaf.input]


def inputs_of(trigger: Any) -> list[str]:
    """The input names a trigger tree reads."""
    return [n for leaf in leaves_of(trigger) for n in leaf_inputs(leaf)]


def leaves_of(trigger: Any) -> list[Leaf]:
    """The trigger's leaves in a fixed order (their index is their slot in the state)."""
    if isinstance(trigger, AllOf | AnyOf | AtLeast):
        return [leaf for t in trigger.of for leaf in leaves_of(t)]
    if isinstance(trigger, Not):
        return leaves_of(trigger.of)
    return [trigger]


# ----------------------------------------------------------------------------------- loading
def _substitute(node: object, params: Mapping[str, object]) -> object:
    if isinstance(node, str) and node.startswith("$"):
        name = node[1:]
        if name not in params:
            raise ValueError(f"unknown parameter ${name}")
        return params[name]
    if isinstance(node, list):
        return [_substitute(x, params) for x in node]
    if isinstance(node, dict):
        return {k: _substitute(v, params) for k, v in node.items()}
    return node


def parse_plan(raw: object, overrides: Mapping[str, Mapping[str, object]] | None = None) -> Plan:
    """One plan from its YAML mapping; raises ValueError with a readable reason."""
    if not isinstance(raw, dict):
        raise ValueError("a plan is a mapping")
    params = dict(raw.get("params") or {})
    if not isinstance(params, dict):
        raise ValueError("params is a mapping")
    extra = (overrides or {}).get(str(raw.get("id")), {})
    unknown = set(extra) - set(params)
    if unknown:
        raise ValueError(f"overrides name unknown parameters {sorted(unknown)}")
    params.update(extra)
    body = {k: v for k, v in raw.items() if k != "params"}
    try:
        return Plan.model_validate({**_substitute(body, params), "params": params})  # type: ignore[dict-item]
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValueError(f"{where}: {first['msg']}" if where else first["msg"]) from None


@dataclass(frozen=True)
class Disabled:
    """A plan that failed validation: its id (or position) and why."""

    name: str
    reason: str


@dataclass
class PlanSet:
    plans: list[Plan] = field(default_factory=list)
    disabled: list[Disabled] = field(default_factory=list)


def plan_files(paths: list[Path] | None = None) -> list[Path]:
    """The YAML files ``paths`` name (a folder: its ``*.yaml``); by default the shipped ones:
    the engine's and those of the scenario plugins (``rules.detectors.PLUGINS``)."""
    from cityops.rules.detectors import plugin_plan_dirs

    files: list[Path] = []
    for p in paths if paths is not None else [DATA_DIR, *plugin_plan_dirs()]:
        files += sorted(p.glob("*.yaml")) if p.is_dir() else [p]
    return files


def plans_signature(paths: list[Path] | None = None) -> tuple[tuple[str, int, int], ...]:
    """(file, mtime, size) of every plan file: it changes when a plan file is edited."""
    out = []
    for path in plan_files(paths):
        try:
            st = path.stat()
        except OSError:
            out.append((str(path), -1, -1))
            continue
        out.append((str(path), st.st_mtime_ns, st.st_size))
    return tuple(out)


def load_plans(
    paths: list[Path] | None = None,
    *,
    overrides: Mapping[str, Mapping[str, object]] | None = None,
) -> PlanSet:
    """Every plan in the YAML files (a file holds ``plans: [...]``); bad ones are disabled."""
    from cityops.rules.detectors import load_plugins

    load_plugins()  # the scenarios' detectors and case listeners, whichever files are read
    out = PlanSet()
    for path in plan_files(paths):
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            out.disabled.append(Disabled(path.name, f"cannot read: {exc}"))
            continue
        entries = doc.get("plans") if isinstance(doc, dict) else None
        if not isinstance(entries, list):
            out.disabled.append(Disabled(path.name, "the file needs a list under 'plans'"))
            continue
        good, errors = parse_each(
            entries,
            section=f"{path.name}: plans",
            key_field="id",
            parse=lambda e: parse_plan(e, overrides),
            key=lambda p: p.id,
            dropped="disabled",
            key_name="plan id",
        )
        taken = {p.id for p in out.plans}
        for plan in good:
            if plan.id in taken:
                out.disabled.append(Disabled(plan.id, f"{path.name}: duplicate plan id"))
            else:
                out.plans.append(plan)
        for msg in errors:
            name = _name_in(msg, entries)
            out.disabled.append(Disabled(name, msg))
    return out


def _name_in(msg: str, entries: list[Any]) -> str:
    m = re.search(r"plans\[(\d+)\](?: \(([^)]*)\))?", msg)
    if m and m.group(2):
        return m.group(2)
    return f"plans[{m.group(1)}]" if m else "?"
