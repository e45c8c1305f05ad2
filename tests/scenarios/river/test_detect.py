"""The shipped river plans on hand-made station series: which pollution events fire, which do not.

Classes by GB 3838 river limits; NH3-N alone moves the class here (≤ 0.5 II, ≤ 1.0 III, ≤ 1.5
IV, ≤ 2.0 V). The section's target is class III. Samples are hourly unless a test says otherwise.
"""

from __future__ import annotations

import pytest

from cityops.rules.evaluate import on_timer
from cityops.rules.plans import load_plans
from tests.scenarios.river.detect_kit import (
    FACTS,
    HOUR,
    T0,
    events,
    feed,
    of_class,
    plan,
    sample,
)


def test_every_shipped_river_plan_loads_with_its_reference_numbers() -> None:
    ps = load_plans()
    assert not ps.disabled
    river = {p.id: p for p in ps.plans if p.id.startswith("river-")}
    assert len(river) == 6
    assert river["river-class-drop"].params["drop"] == 2  # hub rule §1d
    assert river["river-class-drop"].params["samples"] == 2
    cusum = river["river-cusum-nh3n-do"].params
    assert (cusum["h"], cusum["burn_in"]) == (8, 50)  # ffstream defaults
    # k and the moving baseline are local defaults from bench_river_detect (autocorrelated data).
    assert (cusum["k"], cusum["baseline"]) == (1.0, "moving")
    assert river["river-target-breach"].params["days"] == 3
    assert all(p.unless is not None for p in river.values())  # the rain flag everywhere
    assert all(a.category == "06025" for p in river.values() for a in p.actions if a.type == "case")


def test_a_two_class_drop_fires_and_holds_until_the_target_is_met() -> None:
    cp = plan("river-class-drop")
    outs = feed(cp, [of_class("II"), of_class("II"), of_class("IV"), of_class("IV"),
                     of_class("III"), of_class("II")])  # fmt: skip
    # Confirmed on the second sample at class IV (a one-sample spike is no discharge).
    assert events(outs) == [None, None, None, "fire", "clear", None]
    fire = outs[3].trace
    assert fire is not None and fire["conditions"][0]["state"]["d"]["class"] == "IV"
    assert [a["kind"] for a in fire["actions"]] == ["alarm", "case", "notify"]


def test_a_two_class_drop_over_two_samples_fires_but_a_slow_slide_does_not() -> None:
    cp = plan("river-class-drop")
    two = [of_class("II"), of_class("III"), of_class("IV"), of_class("IV")]
    assert events(feed(cp, two))[-1] == "fire"
    slide = [of_class("II"), of_class("III"), of_class("III"), of_class("III"), of_class("IV")]
    assert "fire" not in events(feed(cp, slide))  # one class at a time: never 2 within 2


def test_a_one_sample_spike_of_a_probe_is_not_taken_for_a_drop() -> None:
    cp = plan("river-class-drop")
    spike = [of_class("II"), of_class("II"), of_class("劣V"), of_class("II"), of_class("II")]
    assert "fire" not in events(feed(cp, spike))
    at_once = plan("river-class-drop", confirm=1)
    assert events(feed(at_once, spike))[2] == "fire"


def test_a_one_class_drop_does_not_fire() -> None:
    cp = plan("river-class-drop")
    assert "fire" not in events(feed(cp, [of_class("II"), of_class("III"), of_class("II")]))
    assert "fire" not in events(feed(cp, [of_class("III"), of_class("IV"), of_class("IV")]))


def test_rain_keeps_a_class_drop_from_firing_until_the_rain_window_has_passed() -> None:
    cp = plan("river-class-drop")
    rainy = [of_class("II"), of_class("II", rainfall=12.0), of_class("V"), of_class("V")]
    outs = feed(cp, rainy)
    assert "fire" not in events(outs)
    # Still worse than the target when the 24 h rain window has passed: it fires then (by timer).
    (window,) = [t for o in outs for t in o.timers if t.kind.startswith("leaf:")]
    assert window.fire_at == T0 + HOUR + 24 * HOUR
    late = on_timer(cp, outs[-1].state, window, window.fire_at)
    assert late.trace is not None and late.trace["event"] == "fire"


def test_light_rain_below_the_flag_does_not_suppress() -> None:
    cp = plan("river-class-drop")
    outs = feed(cp, [of_class("II"), of_class("II", rainfall=1.0), of_class("V"), of_class("V")])
    assert events(outs)[-1] == "fire"


def test_a_physically_impossible_value_is_ignored_not_taken_for_a_drop() -> None:
    cp = plan("river-class-drop")
    outs = feed(cp, [of_class("II"), sample(do=99.0), of_class("II")])  # DO over its 20 mg/L max
    assert "fire" not in events(outs)


