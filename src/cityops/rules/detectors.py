"""Detectors: multi-input trigger leaves that scenarios register, so the engine stays generic.

A plan names one as ``{type: detector, detector: water_class_drop, inputs: [do, nh3n, …],
params: {…}}``. The scenario's ``Detector`` validates the inputs and params when the plan loads (an
unknown detector or a bad parameter disables that plan, with the reason), may look up *facts*
about each source when the engine binds it (a station's section and target class: I/O at the
edge, once per binding), and then decides on each *sample* by a pure ``update`` over a JSON-able
state. A sample is the newest value of every input; the detector is asked once every input has
reported since it was last asked (or, if a reading was lost, when the next sample begins).

Scenario plugins are listed in ``PLUGINS``: importing one registers its detectors (and case
listeners, ``rules.caseport``); its ``PLANS_DIR``, if any, joins the shipped plans.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import import_module
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from cityops.rules.ports import SourceInfo

# Scenario modules that extend the engine (the composition point, like the API's DOMAINS).
PLUGINS: tuple[str, ...] = ("cityops.scenarios.river.detect",)

Facts = Mapping[str, Any]
DetectorState = dict[str, Any]


class Unbound(LookupError):
    """The source cannot run this detector (no facts for it); the instance is not bound."""


class Detector(ABC):
    """One kind of detector. Subclasses set ``name`` and ``Params`` (a strict pydantic model)."""

    name: ClassVar[str]
    Params: ClassVar[type[BaseModel]]

    def check_inputs(self, inputs: Sequence[str]) -> None:
        """Raise ValueError when the detector cannot read these inputs."""
        del inputs

    def facts(self, session: Session, info: SourceInfo) -> Facts:
        """What the detector needs to know about a source; raise ``Unbound`` to skip it.

        Detectors that share this method (the same function) share its answer per binding."""
        del session, info
        return {}

    @abstractmethod
    def update(
        self, params: Any, state: DetectorState, t: float, values: Mapping[str, float], facts: Facts
    ) -> DetectorState:
        """The new state after a sample at ``t``; ``state["on"]`` says whether the leaf holds.

        Pure: never mutate ``state``; return only JSON-able values."""


@dataclass(frozen=True, slots=True)
class Bound:
    """A detector with a plan's validated params and input names."""

    detector: Detector
    params: Any
    inputs: tuple[str, ...]


_REGISTRY: dict[str, Detector] = {}


def register(detector: Detector) -> Detector:
    """Make a detector available to plans by its ``name`` (import time of its scenario)."""
    _REGISTRY[detector.name] = detector
    return detector


@cache
def _plugins() -> tuple[Any, ...]:
    return tuple(import_module(name) for name in PLUGINS)


def load_plugins() -> None:
    """Import every scenario plugin once (registering its detectors and listeners)."""
    _plugins()


def plugin_plan_dirs() -> list[Path]:
    """The shipped plan folders of the plugins."""
    return [Path(m.PLANS_DIR) for m in _plugins() if getattr(m, "PLANS_DIR", None)]


def bind(name: str, inputs: Sequence[str], params: Mapping[str, Any]) -> Bound:
    """Look up and check a detector leaf; ValueError with a readable reason if it is wrong."""
    load_plugins()
    detector = _REGISTRY.get(name)
    if detector is None:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise ValueError(f"unknown detector {name!r} (known: {known})")
    if len(set(inputs)) != len(inputs):
        raise ValueError(f"detector {name}: an input is named twice")
    detector.check_inputs(inputs)
    try:
        parsed = detector.Params.model_validate(dict(params))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValueError(f"detector {name} params {where}: {first['msg']}") from None
    return Bound(detector, parsed, tuple(inputs))


def step(
    bound: Bound, ls: dict[str, Any], name: str, t: float, v: float, facts: Facts
) -> dict[str, Any]:
    """A reading of input ``name``: fold it into the sample; ask the detector once the sample is
    complete (every input has reported since it was last asked), or, when a reading of a later
    time starts the next sample first (a reading was lost), about the incomplete one with the
    missing inputs at their last values. So it never judges a mix of two samples' readings."""
    x, d, on = ls.get("x", {}), ls.get("d", {}), ls.get("on", False)
    got: list[str] = ls.get("f", [])  # inputs that reported since the detector was last asked
    if got and t > ls["s"] and len(x) == len(bound.inputs):
        d = bound.detector.update(bound.params, d, ls["s"], x, facts)
        on, got = bool(d.get("on", False)), []
    x = {**x, name: v}
    got = got if name in got else [*got, name]
    if len(got) < len(bound.inputs):
        return {"x": x, "f": got, "s": t, "d": d, "on": on}
    d = bound.detector.update(bound.params, d, t, x, facts)
    return {"x": x, "f": [], "s": t, "d": d, "on": bool(d.get("on", False))}
