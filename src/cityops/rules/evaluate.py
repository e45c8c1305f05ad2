"""Pure, incremental evaluation of one plan instance (a plan bound to one source).

``on_reading(plan, state, input, t, v, now)`` and ``on_timer(plan, state, timer, now)`` return an
``Outcome``: the new state (a small JSON-able dict), the actions to take, timers to set or cancel,
and, when something fired, a trace that explains it. No database, no clock, no I/O: the engine
stores the state and timers and carries out the actions.

The trigger is a tree of leaves; the instance *fires* on the rising edge of the tree (all/any of
the leaves) and *clears* on the falling edge, so a value that stays over a threshold fires once.
Times are epoch seconds (floats) so the state serialises cheaply.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from cityops.rules import detectors, triggers
from cityops.rules.cron import Cron
from cityops.rules.plans import (
    Above,
    AllOf,
    AnyOf,
    AtLeast,
    Below,
    Detector,
    Not,
    OpenCase,
    Plan,
    Recheck,
    leaf_inputs,
    leaves_of,
)

State = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Reading:
    datastream_id: int
    time: datetime
    value: float


@dataclass(frozen=True, slots=True)
class Timer:
    """A durable timer as data: at ``fire_at`` re-evaluate ``kind`` for (plan, instance)."""

    fire_at: float
    plan: str
    instance: str
    kind: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Call:
    """One action to carry out: a plan action (``action``) or an engine step (case_verify …)."""

    kind: str
    action: Any = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Outcome:
    state: State
    changed: bool = True
    calls: list[Call] = field(default_factory=list)
    timers: list[Timer] = field(default_factory=list)
    cancel: list[str] = field(default_factory=list)
    trace: dict[str, Any] | None = None


class Compiled:
    """A plan prepared for evaluation: leaves by index and by input, rechecks numbered."""

    __slots__ = (
        "band", "by_input", "cron", "det_by_input", "detectors", "evidence", "leaves", "needs_t",
        "plan", "rechecks", "sustain", "tree", "tz", "unless",
    )  # fmt: skip

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        parts = (plan.trigger, plan.unless, plan.sustain)
        self.leaves = [leaf for part in parts if part is not None for leaf in leaves_of(part)]
        self.by_input: dict[str, list[int]] = {}
        self.det_by_input: dict[str, list[int]] = {}  # detector leaves, stepped with the facts
        self.detectors: dict[int, detectors.Bound] = {}
        for i, leaf in enumerate(self.leaves):
            if isinstance(leaf, Detector):
                self.detectors[i] = detectors.bind(leaf.detector, leaf.inputs, leaf.params)
            into = self.det_by_input if isinstance(leaf, Detector) else self.by_input
            for name in leaf_inputs(leaf):
                into.setdefault(name, []).append(i)
        counter = iter(range(len(self.leaves)))
        self.tree = _tree(plan.trigger, counter) if plan.trigger else None
        self.unless = _tree(plan.unless, counter) if plan.unless else None
        self.sustain = _tree(plan.sustain, counter) if plan.sustain else None
        self.rechecks: list[Recheck] = []
        _number(plan.actions, self.rechecks)
        self.evidence = plan.evidence if (_cases(plan) or plan.verification) else 0
        self.tz = ZoneInfo(plan.timezone)
        self.cron = Cron.parse(plan.schedule.cron) if plan.schedule and plan.schedule.cron else None
        timed = any(
            x.type in ("no_data", "flat_line", "rate", "jump", "recent", "cusum", "detector")
            for x in self.leaves
        )
        # Keep per-input reading times only where order matters (several inputs, timed leaves).
        self.needs_t = bool(self.evidence or len(self.by_input) > 1 or timed)
        # The fast path of a plain threshold: the band (fire at, clear at) of its one leaf.
        self.band: tuple[str, float, float] | None = None
        top = plan.trigger
        alone = len(self.leaves) == 1  # no unless / sustain beside it
        if not self.needs_t and alone and isinstance(top, Above | Below) and top.for_ is None:
            clear = top.value if top.clear is None else top.clear
            self.band = (top.type, top.value, clear)


def _tree(trig: Any, counter: Any) -> Any:
    """A leaf's index, or (kind, children, n) for a composite."""
    if isinstance(trig, AllOf | AnyOf):
        return (trig.type, [_tree(t, counter) for t in trig.of], 0)
    if isinstance(trig, AtLeast):
        return ("at_least", [_tree(t, counter) for t in trig.of], trig.n)
    if isinstance(trig, Not):
        return ("not", [_tree(trig.of, counter)], 0)
    return next(counter)


def _number(actions: list[Any], out: list[Recheck]) -> None:
    for a in actions:
        if isinstance(a, Recheck):
            out.append(a)
            _number(a.then, out)


def _cases(plan: Plan) -> bool:
    def has(actions: list[Any]) -> bool:
        return any(
            isinstance(a, OpenCase) or (isinstance(a, Recheck) and has(a.then)) for a in actions
        )

    return has(plan.actions)


def initial(cp: Compiled, key: str = "") -> State:
    """A fresh instance state; ``k`` is the instance (source) key it belongs to."""
    return {"k": key, "on": False, "ep": 0, "L": [{} for _ in cp.leaves]}


