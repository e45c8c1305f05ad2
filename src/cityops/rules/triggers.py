"""Trigger leaves as pure step functions over a small JSON-able state.

Each leaf kind has ``step(leaf, state, t, v) -> (state, timer)`` for a reading at time ``t`` (epoch
seconds) and ``out(leaf, state, now) -> bool``. ``timer`` is ``None`` (nothing to do), a fire time
(set or move the leaf's timer) or ``CANCEL``. States are never mutated; a step returns a new dict
only when something changed, so an unchanged state can be skipped when writing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from cityops.rules.plans import (
    Above,
    Below,
    Cusum,
    FlatLine,
    Jump,
    NoData,
    NofM,
    OutOfRange,
    Rate,
    Recent,
)

LeafState = dict[str, Any]
CANCEL = -1.0
Step = Callable[[Any, LeafState, float, float], tuple[LeafState, float | None]]
Out = Callable[[Any, LeafState, float], bool]


def _latch(
    leaf: Above | Below, ls: LeafState, t: float, hit: bool, release: bool
) -> tuple[LeafState, float | None]:
    on = ls.get("on", False)
    if not on and hit:
        return {"on": True, "s": t}, (t + leaf.for_ if leaf.for_ else None)
    if on and release:
        return {"on": False}, (CANCEL if leaf.for_ else None)
    return ls, None


def step_above(leaf: Above, ls: LeafState, t: float, v: float) -> tuple[LeafState, float | None]:
    clear = leaf.value if leaf.clear is None else leaf.clear
    return _latch(leaf, ls, t, v >= leaf.value, v < clear)


def step_below(leaf: Below, ls: LeafState, t: float, v: float) -> tuple[LeafState, float | None]:
    clear = leaf.value if leaf.clear is None else leaf.clear
    return _latch(leaf, ls, t, v <= leaf.value, v > clear)


def out_latch(leaf: Above | Below, ls: LeafState, now: float) -> bool:
    if not ls.get("on", False):
        return False
    return leaf.for_ is None or now - ls["s"] >= leaf.for_


def step_rate(leaf: Rate, ls: LeafState, t: float, v: float) -> tuple[LeafState, float | None]:
    pt = ls.get("t")
    on = False
    if pt is not None and t > pt:
        r = (v - ls["v"]) / (t - pt) * leaf.per
        on = r >= leaf.above if leaf.above is not None else r <= (leaf.below or 0.0)
    return {"t": t, "v": v, "on": on}, None


def step_nofm(leaf: NofM, ls: LeafState, t: float, v: float) -> tuple[LeafState, float | None]:
    hit = v >= leaf.above if leaf.above is not None else v <= (leaf.below or 0.0)
    bits = ((ls.get("b", 0) << 1) | int(hit)) & ((1 << leaf.m) - 1)
    return ({"b": bits} if bits != ls.get("b", 0) else ls), None


def out_nofm(leaf: NofM, ls: LeafState, now: float) -> bool:
    return int(ls.get("b", 0)).bit_count() >= leaf.n


def step_nodata(leaf: NoData, ls: LeafState, t: float, v: float) -> tuple[LeafState, float | None]:
    if t <= ls.get("t", float("-inf")):
        return ls, None
    if ls.get("due") is None:  # no timer pending: set one; later readings only move "t"
        return {"t": t, "due": t + leaf.for_}, t + leaf.for_
    return {"t": t, "due": ls["due"]}, None


def out_nodata(leaf: NoData, ls: LeafState, now: float) -> bool:
    return "t" in ls and ls.get("due") is None and now - ls["t"] >= leaf.for_


def nodata_due(leaf: NoData, ls: LeafState, now: float) -> tuple[LeafState, float | None]:
    """The leaf's timer fired: offline now (timer done), or set it again from the last reading."""
    if now - ls["t"] >= leaf.for_:
        return {"t": ls["t"], "due": None}, None
    return {"t": ls["t"], "due": ls["t"] + leaf.for_}, ls["t"] + leaf.for_


def step_flat(leaf: FlatLine, ls: LeafState, t: float, v: float) -> tuple[LeafState, float | None]:
    ref = ls.get("ref")
    if ref is None or abs(v - ref) > leaf.tolerance:
        return {"ref": v, "s": t, "t": t}, None
    return {"ref": ref, "s": ls["s"], "t": t}, None


def out_flat(leaf: FlatLine, ls: LeafState, now: float) -> bool:
    return "s" in ls and ls["t"] - ls["s"] >= leaf.for_


def step_jump(leaf: Jump, ls: LeafState, t: float, v: float) -> tuple[LeafState, float | None]:
    prev = ls.get("v")
    return {"v": v, "on": prev is not None and abs(v - prev) > leaf.max_step}, None


def step_range(
    leaf: OutOfRange, ls: LeafState, t: float, v: float
) -> tuple[LeafState, float | None]:
    on = not (leaf.min <= v <= leaf.max)
    return (ls if ls.get("on", False) == on else {"on": on}), None


