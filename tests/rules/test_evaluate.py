"""Pure evaluation: hand-made sequences and properties, no database."""

from __future__ import annotations

import itertools
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from cityops.rules.evaluate import Compiled, Outcome, Timer, initial, on_reading, on_timer
from cityops.rules.plans import parse_plan

T0 = 1_700_000_000.0


def compile_(text: str, **extra: Any) -> Compiled:
    raw = yaml.safe_load(text)
    raw.setdefault("id", "p")
    raw.setdefault("name", "test plan")
    raw.setdefault("sources", [{"datastream": 1}])
    raw.setdefault("actions", [{"type": "alarm", "severity": "yellow"}])
    raw.update(extra)
    return Compiled(parse_plan(raw))


def feed(
    cp: Compiled, values: list[float], step: float = 60.0, name: str = "value"
) -> list[Outcome]:
    state = initial(cp, "ds:1")
    outs = []
    for i, v in enumerate(values):
        out = on_reading(cp, state, name, T0 + i * step, v, T0 + i * step)
        state = out.state
        outs.append(out)
    return outs


def events(outs: list[Outcome]) -> list[str | None]:
    return [o.trace["event"] if o.trace else None for o in outs]


def test_above_fires_once_on_the_crossing_and_clears_below_the_band() -> None:
    cp = compile_("trigger: {type: above, value: 25, clear: 20}")
    outs = feed(cp, [10, 26, 30, 24, 22, 19, 21, 25])
    assert events(outs) == [None, "fire", None, None, None, "clear", None, "fire"]
    fire = outs[1].trace
    assert fire is not None and fire["reading"]["value"] == 26
    assert fire["conditions"][0]["value"] == 25 and fire["conditions"][0]["holds"]
    assert [a["kind"] for a in fire["actions"]] == ["alarm"]
    clear = outs[5].trace
    assert clear is not None and clear["reading"]["value"] == 19
    assert clear["conditions"][0]["holds"] is False


def test_below_with_hysteresis() -> None:
    cp = compile_("trigger: {type: below, value: 19.5, clear: 20}")
    assert events(feed(cp, [21, 19.4, 19.8, 20.1, 19.5])) == [None, "fire", None, "clear", "fire"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=100, allow_nan=False), max_size=60))
def test_hysteresis_never_flaps_inside_the_band(values: list[float]) -> None:
    """Between two events the other side of the band was reached: never fire→clear inside it."""
    cp = compile_("trigger: {type: above, value: 25, clear: 20}")
    outs = feed(cp, values)
    for v, out in zip(values, outs, strict=True):
        ev = out.trace["event"] if out.trace else None
        if ev == "fire":
            assert v >= 25
        if ev == "clear":
            assert v < 20
        if 20 <= v < 25:
            assert ev is None
    evs = [e for e in events(outs) if e]
    assert all(a != b for a, b in itertools.pairwise(evs))  # alternate fire/clear


def test_sustained_fires_only_after_the_duration_by_timer() -> None:
    cp = compile_("trigger: {type: above, value: 25, for: 10m}")
    state = initial(cp, "ds:1")
    out = on_reading(cp, state, "value", T0, 30, T0)
    assert out.trace is None and out.timers and out.timers[0].fire_at == T0 + 600
    timer = out.timers[0]
    late = on_timer(cp, out.state, timer, T0 + 600)
    assert late.trace is not None and late.trace["event"] == "fire"
    # A dip before the duration cancels the timer and nothing fires.
    dip = on_reading(cp, out.state, "value", T0 + 60, 10, T0 + 60)
    assert dip.cancel == ["leaf:0"]
    assert on_timer(cp, dip.state, timer, T0 + 600).trace is None


def test_rate_of_change() -> None:
    cp = compile_("trigger: {type: rate, per: 1m, above: 5}")
    assert events(feed(cp, [10, 12, 20, 21], step=60)) == [None, None, "fire", "clear"]


def test_n_of_m() -> None:
    cp = compile_("trigger: {type: n_of_m, n: 2, m: 3, above: 20}")
    # 2 of the last 3: [25, 10, 25] fires; one more low reading leaves only one hit.
    assert events(feed(cp, [25, 10, 10, 25, 10, 25, 10, 10])) == [
        None, None, None, None, None, "fire", "clear", None,
    ]  # fmt: skip


def test_no_data_goes_offline_by_timer_and_back_online_with_a_reading() -> None:
    cp = compile_("trigger: {type: no_data, for: 15m}")
    state = initial(cp, "ds:1")
    first = on_reading(cp, state, "value", T0, 1, T0)
    assert [t.fire_at for t in first.timers] == [T0 + 900]
    second = on_reading(cp, first.state, "value", T0 + 300, 1, T0 + 300)
    assert second.timers == []  # readings only move the last-seen time
    early = on_timer(cp, second.state, first.timers[0], T0 + 900)
    assert early.trace is None and [t.fire_at for t in early.timers] == [T0 + 1200]
    off = on_timer(cp, early.state, early.timers[0], T0 + 1200)
    assert off.trace is not None and off.trace["event"] == "fire"
    back = on_reading(cp, off.state, "value", T0 + 5000, 1, T0 + 5000)
    assert back.trace is not None and back.trace["event"] == "clear"


