"""The alarm lifecycle, pure: active → acknowledged → cleared, one active alarm per (plan, source).

Flapping: an alarm raised again within ``flap_window`` of its clearing is the *same* alarm made
active again (no new row); after ``flap_limit`` such returns it is marked flapping and stops
notifying until it stays clear for a whole window. Nobody acknowledging an active alarm gets it
re-notified every ``renotify_every`` and raised one severity level after ``escalate_after``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from cityops.errors import Conflict
from cityops.rules.plans import SEVERITIES, AlarmPolicy


class AlarmState(enum.StrEnum):
    active = "active"
    acknowledged = "acknowledged"
    cleared = "cleared"


def rank(severity: str) -> int:
    return SEVERITIES.index(severity)


@dataclass(frozen=True, slots=True)
class AlarmView:
    """What the lifecycle needs of an alarm (the engine maps it to and from the table)."""

    state: AlarmState
    severity: str
    raised_at: datetime
    message: str = ""
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    cleared_at: datetime | None = None
    escalated_at: datetime | None = None
    last_notified_at: datetime | None = None
    notify_count: int = 0
    flaps: int = 0
    flapping: bool = False


@dataclass(frozen=True, slots=True)
class Decision:
    """The alarm after the step, what happened, whether to notify, when to look again."""

    alarm: AlarmView | None
    event: str  # raised | reactivated | escalated | unchanged | cleared | acknowledged | renotified
    notify: bool = False
    new_row: bool = False
    check_at: datetime | None = None


def _check_at(policy: AlarmPolicy, now: datetime) -> datetime | None:
    steps = [s for s in (policy.renotify_every, policy.escalate_after) if s]
    return now + timedelta(seconds=min(steps)) if steps else None


def raise_alarm(
    current: AlarmView | None, *, severity: str, message: str, now: datetime, policy: AlarmPolicy
) -> Decision:
    """Raise, re-activate (flapping) or escalate; an equal or lower severity changes nothing."""
    if current is None or current.state is AlarmState.cleared:
        window = timedelta(seconds=policy.flap_window)
        if current is not None and current.cleared_at and now - current.cleared_at <= window:
            flaps = current.flaps + 1
            flapping = current.flapping or flaps >= policy.flap_limit
            alarm = replace(
                current,
                state=AlarmState.active,
                severity=max(severity, current.severity, key=rank),
                cleared_at=None,
                acknowledged_at=None,
                acknowledged_by=None,
                flaps=flaps,
                flapping=flapping,
                message=message or current.message,
            )
            return _notified(alarm, "reactivated", not flapping, now, policy)
        alarm = AlarmView(AlarmState.active, severity, now, message)
        return replace(_notified(alarm, "raised", True, now, policy), new_row=True)
    if rank(severity) <= rank(current.severity):
        return Decision(current, "unchanged")
    alarm = replace(
        current,
        state=AlarmState.active,
        severity=severity,
        escalated_at=now,
        acknowledged_at=None,
        acknowledged_by=None,
        message=message or current.message,
    )
    return _notified(alarm, "escalated", not current.flapping, now, policy)


def escalate(
    current: AlarmView | None, *, to: str | None, now: datetime, policy: AlarmPolicy
) -> Decision:
    """One level up (or to ``to``); nothing to escalate without an open alarm."""
    if current is None or current.state is AlarmState.cleared:
        return Decision(current, "unchanged")
    target = to or SEVERITIES[min(rank(current.severity) + 1, len(SEVERITIES) - 1)]
    return raise_alarm(current, severity=target, message="", now=now, policy=policy)


def clear(current: AlarmView | None, *, now: datetime) -> Decision:
    if current is None or current.state is AlarmState.cleared:
        return Decision(current, "unchanged")
    return Decision(replace(current, state=AlarmState.cleared, cleared_at=now), "cleared")


def acknowledge(current: AlarmView, *, who: str, now: datetime) -> Decision:
    """An operator takes the alarm: re-notification and escalation stop."""
    if current.state is not AlarmState.active:
        raise Conflict(f"the alarm is {current.state.value}", code="alarm_not_active")
    alarm = replace(
        current, state=AlarmState.acknowledged, acknowledged_at=now, acknowledged_by=who
    )
    return Decision(alarm, "acknowledged")


def unacknowledged(current: AlarmView | None, *, now: datetime, policy: AlarmPolicy) -> Decision:
    """The alarm's check is due: escalate or re-notify if it is still active and unacknowledged."""
    if current is None or current.state is not AlarmState.active:
        return Decision(current, "unchanged")
    since = current.escalated_at or current.raised_at
    top = rank(current.severity) == len(SEVERITIES) - 1
    if (
        policy.escalate_after
        and not top
        and now - since >= timedelta(seconds=policy.escalate_after)
    ):
        up = SEVERITIES[rank(current.severity) + 1]
        alarm = replace(current, severity=up, escalated_at=now)
        return _notified(alarm, "escalated", not current.flapping, now, policy)
    last = current.last_notified_at or current.raised_at
    if policy.renotify_every and now - last >= timedelta(seconds=policy.renotify_every):
        return _notified(current, "renotified", not current.flapping, now, policy)
    return Decision(current, "unchanged", check_at=_check_at(policy, last))


def _notified(
    alarm: AlarmView, event: str, notify: bool, now: datetime, policy: AlarmPolicy
) -> Decision:
    if notify:
        alarm = replace(alarm, last_notified_at=now, notify_count=alarm.notify_count + 1)
    return Decision(alarm, event, notify=notify, check_at=_check_at(policy, now))