def _out(cp: Compiled, node: Any, leaves: list[dict[str, Any]], now: float) -> bool:
    if isinstance(node, int):
        leaf = cp.leaves[node]
        return triggers.OUT[leaf.type](leaf, leaves[node], now)
    kind, kids, n = node
    if kind == "all":
        return all(_out(cp, k, leaves, now) for k in kids)
    if kind == "any":
        return any(_out(cp, k, leaves, now) for k in kids)
    if kind == "not":
        return not _out(cp, kids[0], leaves, now)
    return sum(_out(cp, k, leaves, now) for k in kids) >= int(n)


def _decide(cp: Compiled, on: bool, leaves: list[dict[str, Any]], now: float) -> bool:
    """Whether the instance is on: the trigger, kept from firing by ``unless``, kept on by
    ``sustain``."""
    out = _out(cp, cp.tree, leaves, now)
    if on:
        return out or (cp.sustain is not None and _out(cp, cp.sustain, leaves, now))
    return out and not (cp.unless is not None and _out(cp, cp.unless, leaves, now))


def on_reading(
    cp: Compiled,
    state: State | None,
    input_name: str,
    t: float,
    v: float,
    now: float,
    facts: Mapping[str, Any] | None = None,
) -> Outcome:
    """Feed one reading of ``input_name`` (value ``v`` at ``t``) to the instance; ``facts``: what
    its detectors know about the source (``rules.detectors``)."""
    st = state if state is not None else initial(cp)
    band = cp.band
    if band is not None:  # a plain threshold that neither crosses nor clears changes nothing
        on = st["L"][0].get("on", False)
        if band[0] == "above":
            quiet = v >= band[2] if on else v < band[1]
        else:
            quiet = v <= band[2] if on else v > band[1]
        if quiet:
            return Outcome(st, changed=False)
    last = st.get("t", {}).get(input_name)
    if last is not None and t <= last:  # late or repeated reading: evaluated once, in order
        return Outcome(st, changed=False)
    leaves = st["L"]
    new_leaves: list[dict[str, Any]] | None = None
    timers: list[Timer] = []
    cancel: list[str] = []
    inst = st.get("k", "")
    for i in cp.by_input.get(input_name, ()):
        leaf = cp.leaves[i]
        ls, tm = triggers.STEP[leaf.type](leaf, leaves[i], t, v)
        if ls is not leaves[i]:
            if new_leaves is None:
                new_leaves = list(leaves)
            new_leaves[i] = ls
        if tm is not None:
            if tm == triggers.CANCEL:
                cancel.append(f"leaf:{i}")
            else:
                timers.append(Timer(tm, cp.plan.id, inst, f"leaf:{i}"))
    for i in cp.det_by_input.get(input_name, ()):
        if new_leaves is None:
            new_leaves = list(leaves)
        new_leaves[i] = detectors.step(cp.detectors[i], leaves[i], input_name, t, v, facts or {})
    needs_t = cp.needs_t
    if new_leaves is None and not needs_t:
        return Outcome(st, changed=False)
    new = dict(st)
    if new_leaves is not None:
        new["L"] = new_leaves
    if needs_t:
        new["t"] = {**st.get("t", {}), input_name: t}
    if cp.evidence:
        new["ev"] = [*st.get("ev", ())[-(cp.evidence - 1) :], [t, input_name, v]]
    out = _decide(cp, st["on"], new["L"], t)
    if out == st["on"]:  # no edge: nothing to explain
        return Outcome(new, True, [], timers, cancel)
    cause = {"reading": {"input": input_name, "time": _iso(t), "value": v}}
    return _edge(cp, new, out, t, now, cause, timers, cancel)


def _edge(
    cp: Compiled,
    st: State,
    out: bool,
    t: float,
    now: float,
    cause: dict[str, Any],
    timers: list[Timer],
    cancel: list[str],
) -> Outcome:
    plan, inst = cp.plan, st.get("k", "")
    if out == st["on"]:
        return Outcome(st, True, [], timers, cancel)
    calls: list[Call] = []
    st = dict(st)
    st["on"] = out
    if out:
        event = "fire"
        st["ep"] = st["ep"] + 1
        st["at"] = t
        case, closed = st.get("case"), st.get("closed")
        v = plan.verification
        if case is not None and v is not None:
            cancel.append("verify")
            if closed is None or t - closed <= v.reopen_window:
                calls.append(Call("case_recurrence", None, {"case_id": case, "episode": st["ep"]}))
            else:  # closed long enough ago: a new problem gets a new case
                st["case"] = st["closed"] = None
        calls += _run(cp, plan.actions, st, t, timers)
    else:
        event = "clear"
        st["cleared"] = t
        cancel += [f"recheck:{i}" for i in range(len(cp.rechecks))]
        calls += _run(cp, plan.on_clear, st, t, timers)
        v = plan.verification
        if v is not None and st.get("case") is not None and st.get("closed") is None:
            timers.append(Timer(t + v.hold, plan.id, inst, "verify", {"ep": st["ep"]}))
    trace = _trace(cp, st, event, now, cause, calls, timers, at=t)
    return Outcome(st, True, calls, timers, cancel, trace)