def test_sensor_faults_flat_line_and_jump() -> None:
    cp = compile_(
        "trigger: {type: any, of: [{type: flat_line, for: 1h}, {type: jump, max_step: 50}]}"
    )
    assert events(feed(cp, [5, 5, 5, 6], step=1800)) == [None, None, "fire", "clear"]
    assert events(feed(cp, [5, 6, 90, 91], step=60)) == [None, None, "fire", "clear"]


def test_and_across_two_datastreams() -> None:
    cp = compile_(
        "trigger: {type: all, of: [{type: above, input: ch4, value: 25}, "
        "{type: above, input: h2s, value: 10}]}",
        sources=[{"key": "tank-1", "inputs": {"ch4": 1, "h2s": 2}}],
    )
    state = initial(cp, "tank-1")
    a = on_reading(cp, state, "ch4", T0, 30, T0)
    assert a.trace is None
    b = on_reading(cp, a.state, "h2s", T0 + 1, 12, T0 + 1)
    assert b.trace is not None and b.trace["event"] == "fire"
    c = on_reading(cp, b.state, "ch4", T0 + 2, 10, T0 + 2)
    assert c.trace is not None and c.trace["event"] == "clear"


def test_recheck_runs_only_if_the_same_episode_is_still_firing() -> None:
    cp = compile_(
        "trigger: {type: above, value: 25, clear: 20}",
        actions=[
            {"type": "alarm", "severity": "orange"},
            {"type": "recheck", "after": "1h", "then": [{"type": "alarm", "severity": "red"}]},
        ],
    )
    state = initial(cp, "ds:1")
    fire = on_reading(cp, state, "value", T0, 30, T0)
    (timer,) = fire.timers
    assert timer.kind == "recheck:0" and timer.fire_at == T0 + 3600
    still = on_timer(cp, fire.state, timer, T0 + 3600)
    assert [c.action.severity for c in still.calls] == ["red"]
    cleared = on_reading(cp, fire.state, "value", T0 + 60, 10, T0 + 60)
    assert "recheck:0" in cleared.cancel
    assert on_timer(cp, cleared.state, timer, T0 + 3600).calls == []


def test_a_late_or_repeated_reading_is_evaluated_once() -> None:
    cp = compile_("trigger: {type: rate, per: 1m, above: 5}")
    state = initial(cp, "ds:1")
    a = on_reading(cp, state, "value", T0 + 60, 10, T0)
    b = on_reading(cp, a.state, "value", T0, 100, T0)
    assert not b.changed and b.state is a.state


def test_schedule_every_and_cron() -> None:
    cp = compile_("schedule: {every: 1h}")
    out = on_timer(cp, initial(cp, "ds:1"), Timer(T0, "p", "ds:1", "schedule"), T0 + 5)
    assert out.calls and out.timers[0].fire_at == (T0 // 3600 + 1) * 3600
    daily = compile_('schedule: {cron: "0 8 * * 1-5"}')
    nxt = on_timer(daily, initial(daily, "ds:1"), Timer(T0, "p", "ds:1", "schedule"), T0)
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    at = datetime.fromtimestamp(nxt.timers[0].fire_at, UTC).astimezone(ZoneInfo("Asia/Shanghai"))
    assert (at.hour, at.minute) == (8, 0) and at.isoweekday() <= 5


def test_state_is_json_serialisable() -> None:
    import json

    cp = compile_(
        "trigger: {type: any, of: [{type: above, value: 25, for: 5m}, {type: n_of_m, n: 2, m: 3, "
        "above: 20}, {type: no_data, for: 1h}, {type: flat_line, for: 1h}, {type: rate, above: 1}]}"
    )
    for out in feed(cp, [1, 30, 30, 2, 40]):
        assert json.loads(json.dumps(out.state)) == out.state


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(min_value=-50, max_value=150, allow_nan=False), max_size=60),
    st.sampled_from(["above", "below"]),
)
def test_the_plain_threshold_fast_path_decides_like_the_general_path(
    values: list[float], side: str
) -> None:
    clear = 20 if side == "above" else 30
    leaf = f"{{type: {side}, value: 25, clear: {clear}}}"
    fast = compile_(f"trigger: {leaf}")
    general = compile_(f"trigger: {{type: any, of: [{leaf}]}}")
    assert fast.band is not None and general.band is None
    assert events(feed(fast, values)) == events(feed(general, values))
