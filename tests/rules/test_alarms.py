"""The alarm lifecycle, pure: one active alarm, flapping, re-notification and escalation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cityops.errors import Conflict
from cityops.rules import alarms
from cityops.rules.alarms import AlarmState
from cityops.rules.plans import AlarmPolicy

T0 = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
POLICY = AlarmPolicy(renotify_every=1800, escalate_after=3600, flap_window=600, flap_limit=2)


def m(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_raise_escalate_and_equal_severity_changes_nothing() -> None:
    d = alarms.raise_alarm(None, severity="yellow", message="gas", now=T0, policy=POLICY)
    assert d.new_row and d.notify and d.alarm is not None and d.alarm.state is AlarmState.active
    same = alarms.raise_alarm(d.alarm, severity="blue", message="", now=m(1), policy=POLICY)
    assert same.event == "unchanged" and not same.notify
    up = alarms.raise_alarm(d.alarm, severity="red", message="", now=m(2), policy=POLICY)
    assert up.event == "escalated" and up.notify and not up.new_row
    assert up.alarm is not None and up.alarm.severity == "red"


def test_acknowledged_alarms_stop_renotifying_and_cannot_be_acknowledged_twice() -> None:
    a = alarms.raise_alarm(None, severity="yellow", message="", now=T0, policy=POLICY).alarm
    assert a is not None
    acked = alarms.acknowledge(a, who="user:dispatcher", now=m(5)).alarm
    assert acked is not None and acked.state is AlarmState.acknowledged
    assert alarms.unacknowledged(acked, now=m(120), policy=POLICY).event == "unchanged"
    with pytest.raises(Conflict):
        alarms.acknowledge(acked, who="x", now=m(6))


def test_nobody_acknowledging_gets_renotified_then_escalated_up_to_red() -> None:
    a = alarms.raise_alarm(None, severity="yellow", message="", now=T0, policy=POLICY).alarm
    d = alarms.unacknowledged(a, now=m(30), policy=POLICY)
    assert d.event == "renotified" and d.notify and d.alarm is not None
    assert d.alarm.notify_count == 2
    d = alarms.unacknowledged(d.alarm, now=m(60), policy=POLICY)
    assert d.event == "escalated" and d.alarm is not None and d.alarm.severity == "orange"
    d = alarms.unacknowledged(d.alarm, now=m(120), policy=POLICY)
    assert d.alarm is not None and d.alarm.severity == "red"
    d = alarms.unacknowledged(d.alarm, now=m(180), policy=POLICY)
    assert d.event == "renotified" and d.alarm is not None and d.alarm.severity == "red"


def test_flapping_reuses_the_alarm_and_stops_notifying() -> None:
    a = alarms.raise_alarm(None, severity="yellow", message="", now=T0, policy=POLICY).alarm
    events = []
    t = 0.0
    for _ in range(3):
        t += 1
        a = alarms.clear(a, now=m(t)).alarm
        t += 1
        d = alarms.raise_alarm(a, severity="yellow", message="", now=m(t), policy=POLICY)
        assert not d.new_row  # the same alarm, active again
        events.append(d.notify)
        a = d.alarm
    assert events == [True, False, False]
    assert a is not None and a.flapping and a.flaps == 3
    a = alarms.clear(a, now=m(t + 1)).alarm
    later = alarms.raise_alarm(a, severity="yellow", message="", now=m(t + 30), policy=POLICY)
    assert later.new_row and later.notify  # clear for a whole window: a new alarm
