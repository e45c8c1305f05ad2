"""The engine on both databases: durable timers across a restart, alarms, bad actions, scope."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func, select

from cityops.ledger.models import LedgerEntry
from cityops.rules.caseport import IntakeCasePort
from cityops.rules.evaluate import Reading
from cityops.rules.models import Alarm, RuleState, RuleTimer
from cityops.rules.plans import Disabled, PlanSet, parse_plan
from cityops.rules.ports import SourceInfo
from cityops.rules.service import acknowledge
from tests.citykit import X0, Y0
from tests.rules.conftest import CH4, H2S, Rig


def _plans(*raw: dict[str, object]) -> PlanSet:
    return PlanSet(plans=[parse_plan(r) for r in raw])


WAIT = {
    "id": "wait",
    "name": "still over after an hour",
    "sources": [{"datastream": 7}],
    "trigger": {"type": "above", "value": 10, "clear": 8},
    "actions": [
        {"type": "alarm", "severity": "yellow"},
        {"type": "recheck", "after": "1h", "then": [{"type": "escalate_alarm"}]},
    ],
    "alarm": {"renotify_every": None, "escalate_after": None},
}


def test_a_restart_in_the_middle_of_a_wait_still_fires_on_time(rig: Rig) -> None:
    engine = rig.engine(_plans(WAIT))
    engine.process([rig.reading(7, 12.0)])
    del engine
    rig.advance(minutes=59)
    fresh = rig.engine(_plans(WAIT))
    assert fresh.tick().timers_fired == 0  # not yet
    rig.advance(minutes=1)
    assert fresh.tick().timers_fired == 1
    with rig.sessions() as s:
        alarm = s.execute(select(Alarm)).scalar_one()
        assert (alarm.severity, alarm.state) == ("orange", "active")
        assert s.execute(select(func.count()).select_from(RuleTimer)).scalar() == 0


def test_the_state_survives_a_restart_so_a_value_still_over_does_not_fire_again(rig: Rig) -> None:
    engine = rig.engine(_plans(WAIT))
    assert engine.process([rig.reading(7, 12.0)]).fired == 1
    rig.advance(minutes=1)
    again = rig.engine(_plans(WAIT))
    assert again.process([rig.reading(7, 13.0)]).fired == 0
    with rig.sessions() as s:
        row = s.execute(select(RuleState)).scalar_one()
        assert json.loads(row.state)["on"] is True


def test_an_unacknowledged_alarm_is_renotified_and_escalated_until_acknowledged(rig: Rig) -> None:
    plan = {**WAIT, "actions": WAIT["actions"][:1], "alarm": {"renotify_every": "30m"}}  # type: ignore[index]
    engine = rig.engine(_plans(plan))
    engine.process([rig.reading(7, 12.0)])
    rig.advance(minutes=30)
    engine.tick()
    rig.advance(minutes=30)
    engine.tick()
    with rig.sessions.begin() as s:
        alarm = s.execute(select(Alarm)).scalar_one()
        assert alarm.severity == "orange" and alarm.notify_count == 3
        acknowledge(session=s, alarm_id=alarm.id, who="user:dispatcher", at=rig.clock.now())
    rig.advance(hours=3)
    engine.tick()
    with rig.sessions() as s:
        alarm = s.execute(select(Alarm)).scalar_one()
        assert (alarm.state, alarm.severity, alarm.notify_count) == ("acknowledged", "orange", 3)
    notes = [e for e in rig.events if e.subject == "alarms.notify"]
    assert len(notes) == 3


def test_an_action_that_cannot_run_is_recorded_and_the_rest_still_happen(rig: Rig) -> None:
    plan = {
        **WAIT,
        "actions": [
            {"type": "actuate", "target": "pump", "command": "on"},
            {"type": "alarm", "severity": "red"},
        ],
    }
    engine = rig.engine(_plans(plan))
    engine.process([rig.reading(7, 12.0)])
    with rig.sessions() as s:
        assert s.execute(select(Alarm)).scalar_one().severity == "red"
        failed = s.execute(
            select(LedgerEntry).where(LedgerEntry.action == "rules.action_failed")
        ).scalar_one()
        assert "no actuator 'pump'" in json.loads(failed.payload)["reason"]


def test_readings_on_streams_no_plan_watches_write_nothing(rig: Rig) -> None:
    engine = rig.engine(_plans(WAIT))
    result = engine.process([Reading(9999, rig.clock.now(), 1e6) for _ in range(100)])
    assert result.evaluated == 0
    with rig.sessions() as s:
        assert s.execute(select(func.count()).select_from(RuleState)).scalar() == 0


def test_a_source_whose_unit_differs_from_the_plan_is_not_bound_and_is_reported(rig: Rig) -> None:
    rig.directory.add(SourceInfo(CH4 + 50, "ppm sensor", None, "CH4", "ppm"))
    engine = rig.engine()
    assert any("unit ppm" in p.reason for p in engine.problems)
    assert ("septic-ch4", f"ds:{CH4 + 50}") not in engine.instances
    assert ("septic-ch4", f"ds:{CH4}") in engine.instances


def test_a_schedule_plan_fires_on_its_clock_across_restarts(rig: Rig) -> None:
    plan = {
        "id": "hourly",
        "name": "hourly check",
        "sources": [{"datastream": 7}],
        "schedule": {"every": "1h"},
        "actions": [{"type": "notify", "to": ["duty_officer"], "message": "巡检提醒"}],
    }
    rig.engine(_plans(plan))
    rig.advance(hours=1)
    again = rig.engine(_plans(plan))  # a restart does not add a second timer
    assert again.tick().fired == 1
    rig.advance(hours=1)
    assert again.tick().fired == 1
    notes = [e for e in rig.events if e.subject == "alarms.notify"]
    assert [n.data["message"] for n in notes] == ["巡检提醒", "巡检提醒"]
    with rig.sessions() as s:
        assert s.execute(select(func.count()).select_from(RuleTimer)).scalar() == 1


def test_a_batch_that_fails_changes_nothing_and_can_be_replayed(rig: Rig) -> None:
    class Down(IntakeCasePort):
        def open_case(self, **kw: Any) -> Any:
            raise RuntimeError("case engine unreachable")

    plan = {
        **WAIT,
        "sources": [{"datastream": 7, "lat": Y0 + 0.003, "lng": X0 + 0.003}],
        "actions": [
            {"type": "alarm", "severity": "yellow"},
            {"type": "case", "category": "06010", "description": "积水"},
        ],
    }
    engine = rig.engine(_plans(plan))
    real = engine.executor.cases
    engine.executor.cases = Down(rig.rules)
    reading = rig.reading(7, 12.0)
    with pytest.raises(RuntimeError):
        engine.process([reading])
    assert engine.states == {}
    with rig.sessions() as s:
        assert s.execute(select(func.count()).select_from(Alarm)).scalar() == 0
    engine.executor.cases = real
    assert engine.process([reading]).fired == 1
    with rig.sessions() as s:
        assert s.execute(select(Alarm)).scalar_one().case_id is not None


def test_an_and_across_two_gases_binds_one_instance_per_tank(rig: Rig) -> None:
    both = {
        "id": "both-gases",
        "name": "甲烷与硫化氢同时超限",
        "sources": [{"per_thing": {"ch4": "CH4", "h2s": "H2S"}, "area": "500107"}],
        "trigger": {
            "type": "all",
            "of": [
                {"type": "above", "input": "ch4", "value": 25, "clear": 20},
                {"type": "above", "input": "h2s", "value": 10, "clear": 8},
            ],
        },
        "actions": [{"type": "actuate", "target": "fan", "command": "on"}],
    }
    rig.directory.add(SourceInfo(300, "lonely CH4", 99, "CH4", "%LEL"))  # a thing with one gas
    engine = rig.engine(_plans(both))
    assert [k for _, k in engine.instances] == ["thing:11"]
    engine.process([rig.reading(CH4, 30.0)])
    assert rig.actuator.sent == []
    rig.advance(seconds=10)
    engine.process([rig.reading(H2S, 12.0)])  # H2S on the same tank
    assert [c["command"] for c in rig.actuator.sent] == ["on"]


def test_a_reading_sent_again_after_the_clear_does_not_raise_the_alarm_again(rig: Rig) -> None:
    plain = {
        "id": "plain",
        "name": "积水超限",
        "sources": [{"datastream": 7}],
        "trigger": {"type": "above", "value": 10, "clear": 8},
        "actions": [{"type": "alarm", "severity": "yellow"}],
        "on_clear": [{"type": "clear_alarm"}],
        "alarm": {"renotify_every": None, "escalate_after": None},
    }
    engine = rig.engine(_plans(plain))
    breach = rig.reading(7, 12.0)
    assert engine.process([breach]).fired == 1
    rig.advance(minutes=1)
    engine.process([rig.reading(7, 5.0)])
    assert engine.process([breach]).fired == 0  # a retry or a redelivery of the first batch
    with rig.sessions() as s:
        assert s.execute(select(Alarm.state)).scalars().all() == ["cleared"]


def test_a_device_added_while_running_is_bound_and_the_others_keep_their_state(
    rig: Rig,
) -> None:
    plain = {
        "id": "gas",
        "name": "甲烷超限",
        "sources": [{"selector": {"observed_property": "CH4"}}],
        "trigger": {"type": "above", "value": 25, "clear": 20},
        "actions": [{"type": "alarm", "severity": "orange"}],
        "on_clear": [{"type": "clear_alarm"}],
    }
    engine = rig.engine(_plans(plain))
    assert engine.process([rig.reading(CH4, 30.0)]).fired == 1
    rig.directory.add(SourceInfo(300, "2号化粪池甲烷", 12, "CH4", "%LEL"))
    assert engine.process([rig.reading(300, 30.0)]).evaluated == 0  # not bound yet
    assert engine.rebind() == (1, 0)
    rig.advance(minutes=1)
    assert engine.process([rig.reading(300, 31.0)]).fired == 1  # the new tank fires
    assert engine.process([rig.reading(CH4, 32.0)]).fired == 0  # the first is still on
    with rig.sessions() as s:
        assert sorted(s.execute(select(Alarm.instance)).scalars()) == ["ds:101", "ds:300"]


def test_a_reloaded_plan_set_takes_effect_and_unchanged_plans_keep_their_state(rig: Rig) -> None:
    low = {
        "id": "gas",
        "name": "甲烷超限",
        "sources": [{"datastream": CH4}],
        "trigger": {"type": "above", "value": 25, "clear": 20},
        "actions": [{"type": "alarm", "severity": "orange"}],
    }
    h2s = {**low, "id": "h2s", "name": "硫化氢超限", "sources": [{"datastream": H2S}]}
    engine = rig.engine(_plans(low, h2s))
    assert engine.process([rig.reading(CH4, 30.0), rig.reading(H2S, 30.0)]).fired == 2
    plans = _plans({**low, "trigger": {"type": "above", "value": 40, "clear": 35}}, h2s)
    plans.disabled.append(Disabled("typo", "unknown trigger type 'abov'"))  # as load_plans says
    assert engine.reload(plans) == (0, 0)
    assert engine.plan("gas").trigger.value == 40  # type: ignore[union-attr]
    assert [d.name for d in engine.disabled] == ["typo"]
    rig.advance(minutes=1)
    # "gas" changed: its instance starts afresh (off), so 41 over the new 40 fires again;
    # "h2s" did not: it is still on, and 31 changes nothing.
    assert engine.process([rig.reading(CH4, 41.0)]).fired == 1
    assert engine.process([rig.reading(H2S, 31.0)]).fired == 0
