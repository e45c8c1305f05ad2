"""Plans are validated data: a bad plan is reported with its reason and disabled, never fatal."""

from __future__ import annotations

from pathlib import Path

import pytest

from cityops.rules.plans import load_plans, parse_plan, seconds

GOOD = """
  - id: good
    name: ok
    sources: [{datastream: 1}]
    trigger: {type: above, value: 5}
    actions: [{type: alarm, severity: red}]
"""


def _load(tmp_path: Path, body: str) -> tuple[list[str], dict[str, str]]:
    path = tmp_path / "plans.yaml"
    path.write_text("plans:\n" + body, encoding="utf-8")
    ps = load_plans([path])
    return [p.id for p in ps.plans], {d.name: d.reason for d in ps.disabled}


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ("trigger: {type: abov, value: 5}", "does not match any of the expected tags"),
        ("trigger: {type: above, value: 5, clear: 9}", "clear (9.0) must not exceed value"),
        ("trigger: {type: above, value: $nope}", "unknown parameter $nope"),
        ("trigger: {type: no_data, for: soon}", "not a duration"),
        ("trigger: {type: n_of_m, n: 4, m: 3, above: 1}", "n (4) exceeds m (3)"),
        ('schedule: {cron: "61 * * * *"}', "outside 0-59"),
        ("trigger: {type: above, value: 5}\n    verification: {hold: 10m}", "needs a case action"),
    ],
)
def test_a_bad_plan_is_disabled_with_its_reason_and_the_others_load(
    tmp_path: Path, bad: str, reason: str
) -> None:
    body = f"""
  - id: broken
    name: typo
    sources: [{{datastream: 1}}]
    {bad}
    actions: [{{type: alarm, severity: red}}]
{GOOD}"""
    ids, disabled = _load(tmp_path, body)
    assert ids == ["good"]
    assert reason in disabled["broken"], disabled


def test_an_unreadable_file_and_a_duplicate_id_are_reported(tmp_path: Path) -> None:
    ids, disabled = _load(tmp_path, GOOD + GOOD)
    assert ids == ["good"] and "duplicate plan id" in disabled["good"]
    (tmp_path / "junk.yaml").write_text("plans: [unclosed", encoding="utf-8")
    ps = load_plans([tmp_path])
    assert "junk.yaml" in {d.name for d in ps.disabled}


def test_parameters_have_defaults_and_deployments_override_them() -> None:
    raw = {
        "id": "p",
        "name": "n",
        "params": {"at": 25},
        "sources": [{"datastream": 1}],
        "trigger": {"type": "above", "value": "$at"},
        "actions": [{"type": "alarm", "severity": "red"}],
    }
    assert parse_plan(raw).trigger.value == 25  # type: ignore[union-attr]
    assert parse_plan(raw, {"p": {"at": 30}}).trigger.value == 30  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="unknown parameters"):
        parse_plan(raw, {"p": {"typo": 1}})


def test_the_shipped_septic_plans_carry_the_reference_set_points() -> None:
    ps = load_plans()
    assert not ps.disabled
    plans = {p.id: p for p in ps.plans}
    assert plans["septic-ch4"].params["fan_at"] == 25  # GB/T 50493 level 1 (%LEL)
    assert plans["septic-ch4-critical"].params["red_at"] == 50  # level 2
    assert plans["septic-h2s"].params["fan_at"] == 20  # H2S level 2, mg/m³
    assert plans["septic-h2s-red"].params["red_at"] == 43  # proposed, a parameter
    assert plans["septic-o2-low"].params["low"] == 19.5  # CJJ 6-2009


def test_durations() -> None:
    assert [seconds(x) for x in ("90s", "15m", "1h", "2d", 5)] == [90, 900, 3600, 172800, 5]
    for bad in ("0m", "1 week", True, -1):
        with pytest.raises(ValueError):
            seconds(bad)
