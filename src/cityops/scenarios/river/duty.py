"""巡河 duty: how often each chief level patrols, and whether a chief's section is due or overdue.

The rules are validated data (``data/patrol_duty.yaml``): one entry per chief level with a
calendar period (week, 旬, month, quarter). A bad entry is reported in ``DutyRules.errors`` and
disabled; it never stops the others.

``duty`` is pure. Given the period, the day the chief took the post, the day of his last patrol
of the section and today (all local dates):

- the first period with a duty is the first that starts on or after the appointment;
- ``done``: he patrolled in the current period; the next patrol is due by the next period's end;
- ``due``: not yet in this period, and no earlier period missed; due by this period's end;
- ``overdue``: the earliest period after his last patrol (or his first period) ended without
  one; ``overdue_days`` counts the days since that period's last day, ``missed_periods`` the
  whole periods missed since;
- ``not_yet``: his first period has not begun.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml

from cityops.scenarios.river.models import ChiefLevel
from cityops.validated import parse_each

DEFAULT_PATH = Path(__file__).parent / "data" / "patrol_duty.yaml"


class Every(enum.StrEnum):
    week = "week"  # 每周, Monday to Sunday
    dekad = "dekad"  # 每旬: 1–10, 11–20, 21–end of month
    month = "month"  # 每月
    quarter = "quarter"  # 每季度


class Status(enum.StrEnum):
    done = "done"
    due = "due"
    overdue = "overdue"
    not_yet = "not_yet"


# Worst first: how a chief's sections sum up to one status.
STATUS_ORDER = (Status.overdue, Status.due, Status.done, Status.not_yet)


@dataclass(frozen=True, slots=True)
class DutyRule:
    level: ChiefLevel
    every: Every
    name: str


@dataclass(frozen=True, slots=True)
class DutyRules:
    rules: dict[ChiefLevel, DutyRule]
    errors: tuple[str, ...] = ()


def _parse_rule(raw: object) -> DutyRule:
    if not isinstance(raw, Mapping):
        raise ValueError("a duty is a mapping with level and every")
    unknown = set(raw) - {"level", "every", "name"}
    if unknown:
        raise ValueError(f"unknown fields {sorted(unknown)}")
    level, every = raw.get("level"), raw.get("every")
    if level not in ChiefLevel.__members__.values():
        raise ValueError(f"level {level!r} is not one of {[lv.value for lv in ChiefLevel]}")
    if every not in Every.__members__.values():
        raise ValueError(f"every {every!r} is not one of {[e.value for e in Every]}")
    name = raw.get("name")
    if name is not None and not isinstance(name, str):
        raise ValueError("name must be text")
    return DutyRule(ChiefLevel(str(level)), Every(str(every)), name or f"{level} {every}")


def parse_rules(doc: Any) -> DutyRules:
    """Validate a loaded YAML document; bad entries are reported and left out."""
    raw = doc.get("duties") if isinstance(doc, Mapping) else None
    if not isinstance(raw, list):
        return DutyRules({}, ("duties: missing or not a list; no patrol duty applies",))
    good, errors = parse_each(
        raw,
        section="duties",
        key_field="level",
        parse=_parse_rule,
        key=lambda r: r.level.value,
        dropped="disabled",
    )
    return DutyRules({r.level: r for r in good}, tuple(errors))


def load_rules(path: Path | None = None) -> DutyRules:
    """Read the duty rules; an unreadable file is reported, never fatal."""
    source = path or DEFAULT_PATH
    try:
        doc = yaml.safe_load(source.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        return DutyRules({}, (f"{source}: {exc}; no patrol duty applies",))
    return parse_rules(doc)


def _month_end(day: date) -> date:
    first_next = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return first_next - timedelta(days=1)


def period(day: date, every: Every) -> tuple[date, date]:
    """The calendar period holding ``day``: its first and last day."""
    if every is Every.week:
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=6)
    if every is Every.dekad:
        if day.day <= 10:
            return day.replace(day=1), day.replace(day=10)
        if day.day <= 20:
            return day.replace(day=11), day.replace(day=20)
        return day.replace(day=21), _month_end(day)
    if every is Every.month:
        return day.replace(day=1), _month_end(day)
    first_month = 3 * ((day.month - 1) // 3) + 1
    start = date(day.year, first_month, 1)
    return start, _month_end(date(day.year, first_month + 2, 1))


def next_period(current: tuple[date, date], every: Every) -> tuple[date, date]:
    return period(current[1] + timedelta(days=1), every)


def previous_period(current: tuple[date, date], every: Every) -> tuple[date, date]:
    return period(current[0] - timedelta(days=1), every)


@dataclass(frozen=True, slots=True)
class Duty:
    status: Status
    due_date: date
    overdue_days: int = 0
    missed_periods: int = 0


def duty(*, every: Every, since: date, last_patrol: date | None, today: date) -> Duty:
    """Where one chief stands with one section (see the module docstring)."""
    first = period(since, every)
    if first[0] != since:
        first = next_period(first, every)
    current = period(today, every)
    if today < first[0]:
        return Duty(Status.not_yet, first[1])
    if last_patrol is not None and last_patrol >= current[0]:
        return Duty(Status.done, next_period(current, every)[1])
    earliest = first
    if last_patrol is not None:
        after = next_period(period(last_patrol, every), every)
        earliest = max(first, after)
    if earliest[0] >= current[0]:
        return Duty(Status.due, current[1])
    missed, p = 0, earliest
    while p[0] < current[0]:
        missed += 1
        p = next_period(p, every)
    return Duty(Status.overdue, earliest[1], (today - earliest[1]).days, missed)