def out_flag(leaf: Any, ls: LeafState, now: float) -> bool:
    return bool(ls.get("on", False))


def step_recent(leaf: Recent, ls: LeafState, t: float, v: float) -> tuple[LeafState, float | None]:
    hit = v >= leaf.above if leaf.above is not None else v <= (leaf.below or 0.0)
    if hit and t > ls.get("a", float("-inf")):
        return {"a": t}, t + leaf.within  # the timer clears the leaf when the window has passed
    return ls, None


def out_recent(leaf: Recent, ls: LeafState, now: float) -> bool:
    return "a" in ls and now - ls["a"] < leaf.within


def step_cusum(leaf: Cusum, ls: LeafState, t: float, v: float) -> tuple[LeafState, float | None]:
    if leaf.half_life is not None:
        return _step_moving(leaf, ls, t, v)
    sd = ls.get("sd")
    if sd is None:  # burn-in: Welford's running mean and sample variance
        n = ls.get("n", 0) + 1
        mu = ls.get("mu", 0.0)
        d = v - mu
        mu += d / n
        m2 = ls.get("m2", 0.0) + d * (v - mu)
        sigma = max(math.sqrt(m2 / (n - 1)), leaf.min_sigma) if n > 1 else 0.0
        if n < leaf.burn_in or sigma <= 0:  # a flat burn-in keeps learning
            return {"n": n, "mu": mu, "m2": m2}, None
        return {"mu": mu, "sd": sigma, "sp": 0.0, "sn": 0.0}, None
    return _sums(leaf, ls, {"mu": ls["mu"], "sd": sd}, t, (v - ls["mu"]) / sd)


def _sums(
    leaf: Cusum, ls: LeafState, new: LeafState, t: float, z: float
) -> tuple[LeafState, float | None]:
    """Add z to the sums in ``new`` (the baseline's keys set); an alarm restarts them."""
    sp = max(0.0, ls.get("sp", 0.0) + z - leaf.k) if leaf.direction != "down" else 0.0
    sn = max(0.0, ls.get("sn", 0.0) - z - leaf.k) if leaf.direction != "up" else 0.0
    new.update(sp=sp, sn=sn, on=False)
    if "a" in ls:  # the last alarm: when and which way
        new["a"], new["dir"] = ls["a"], ls["dir"]
    if sp <= leaf.h and sn <= leaf.h:
        return new, None
    new.update(sp=0.0, sn=0.0, on=True, a=t, dir="up" if sp > leaf.h else "down")  # restart
    return new, (t + leaf.latch if leaf.latch else None)


def _step_moving(leaf: Cusum, ls: LeafState, t: float, v: float) -> tuple[LeafState, float | None]:
    """A moving baseline: exponentially weighted μ and σ² (``half_life``), z before learning."""
    if "mu" not in ls:
        return {"n": 1, "mu": v, "var": 0.0, "t": t}, None
    assert leaf.half_life is not None
    n, mu, var = ls["n"], ls["mu"], ls["var"]
    w = 1.0 - 0.5 ** (max(t - ls["t"], 0.0) / leaf.half_life)  # the new reading's weight
    r = v - mu
    sd = max(math.sqrt(var), leaf.min_sigma)
    judged = n >= leaf.burn_in and sd > 0
    if judged and leaf.clip is not None:
        r = min(max(r, -leaf.clip * sd), leaf.clip * sd)
    new: LeafState = {"n": n + 1, "mu": mu + w * r, "var": (1.0 - w) * (var + w * r * r), "t": t}
    if not judged:
        return new, None
    return _sums(leaf, ls, new, t, (v - mu) / sd)


def out_cusum(leaf: Cusum, ls: LeafState, now: float) -> bool:
    if leaf.latch is None:
        return bool(ls.get("on", False))
    return "a" in ls and now - ls["a"] < leaf.latch


STEP: dict[str, Step] = {
    "above": step_above,
    "below": step_below,
    "rate": step_rate,
    "n_of_m": step_nofm,
    "no_data": step_nodata,
    "flat_line": step_flat,
    "jump": step_jump,
    "out_of_range": step_range,
    "recent": step_recent,
    "cusum": step_cusum,
}
OUT: dict[str, Out] = {
    "above": out_latch,
    "below": out_latch,
    "rate": out_flag,
    "n_of_m": out_nofm,
    "no_data": out_nodata,
    "flat_line": out_flat,
    "jump": out_flag,
    "out_of_range": out_flag,
    "recent": out_recent,
    "cusum": out_cusum,
    "detector": out_flag,  # a detector decides in its step (rules.detectors.step)
}


def explain(leaf: Any, ls: LeafState, out: bool) -> dict[str, Any]:
    """One leaf in a firing's trace: its settings, its state and whether it holds."""
    conf = leaf.model_dump(by_alias=True, exclude_none=True)
    return {**conf, "state": ls, "holds": out}
