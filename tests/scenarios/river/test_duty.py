"""巡河 duty: calendar periods and due/overdue worked by hand (pure), the rules as validated data.

Today in these examples is Wednesday 2026-11-25 (the week runs Monday 23rd to Sunday 29th; the
month's third 旬 runs 21st to 30th).
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from cityops.bus.memory import Event
from cityops.cli import app
from cityops.ledger import service as ledger
from cityops.scenarios.river import duty_service
from cityops.scenarios.river.duty import (
    Duty,
    Every,
    Status,
    duty,
    load_rules,
    parse_rules,
    period,
)
from cityops.scenarios.river.models import ChiefLevel, DutyReminder
from tests.api.conftest import Api, api  # noqa: F401
from tests.scenarios.river.patrolkit import call, patrol_once, rivers  # noqa: F401

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


# Over HTTP and the reminder run, both backends. The rivers were appointed Monday 2 Nov; street
# chiefs patrol 每旬, so their first 旬 is 11–20 Nov, missed by all: overdue since the 20th, 5
# days by the 25th. District chiefs patrol monthly from December: not yet due.


def staff(api: Api, key: str) -> int:  # noqa: F811
    return api.city.workers[key]


def test_overdue_chiefs_are_listed_with_their_sections_in_scope(rivers: Api) -> None:  # noqa: F811
    patrol_once(rivers, "chief", "TM-001")  # TM-001 today; TT-001 still waits
    r = call(rivers, "GET", "/duty?overdue=true", "admin")
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["as_of"] == "2026-11-25" and page["rule_errors"] == []
    assert {x["level"]: x["every"] for x in page["rules"]}["street"] == "dekad"
    items = {i["staff_id"]: i for i in page["items"]}
    west, east = staff(rivers, "500107001-street_office"), staff(rivers, "500107002-street_office")
    assert set(items) == {west, east, staff(rivers, "500157001-street_office")}
    mine = items[west]
    assert (mine["level"], mine["status"], mine["overdue_days"]) == ("street", "overdue", 5)
    assert mine["last_patrol_at"] is not None
    sections = {s["code"]: s for s in mine["sections"]}
    assert sections["TM-001"]["status"] == "done" and sections["TM-001"]["due_date"] == "2026-12-10"
    assert sections["TT-001"] == {
        "code": "TT-001", "name": sections["TT-001"]["name"], "river_name": "测试河",
        "status": "overdue", "last_patrol_at": None, "due_date": "2026-11-20",
        "overdue_days": 5, "missed_periods": 1,
    }  # fmt: skip
    everyone = {
        (i["staff_id"], i["status"]) for i in call(rivers, "GET", "/duty", "admin").json()["items"]
    }
    assert (staff(rivers, "500107-shuiwu"), "not_yet") in everyone
    street = call(rivers, "GET", "/duty?overdue=true", "street").json()["items"]
    assert [i["staff_id"] for i in street] == [west]
    assert call(rivers, "GET", "/duty", "resident").status_code == 403


def test_a_bad_duty_rule_is_reported_and_its_level_has_no_duty(rivers: Api, tmp_path: Path) -> None:  # noqa: F811
    path = tmp_path / "duty.yaml"
    path.write_text(
        "duties:\n  - {level: street, every: fortnight}\n  - {level: district, every: week}\n",
        encoding="utf-8",
    )
    rivers.ctx.settings = rivers.ctx.settings.model_copy(update={"river_duty_rules_path": path})
    page = call(rivers, "GET", "/duty", "admin").json()
    assert len(page["rule_errors"]) == 1 and "fortnight" in page["rule_errors"][0]
    assert {i["level"] for i in page["items"]} == {"district"}


def test_each_overdue_chief_is_reminded_once_per_missed_period(rivers: Api) -> None:  # noqa: F811
    events: list[Event] = []
    rivers.ctx.bus.subscribe("river.*", events.append)
    patrol_once(rivers, "chief", "TM-001")
    assert duty_service.run_once(rivers.ctx) == 3
    assert {e.subject for e in events if "duty" in e.subject} == {"river.duty_overdue"}
    reminded = [e.data for e in events if e.subject == "river.duty_overdue"]
    west = staff(rivers, "500107001-street_office")
    (mine,) = [d for d in reminded if d["staff_id"] == west]
    assert mine["sections"] == ["TT-001"] and mine["period_start"] == "2026-11-11"
    assert mine["jurisdiction_code"] == "500107001"  # the live stream shows it to that street
    assert duty_service.run_once(rivers.ctx) == 0  # the same period: nothing new
    assert len([e for e in events if e.subject == "river.duty_overdue"]) == 3
    # Ten days on (Sat 5 Dec), the 旬 of 21–30 Nov has passed: TT-001 was missed again, and
    # so were TM-002 and TM-003; TM-001 was patrolled on the 25th.
    rivers.clock.advance(timedelta(days=10))
    assert duty_service.run_once(rivers.ctx) == 3
    assert duty_service.run_once(rivers.ctx) == 0
    with rivers.ctx.sessions() as s:
        rows = s.execute(
            select(DutyReminder.staff_id, DutyReminder.period_start).order_by(DutyReminder.id)
        ).all()
        assert len(rows) == 6 and {p for _, p in rows} == {date(2026, 11, 11), date(2026, 11, 21)}
        entries = ledger.history(session=s, subject=f"staff:{west}")
        assert [e.action for e in entries] == ["river.duty_reminder"] * 2


def test_check_config_refuses_a_bad_duty_rule(tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["check-config"])
    assert r.exit_code == 0 and "river duty: 4 levels" in r.output
    bad = tmp_path / "duty.yaml"
    bad.write_text("duties:\n  - {level: street, every: fortnight}\n", encoding="utf-8")
    r = CliRunner().invoke(app, ["check-config", "--river-duty", str(bad)])
    assert r.exit_code == 1 and "refused" in r.output and "fortnight" in r.output