def _baseline(n: int = 50) -> list[dict[str, float]]:
    """A quiet station: NH3-N 0.28/0.32, DO 6.9/7.1, conductivity 395/405, turbidity 9/11."""
    return [
        sample(nh3n=0.3 + d * 0.02, do=7.0 - d * 0.1, conductivity=400 + d * 5, turbidity=10 + d)
        for d in [1, -1] * (n // 2)
    ]


def test_cusum_fires_when_nh3n_rises_and_do_falls_together() -> None:
    cp = plan("river-cusum-nh3n-do")
    outs = feed(cp, [*_baseline(), sample(nh3n=0.5, do=6.0)])
    assert events(outs)[-1] == "fire"
    conditions = outs[-1].trace["conditions"]  # type: ignore[index]
    assert [(c["input"], c["state"]["dir"]) for c in conditions[:2]] == [
        ("nh3n", "up"), ("do", "down"),
    ]  # fmt: skip


def test_cusum_does_not_fire_on_one_parameter_alone() -> None:
    cp = plan("river-cusum-nh3n-do")
    outs = feed(cp, [*_baseline(), sample(nh3n=0.5), sample(nh3n=0.5), sample(nh3n=0.5)])
    assert "fire" not in events(outs)
    assert outs[-3].state["L"][0]["on"]  # NH3-N did alarm: one parameter is not enough


def test_cusum_needs_its_burn_in_and_rain_suppresses_it() -> None:
    cp = plan("river-cusum-nh3n-do")
    early = feed(cp, [*_baseline(20), sample(nh3n=0.9, do=5.0)])
    assert "fire" not in events(early)  # still learning the baseline
    rain = feed(cp, [*_baseline(), sample(rainfall=20.0), sample(nh3n=0.5, do=6.0)])
    assert "fire" not in events(rain)  # runoff an hour after the rain
    dry = feed(cp, [*_baseline(), sample(), sample(nh3n=0.5, do=6.0)])
    assert events(dry)[-1] == "fire"


def test_conductivity_with_turbidity_and_organics_with_do_are_co_moving_pairs() -> None:
    pair = plan("river-cusum-conductivity-turbidity")
    assert events(feed(pair, [*_baseline(), sample(conductivity=600, turbidity=40)]))[-1] == "fire"
    assert "fire" not in events(feed(pair, [*_baseline(), sample(conductivity=600)]))
    organic = plan("river-cusum-organic-do")
    quiet = [s | {"codmn": 3.0 + (0.1 if s["do"] < 7 else -0.1)} for s in _baseline()]
    assert events(feed(organic, [*quiet, sample(codmn=5.0, do=6.0)]))[-1] == "fire"


def test_a_cusum_event_stays_open_while_the_class_is_worse_than_the_target() -> None:
    cp = plan("river-cusum-nh3n-do")
    outs = feed(cp, [*_baseline(), sample(nh3n=1.8, do=4.0)])  # class V: worse than III
    assert events(outs)[-1] == "fire"
    latch = [t for t in outs[-1].timers if t.kind.startswith("leaf:")]
    back = feed(cp, [of_class("V")] * 2, state=outs[-1].state, start=T0 + 50 * HOUR)
    late = max(latch, key=lambda t: t.fire_at)
    held = on_timer(cp, back[-1].state, late, late.fire_at + 1)
    assert held.trace is None  # the latch ran out but the water is still class V: stays open
    clean = feed(cp, [of_class("II")], state=held.state, start=late.fire_at + 2)
    assert events(clean) == ["clear"]


@pytest.mark.parametrize(
    ("bad", "grade"),
    [({"transparency": 20.0}, "light"), ({"do": 0.1, "orp": -250.0}, "severe")],
)
def test_black_odorous_onset_fires_and_clears_when_no_longer_black_odorous(
    bad: dict[str, float], grade: str
) -> None:
    cp = plan("river-black-odorous")
    outs = feed(cp, [sample(), sample(**bad), sample(**bad), sample()])
    assert events(outs) == [None, None, "fire", "clear"]  # on the second sample in a row
    assert outs[2].trace["conditions"][0]["state"]["d"]["grade"] == grade  # type: ignore[index]
    spike = feed(cp, [sample(), sample(**bad), sample(), sample(**bad), sample()])
    assert "fire" not in events(spike)


def test_a_severe_only_plan_ignores_light_black_odour() -> None:
    cp = plan("river-black-odorous", level="severe")
    assert "fire" not in events(feed(cp, [sample()] + [sample(transparency=20.0)] * 2))


def test_target_breach_fires_after_n_days_without_a_break() -> None:
    cp = plan("river-target-breach")
    half_day = 12 * HOUR
    breach = [of_class("IV")] * 7  # 0, 12 h, … 72 h
    assert events(feed(cp, breach, step=half_day)) == [None] * 6 + ["fire"]
    broken = [of_class("IV")] * 3 + [of_class("III")] + [of_class("IV")] * 6
    assert "fire" not in events(feed(cp, broken, step=half_day))
    quick = plan("river-target-breach", days=1)
    assert events(feed(quick, breach[:3], step=half_day)) == [None, None, "fire"]


def test_the_target_comes_from_the_section_facts() -> None:
    cp = plan("river-target-breach", days=0)
    assert events(feed(cp, [of_class("IV")], facts=FACTS)) == ["fire"]
    assert events(feed(cp, [of_class("IV")], facts={**FACTS, "target": "IV"})) == [None]
