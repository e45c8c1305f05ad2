"""The generic trigger kinds scenarios build on: CUSUM, "recent", at_least / not, a plan's unless
and sustain, and detector plugins. Pure: hand-made sequences, no database."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from cityops.rules.detectors import Detector, DetectorState, Facts, register
from cityops.rules.evaluate import Compiled, Outcome, initial, on_reading, on_timer
from cityops.rules.plans import load_plans
from cityops.rules.triggers import step_cusum
from tests.rules.test_evaluate import T0, compile_, events, feed

BURN = [9.0, 11.0, 9.0, 11.0, 10.0]  # mean 10, sample standard deviation 1


def cusum(direction: str, **extra: Any) -> Compiled:
    opts = ", ".join(f"{k}: {v}" for k, v in extra.items())
    return compile_(
        f"trigger: {{type: cusum, k: 0.25, h: 2, burn_in: 5, direction: {direction}"
        f"{', ' + opts if opts else ''}}}"
    )


def test_cusum_by_hand_learns_the_baseline_then_accumulates_standardised_shifts() -> None:
    cp = cusum("up")
    leaf = cp.leaves[0]
    ls: dict[str, Any] = {}
    for v in BURN:
        ls, _ = step_cusum(leaf, ls, T0, v)  # type: ignore[arg-type]
    assert ls == {"mu": 10.0, "sd": 1.0, "sp": 0.0, "sn": 0.0}
    ls, _ = step_cusum(leaf, ls, T0, 11.0)  # type: ignore[arg-type]
    assert ls["sp"] == pytest.approx(0.75) and not ls["on"]  # z = 1: 0 + 1 − 0.25
    ls, _ = step_cusum(leaf, ls, T0, 12.0)  # type: ignore[arg-type]
    # z = 2: 0.75 + 1.75 = 2.5 > h = 2 → alarm, and the sums restart from zero.
    assert ls["on"] and ls["dir"] == "up" and ls["sp"] == 0.0
    ls, _ = step_cusum(leaf, ls, T0, 10.0)  # type: ignore[arg-type]
    assert not ls["on"] and ls["sp"] == 0.0


def test_cusum_fires_only_in_its_direction() -> None:
    rise = [*BURN, 11.0, 12.0]
    fall = [*BURN, 9.0, 8.0]
    assert events(feed(cusum("up"), rise))[-2:] == [None, "fire"]
    assert "fire" not in events(feed(cusum("up"), fall))
    assert events(feed(cusum("down"), fall))[-2:] == [None, "fire"]
    assert "fire" not in events(feed(cusum("down"), rise))
    assert events(feed(cusum("both"), fall))[-1] == "fire"
    # Noise inside the slack (|z| ≤ k) never accumulates.
    assert "fire" not in events(feed(cusum("both"), [*BURN] + [10.2, 9.8] * 30))


def test_a_flat_burn_in_keeps_learning_until_the_values_vary() -> None:
    outs = feed(cusum("up"), [10.0] * 8 + [11.0])
    assert "sd" not in outs[-2].state["L"][0]  # σ would be 0: no standardising yet
    assert outs[-1].state["L"][0]["sd"] == pytest.approx(1 / 3)  # nine values, one of them 11
    with_floor = feed(cusum("up", min_sigma=0.5), [10.0] * 5 + [11.0, 11.0])
    assert events(with_floor)[-1] == "fire"  # z = 2 twice: 1.75 + 1.75 > 2


def test_a_latched_cusum_holds_after_the_alarm_and_clears_by_timer() -> None:
    cp = cusum("up", latch="1h")
    outs = feed(cp, [*BURN, 11.0, 12.0, 10.0], step=600)
    assert events(outs)[-2:] == ["fire", None]  # the next normal reading does not clear it
    (timer,) = [t for t in outs[-2].timers if t.kind == "leaf:0"]
    assert timer.fire_at == T0 + 6 * 600 + 3600
    cleared = on_timer(cp, outs[-1].state, timer, timer.fire_at)
    assert cleared.trace is not None and cleared.trace["event"] == "clear"


def test_recent_holds_for_the_window_after_a_hit() -> None:
    cp = compile_("trigger: {type: recent, above: 5, within: 6h}")
    outs = feed(cp, [0, 8, 0, 0], step=3600)
    assert events(outs) == [None, "fire", None, None]
    (timer,) = outs[1].timers
    assert timer.fire_at == T0 + 3600 + 6 * 3600
    assert on_timer(cp, outs[-1].state, timer, timer.fire_at).trace["event"] == "clear"  # type: ignore[index]


def _multi(trigger: str, **extra: Any) -> Compiled:
    return compile_(trigger, sources=[{"key": "k", "inputs": {"a": 1, "b": 2, "c": 3}}], **extra)


def run(
    cp: Compiled, steps: Sequence[tuple[str, float]], facts: Facts | None = None
) -> list[Outcome]:
    """Readings one minute apart; each (input, value)."""
    state = initial(cp, "k")
    outs = []
    for i, (name, v) in enumerate(steps):
        out = on_reading(cp, state, name, T0 + 60 * i, v, T0 + 60 * i, facts)
        state = out.state
        outs.append(out)
    return outs


def test_at_least_n_of_several_conditions() -> None:
    cp = _multi(
        "trigger: {type: at_least, n: 2, of: [{type: above, input: a, value: 1}, "
        "{type: above, input: b, value: 1}, {type: above, input: c, value: 1}]}"
    )
    outs = run(cp, [("a", 2), ("c", 0), ("c", 3), ("a", 0), ("b", 5), ("b", 0)])
    assert events(outs) == [None, None, "fire", "clear", "fire", "clear"]
    with pytest.raises(ValueError, match="exceeds"):
        _multi("trigger: {type: at_least, n: 4, of: [{type: above, input: a, value: 1}]}")


def test_not_inverts_a_condition_and_clears_the_plan_when_it_holds() -> None:
    cp = _multi(
        "trigger: {type: all, of: [{type: above, input: a, value: 1}, "
        "{type: not, of: {type: above, input: b, value: 1}}]}"
    )
    assert events(run(cp, [("b", 0), ("a", 2), ("b", 5), ("b", 0)])) == [
        None, "fire", "clear", "fire",
    ]  # fmt: skip


def test_unless_keeps_a_plan_from_firing_but_never_clears_it() -> None:
    cp = _multi(
        "trigger: {type: above, input: a, value: 1}",
        unless={"type": "recent", "input": "b", "above": 5, "within": "1h"},
    )
    # Rain first: the rise is held back; when the window has passed (the leaf's timer) it fires.
    held = run(cp, [("b", 9), ("a", 2), ("a", 3)])
    assert events(held) == [None, None, None]
    (window,) = held[0].timers
    assert window.fire_at == T0 + 3600
    late = on_timer(cp, held[-1].state, window, window.fire_at)
    assert late.trace is not None and late.trace["event"] == "fire"
    # Rain after firing changes nothing; the trigger falling still clears.
    fired = run(cp, [("a", 2), ("b", 9), ("a", 0)])
    assert events(fired) == ["fire", None, "clear"]


def test_a_threshold_with_a_sustain_on_the_same_input_is_stepped_in_full() -> None:
    cp = compile_(
        "trigger: {type: above, value: 10}", sustain={"type": "above", "value": 5, "clear": 3}
    )
    assert cp.band is None  # the plain-threshold fast path would skip the sustain leaf
    assert events(feed(cp, [11, 6, 4, 2])) == ["fire", None, None, "clear"]


def test_sustain_keeps_a_fired_plan_on_until_it_no_longer_holds() -> None:
    cp = _multi(
        "trigger: {type: above, input: a, value: 10}",
        sustain={"type": "above", "input": "b", "value": 1},
    )
    outs = run(cp, [("b", 2), ("a", 11), ("a", 0), ("b", 0)])
    assert events(outs) == [None, "fire", None, "clear"]
    # Sustain alone never fires a plan.
    assert "fire" not in events(run(cp, [("b", 5), ("a", 0)]))


class _SumParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    over: float


class SumOver(Detector):
    """A toy detector: the sample's sum is over ``over`` plus the source's ``offset`` fact."""

    name = "test_sum_over"
    Params = _SumParams

    def check_inputs(self, inputs: Sequence[str]) -> None:
        if len(inputs) < 2:
            raise ValueError("needs two inputs at least")

    def update(
        self, params: Any, state: DetectorState, t: float, values: Mapping[str, float], facts: Facts
    ) -> DetectorState:
        return {"on": sum(values.values()) > params.over + facts.get("offset", 0), "n": len(values)}


register(SumOver())


def test_a_detector_waits_for_every_input_then_decides_on_each_sample_with_the_facts() -> None:
    cp = _multi(
        "trigger: {type: detector, detector: test_sum_over, inputs: [a, b], params: {over: 10}}"
    )
    outs = run(cp, [("a", 20), ("b", 1), ("a", 5), ("b", 0)])
    # Nothing until b has a value; the new a alone is half a sample: decided when b reports.
    assert events(outs) == [None, "fire", None, "clear"]
    assert outs[1].trace is not None
    assert outs[1].trace["conditions"][0]["state"]["x"] == {"a": 20, "b": 1}
    shifted = run(cp, [("a", 20), ("b", 1)], facts={"offset": 50})
    assert events(shifted) == [None, None]
    for out in outs:
        assert json.loads(json.dumps(out.state)) == out.state


def test_a_detector_never_judges_a_mix_of_two_samples_and_a_lost_reading_only_delays() -> None:
    cp = _multi(
        "trigger: {type: detector, detector: test_sum_over, inputs: [a, b], params: {over: 10}}"
    )
    state = initial(cp, "k")
    seen: list[str | None] = []
    for hour, values in enumerate([{"a": 1, "b": 1}, {"a": 20, "b": -15}, {"b": 15}, {"a": 0}]):
        for name, v in values.items():  # one sample: its readings share the hour
            out = on_reading(cp, state, name, T0 + 3600 * hour, v, T0 + 3600 * hour)
            state = out.state
            seen.append(out.trace["event"] if out.trace else None)
    # Hour 1's a = 20 with hour 0's b = 1 would be 21: never judged, the sample is 20 − 15.
    # Hour 2 lost a: its b = 15 with the last a (35) is judged when hour 3 begins, and fires.
    assert seen == [None, None, None, None, None, "fire"]


def test_a_moving_baseline_follows_a_slow_drift_but_still_sees_a_step() -> None:
    leaf = "type: cusum, k: 1, h: 8, burn_in: 5, direction: up"
    fixed = compile_(f"trigger: {{{leaf}}}")
    moving = compile_(f"trigger: {{{leaf}, baseline: moving, half_life: 5m, clip: 2}}")
    drift = [10 + 0.05 * i + (0.5 if i % 2 else -0.5) for i in range(200)]  # readings 1 min apart
    assert "fire" in events(feed(fixed, drift))  # the burn-in's mean is left behind
    assert "fire" not in events(feed(moving, drift))
    assert "fire" in events(feed(moving, [*drift, *[drift[-1] + 3] * 4]))[-4:]
    for out in feed(moving, drift[:8]):
        assert json.loads(json.dumps(out.state)) == out.state


@pytest.mark.parametrize(
    ("leaf", "reason"),
    [
        ("{type: detector, detector: no_such, inputs: [a]}", "unknown detector 'no_such'"),
        ("{type: cusum, input: a, baseline: moving}", "a moving baseline needs half_life"),
        ("{type: cusum, input: a, half_life: 1h}", "a moving baseline needs half_life"),
        ("{type: cusum, input: a, clip: 2}", "clip applies to a moving baseline"),
        ("{type: detector, detector: test_sum_over, inputs: [a]}", "needs two inputs"),
        (
            "{type: detector, detector: test_sum_over, inputs: [a, b], params: {over: x}}",
            "params over",
        ),
        (
            "{type: detector, detector: test_sum_over, inputs: [a, b], params: {over: 1, y: 2}}",
            "params y",
        ),
    ],
)
def test_an_unknown_detector_or_bad_params_disable_the_plan_with_the_reason(
    tmp_path: Any, leaf: str, reason: str
) -> None:
    (tmp_path / "p.yaml").write_text(
        f"""plans:
  - {{id: bad, name: bad, sources: [{{key: k, inputs: {{a: 1, b: 2}}}}], trigger: {leaf},
     actions: [{{type: alarm, severity: blue}}]}}
  - {{id: good, name: good, sources: [{{datastream: 3}}], trigger: {{type: above, value: 1}},
     actions: [{{type: alarm, severity: blue}}]}}
""",
        encoding="utf-8",
    )
    ps = load_plans([tmp_path / "p.yaml"])
    assert [p.id for p in ps.plans] == ["good"]
    (off,) = ps.disabled
    assert off.name == "bad" and reason in off.reason, off.reason