def _run(cp: Compiled, actions: list[Any], st: State, t: float, timers: list[Timer]) -> list[Call]:
    calls: list[Call] = []
    for a in actions:
        if isinstance(a, Recheck):
            n = next(i for i, r in enumerate(cp.rechecks) if r is a)
            timers.append(
                Timer(t + a.after, cp.plan.id, st.get("k", ""), f"recheck:{n}", {"ep": st["ep"]})
            )
        else:
            calls.append(Call(a.type, a))
    return calls


def on_timer(cp: Compiled, state: State | None, timer: Timer, now: float) -> Outcome:
    """A timer of this instance is due: re-evaluate what it was set for."""
    st = state if state is not None else initial(cp)
    kind = timer.kind
    cause = {"timer": {"kind": kind, "due": _iso(timer.fire_at)}}
    if kind.startswith("leaf:"):
        i = int(kind[5:])
        timers: list[Timer] = []
        leaf = cp.leaves[i]
        if leaf.type == "no_data":
            ls, again = triggers.nodata_due(leaf, st["L"][i], now)
            st = {**st, "L": [*st["L"][:i], ls, *st["L"][i + 1 :]]}
            if again is not None:
                timers.append(Timer(again, cp.plan.id, timer.instance, kind))
        return _edge(cp, st, _decide(cp, st["on"], st["L"], now), now, now, cause, timers, [])
    if kind.startswith("recheck:"):
        if not st["on"] or st["ep"] != timer.data.get("ep"):
            return Outcome(st, changed=False)
        rc = cp.rechecks[int(kind[8:])]
        timers = []
        calls = _run(cp, rc.then, st, now, timers)
        trace = _trace(cp, st, "recheck", now, cause, calls, timers)
        return Outcome(st, False, calls, timers, [], trace)
    if kind == "verify":
        v = cp.plan.verification
        if st["on"] or st.get("case") is None or st.get("closed") is not None or v is None:
            return Outcome(st, changed=False)
        calls = [
            Call("case_verify", None, {"case_id": st["case"], "normal_since": st.get("cleared")})
        ]
        retry = [Timer(now + v.recheck, cp.plan.id, timer.instance, "verify", {"ep": st["ep"]})]
        trace = _trace(cp, st, "verify", now, cause, calls, retry)
        return Outcome(st, False, calls, retry, [], trace)
    if kind == "schedule":
        timers = [schedule_next(cp, timer.instance, now)]
        calls = _run(cp, cp.plan.actions, {**st, "ep": st["ep"] + 1}, now, timers)
        st = {**st, "ep": st["ep"] + 1, "at": now}
        return Outcome(
            st, True, calls, timers, [], _trace(cp, st, "schedule", now, cause, calls, timers)
        )
    return Outcome(st, changed=False)


def schedule_next(cp: Compiled, instance: str, after: float) -> Timer:
    """The next firing of a schedule plan strictly after ``after``."""
    sched = cp.plan.schedule
    assert sched is not None
    if cp.cron is not None:
        nxt = cp.cron.next_after(datetime.fromtimestamp(after, UTC), cp.tz).timestamp()
    else:
        assert sched.every is not None
        nxt = (after // sched.every + 1) * sched.every
    return Timer(nxt, cp.plan.id, instance, "schedule")


def note_case(state: State, *, case_id: int | None, closed_at: float | None) -> State:
    """The engine tells the instance which case carries its problem and whether it is closed."""
    return {**state, "case": case_id, "closed": closed_at}


def evidence(state: State) -> list[dict[str, Any]]:
    """The instance's recent readings, as evidence for a case."""
    return [{"time": _iso(t), "input": n, "value": v} for t, n, v in state.get("ev", ())]


def _dump(part: Any) -> dict[str, Any] | None:
    return part.model_dump(by_alias=True, exclude_none=True) if part is not None else None


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat()


def _trace(
    cp: Compiled,
    st: State,
    event: str,
    now: float,
    cause: dict[str, Any],
    calls: list[Call],
    timers: list[Timer],
    at: float | None = None,
) -> dict[str, Any]:
    """The explanation kept for a firing: what caused it, each condition as of ``at``, actions."""
    at = now if at is None else at
    leaves = [
        triggers.explain(leaf, st["L"][i], triggers.OUT[leaf.type](leaf, st["L"][i], at))
        for i, leaf in enumerate(cp.leaves)
    ]
    return {
        "plan": cp.plan.id,
        "instance": st.get("k", ""),
        "event": event,
        "episode": st["ep"],
        "evaluated_at": _iso(now),
        **cause,
        "conditions": leaves,
        "trigger": _dump(cp.plan.trigger),
        **{k: _dump(getattr(cp.plan, k)) for k in ("unless", "sustain") if getattr(cp.plan, k)},
        "actions": [
            {"kind": c.kind, **(c.action.model_dump(exclude_none=True) if c.action else c.data)}
            for c in calls
        ],
        "timers": [{"kind": tm.kind, "fire_at": _iso(tm.fire_at)} for tm in timers],
    }
