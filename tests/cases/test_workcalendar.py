"""Working-time deadlines across holidays, make-up days, weekends and the lunch break."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cityops.cases.categories import TimeLimit
from cityops.cases.workcalendar import SHANGHAI, WorkCalendar
from cityops.errors import CalendarUnknown, ValidationFailed

CAL = WorkCalendar()


def at(y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    """A Shanghai wall-clock moment as aware UTC (what the service passes in)."""
    return datetime(y, mo, d, h, mi, tzinfo=SHANGHAI).astimezone(UTC)


def local(moment: datetime) -> datetime:
    return moment.astimezone(SHANGHAI).replace(tzinfo=None)


def test_national_day_2026_holiday_and_make_up_days() -> None:
    assert CAL.is_workday(date(2026, 9, 20))  # Sunday, make-up workday
    assert CAL.is_workday(date(2026, 10, 10))  # Saturday, make-up workday
    assert not any(CAL.is_workday(date(2026, 10, d)) for d in range(1, 8))
    assert CAL.is_workday(date(2026, 10, 8))
    assert not CAL.is_workday(date(2026, 10, 11))  # ordinary Sunday


def test_deadline_jumps_the_national_day_holiday() -> None:
    # Wed 30 Sep 16:00 + 4h: 1.5h left that day, then 2.5h from Thu 8 Oct 08:30.
    due = CAL.deadline(at(2026, 9, 30, 16), TimeLimit(4, "hour"))
    assert local(due) == datetime(2026, 10, 8, 11, 0)
    assert due.tzinfo is UTC


def test_make_up_saturday_counts_as_a_workday() -> None:
    # Fri 9 Oct 10:00 + 2d (14 working hours): Fri rest 5.5h, Sat 10 Oct 7h, Mon 12 Oct 1.5h.
    due = CAL.deadline(at(2026, 10, 9, 10), TimeLimit(2, "day"))
    assert local(due) == datetime(2026, 10, 12, 10, 0)


def test_make_up_sunday_before_the_holiday_counts() -> None:
    # Sat 19 Sep 2026 is off; the make-up Sunday 20 Sep is a working day.
    due = CAL.deadline(at(2026, 9, 19, 9), TimeLimit(2, "hour"))
    assert local(due) == datetime(2026, 9, 20, 10, 30)


def test_one_day_is_a_working_days_length_of_working_time() -> None:
    # Wed 25 Nov 2026 10:00 + 1d → Thu 10:00.
    assert local(CAL.deadline(at(2026, 11, 25, 10), TimeLimit(1, "day"))) == datetime(
        2026, 11, 26, 10, 0
    )


def test_deadline_across_a_weekend() -> None:
    # Fri 27 Nov 2026 16:30 + 2h: 1h on Friday, 1h from Mon 30 Nov 08:30.
    assert local(CAL.deadline(at(2026, 11, 27, 16, 30), TimeLimit(2, "hour"))) == datetime(
        2026, 11, 30, 9, 30
    )


def test_deadline_skips_the_lunch_break() -> None:
    # 11:00 + 2h: 1h before lunch, 1h after 14:00.
    assert local(CAL.deadline(at(2026, 11, 25, 11), TimeLimit(2, "hour"))) == datetime(
        2026, 11, 25, 15, 0
    )


def test_start_outside_working_time_counts_from_the_next_period() -> None:
    assert local(CAL.deadline(at(2026, 11, 25, 12, 30), TimeLimit(1, "hour"))) == datetime(
        2026, 11, 25, 15, 0
    )
    assert local(CAL.deadline(at(2026, 11, 25, 21), TimeLimit(1, "hour"))) == datetime(
        2026, 11, 26, 9, 30
    )
    # Evening dispatch with 1d: due at the end of the next working day.
    assert local(CAL.deadline(at(2026, 11, 25, 21), TimeLimit(1, "day"))) == datetime(
        2026, 11, 26, 17, 30
    )


def test_a_deadline_that_fills_a_period_ends_at_its_end() -> None:
    assert local(CAL.deadline(at(2026, 11, 25, 8, 30), TimeLimit(7, "hour"))) == datetime(
        2026, 11, 25, 17, 30
    )
    assert local(CAL.deadline(at(2026, 11, 25, 14), TimeLimit(3.5, "hour"))) == datetime(
        2026, 11, 25, 17, 30
    )


def test_configurable_periods_change_the_day_length() -> None:
    shifts = WorkCalendar(periods=((time(9, 0), time(17, 0)),))
    assert shifts.day_seconds == 8 * 3600
    assert local(shifts.deadline(at(2026, 11, 25, 12, 30), TimeLimit(1, "hour"))) == datetime(
        2026, 11, 25, 13, 30
    )
    with pytest.raises(ValidationFailed):
        WorkCalendar(periods=((time(14, 0), time(12, 0)),))
    with pytest.raises(ValidationFailed):
        WorkCalendar(periods=((time(8, 0), time(12, 0)), (time(11, 0), time(13, 0))))


def test_2027_fails_loudly_and_says_how_to_fix() -> None:
    with pytest.raises(CalendarUnknown) as err:
        CAL.is_workday(date(2027, 1, 4))
    assert "2027" in err.value.message and "chinese-calendar" in err.value.message
    assert err.value.code == "calendar_year_unknown"
    # A deadline that runs into 2027 fails the same way rather than guessing.
    with pytest.raises(CalendarUnknown):
        CAL.deadline(at(2026, 12, 31, 16), TimeLimit(5, "day"))


def test_working_seconds_counts_only_working_time() -> None:
    assert CAL.working_seconds(at(2026, 11, 25, 11), at(2026, 11, 25, 15)) == 2 * 3600
    # Fri 16:30 → Mon 09:30 = 2h; reversed is negative.
    fri, mon = at(2026, 11, 27, 16, 30), at(2026, 11, 30, 9, 30)
    assert CAL.working_seconds(fri, mon) == 7200
    assert CAL.working_seconds(mon, fri) == -7200
    # The whole National Day week (Thu 1 → Wed 7 Oct) holds no working time.
    assert CAL.working_seconds(at(2026, 10, 1, 0), at(2026, 10, 8, 0)) == 0


def test_overtime_multiple() -> None:
    start = at(2026, 11, 25, 8, 30)
    due = CAL.deadline(start, TimeLimit(2, "hour"))
    assert CAL.overtime_multiple(start, due, at(2026, 11, 25, 11, 30)) == 0.5
    assert CAL.overtime_multiple(start, due, at(2026, 11, 25, 9)) == 0.0


def test_add_working_seconds_rejects_negative() -> None:
    with pytest.raises(ValidationFailed):
        CAL.add_working_seconds(at(2026, 11, 25, 9), -1)


@settings(max_examples=300, deadline=None)
@given(
    start=st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2026, 10, 31)),
    minutes=st.integers(min_value=1, max_value=60 * 140),
)
def test_deadline_minus_start_is_exactly_the_limit_in_working_time(
    start: datetime, minutes: int
) -> None:
    begin = start.replace(tzinfo=SHANGHAI).astimezone(UTC)
    limit = TimeLimit(minutes / 60, "hour")
    due = CAL.deadline(begin, limit)
    assert due >= begin
    assert CAL.working_seconds(begin, due) == pytest.approx(minutes * 60, abs=1e-3)
    # The deadline falls inside working time (or at a period's end).
    assert CAL.working_seconds(begin, due - timedelta(seconds=1)) < minutes * 60


def test_an_admin_entered_year_makes_deadlines_into_it_computable(tmp_path: Path) -> None:
    """chinese-calendar does not know 2027 yet; the State Council's schedule can be entered."""
    from cityops.cases.workcalendar import load_local_years

    f = tmp_path / "holidays.yaml"
    f.write_text(
        "years:\n  2027:\n    holidays: [2027-01-01]\n    workdays: [2027-01-03]\n",
        encoding="utf-8",
    )
    cal = WorkCalendar(local_years=load_local_years(f))
    assert not cal.is_workday(date(2027, 1, 1))  # New Year's Day, a Friday
    assert cal.is_workday(date(2027, 1, 3))  # a make-up Sunday
    assert not cal.is_workday(date(2027, 1, 2))  # an ordinary Saturday
    # Thu 2026-12-31 16:00 + 4 working hours: 1.5 h that day, Fri off, Sat off, Sun 08:30 + 2.5 h.
    start = datetime(2026, 12, 31, 16, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    due = cal.deadline(start, TimeLimit(4, "hour"))
    assert due == datetime(2027, 1, 3, 11, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    f.write_text("years:\n  2027:\n    holidays: [2028-01-01]\n", encoding="utf-8")
    with pytest.raises(ValidationFailed):
        load_local_years(f)
