"""巡河 duty: calendar periods and due/overdue worked by hand (pure), the rules as validated data.

Today in these examples is Wednesday 2026-11-25 (the week runs Monday 23rd to Sunday 29th; the
month's third 旬 runs 21st to 30th).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from cityops.scenarios.river.duty import (
    Duty,
    Every,
    Status,
    duty,
    load_rules,
    parse_rules,
    period,
)
from cityops.scenarios.river.models import ChiefLevel

TODAY = date(2026, 11, 25)
W, DK, M, Q = Every.week, Every.dekad, Every.month, Every.quarter


@pytest.mark.parametrize(
    ("day", "every", "expected"),
    [
        (TODAY, W, (date(2026, 11, 23), date(2026, 11, 29))),
        (date(2026, 12, 31), W, (date(2026, 12, 28), date(2027, 1, 3))),  # across the year
        (date(2026, 11, 10), DK, (date(2026, 11, 1), date(2026, 11, 10))),
        (date(2026, 11, 11), DK, (date(2026, 11, 11), date(2026, 11, 20))),
        (TODAY, DK, (date(2026, 11, 21), date(2026, 11, 30))),
        (date(2028, 2, 21), DK, (date(2028, 2, 21), date(2028, 2, 29))),  # leap February
        (date(2026, 12, 25), DK, (date(2026, 12, 21), date(2026, 12, 31))),
        (TODAY, M, (date(2026, 11, 1), date(2026, 11, 30))),
        (TODAY, Q, (date(2026, 10, 1), date(2026, 12, 31))),
        (date(2026, 2, 14), Q, (date(2026, 1, 1), date(2026, 3, 31))),
    ],
)
def test_calendar_periods(day: date, every: Every, expected: tuple[date, date]) -> None:
    assert period(day, every) == expected


def weekly(last: date | None, since: date = date(2026, 11, 2)) -> Duty:
    return duty(every=W, since=since, last_patrol=last, today=TODAY)


def test_patrolled_this_week_is_done_and_next_due_by_next_sunday() -> None:
    assert weekly(date(2026, 11, 24)) == Duty(Status.done, date(2026, 12, 6))


def test_patrolled_last_week_is_due_by_this_sunday() -> None:
    assert weekly(date(2026, 11, 17)) == Duty(Status.due, date(2026, 11, 29))


def test_a_week_missed_is_overdue_since_its_sunday() -> None:
    # Last patrol in the week of 9–15 Nov; the week of 16–22 had none: overdue since the 22nd,
    # 3 days by the 25th, one whole week missed.
    assert weekly(date(2026, 11, 10)) == Duty(Status.overdue, date(2026, 11, 22), 3, 1)


def test_never_patrolled_is_overdue_from_the_first_week_after_appointment() -> None:
    # Appointed Monday 2 Nov: weeks 2–8, 9–15 and 16–22 missed; overdue since the 8th.
    assert weekly(None) == Duty(Status.overdue, date(2026, 11, 8), 17, 3)


def test_the_first_week_starts_after_a_mid_week_appointment() -> None:
    assert weekly(None, since=date(2026, 11, 25)) == Duty(Status.not_yet, date(2026, 12, 6))
    assert weekly(None, since=date(2026, 11, 23)) == Duty(Status.due, date(2026, 11, 29))


def test_a_patrol_before_the_appointment_does_not_stretch_the_first_period() -> None:
    got = weekly(date(2026, 11, 1), since=date(2026, 11, 16))
    assert got == Duty(Status.overdue, date(2026, 11, 22), 3, 1)


def test_a_street_chief_who_missed_the_middle_dekad() -> None:
    got = duty(every=DK, since=date(2026, 10, 1), last_patrol=date(2026, 11, 5), today=TODAY)
    assert got == Duty(Status.overdue, date(2026, 11, 20), 5, 1)


def test_a_city_chief_who_missed_the_third_quarter() -> None:
    got = duty(every=Q, since=date(2026, 1, 1), last_patrol=date(2026, 5, 10), today=TODAY)
    # Q3 (1 Jul–30 Sep) had none: 31 days of October + 25 = 56 days overdue.
    assert got == Duty(Status.overdue, date(2026, 9, 30), 56, 1)


def test_the_shipped_rules_load_with_one_period_per_level() -> None:
    rules = load_rules()
    assert rules.errors == ()
    assert {lv: r.every for lv, r in rules.rules.items()} == {
        ChiefLevel.village: W, ChiefLevel.street: DK,
        ChiefLevel.district: M, ChiefLevel.city: Q,
    }  # fmt: skip


def test_a_bad_rule_is_reported_and_disabled_the_others_stand() -> None:
    rules = parse_rules(
        {
            "duties": [
                {"level": "street", "every": "week"},
                {"level": "province", "every": "month"},
                {"level": "district", "every": "fortnight"},
                {"level": "street", "every": "month"},
                {"level": "city", "every": "quarter", "extra": 1},
                "weekly",
            ]
        }
    )
    assert list(rules.rules) == [ChiefLevel.street]
    assert rules.rules[ChiefLevel.street].every is W  # the first of a level wins
    assert len(rules.errors) == 5
    assert "province" in rules.errors[0] and rules.errors[0].endswith("disabled")
    assert "fortnight" in rules.errors[1]
    assert "duplicate" in rules.errors[2]


def test_an_unreadable_rules_file_is_reported_and_no_duty_applies(tmp_path: Path) -> None:
    bad = tmp_path / "duty.yaml"
    bad.write_text("duties: [unclosed", encoding="utf-8")
    rules = load_rules(bad)
    assert rules.rules == {} and len(rules.errors) == 1
    assert load_rules(tmp_path / "missing.yaml").errors
    assert parse_rules({"nothing": 1}).errors
