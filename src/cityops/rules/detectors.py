"""Detectors: multi-input trigger leaves that scenarios register, so the engine stays generic.

A plan names one as ``{type: detector, detector: water_class_drop, inputs: [do, nh3n, …],
params: {…}}``. The scenario's ``Detector`` validates the inputs and params when the plan loads (an
unknown detector or a bad parameter disables that plan, with the reason), may look up *facts*
about each source when the engine binds it (a station's section and target class: I/O at the
edge, once per binding), and then decides on each *sample* by a pure ``update`` over a JSON-able
state. A sample is the newest value of every input; the detector is asked once all inputs have
a value, again on each reading after that (readings with the same time are one sample).

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
    """A reading of input ``name``: fold it into the sample and ask the detector once complete."""
    x = {**ls.get("x", {}), name: v}
    if len(x) < len(bound.inputs):
        return {**ls, "x": x}
    d = bound.detector.update(bound.params, ls.get("d", {}), t, x, facts)
    return {"x": x, "d": d, "on": bool(d.get("on", False))}
