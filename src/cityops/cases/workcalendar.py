"""Working time (工作时 / 工作日) for case deadlines, with Chinese statutory holidays.

Holidays and make-up workdays (调休) come from ``chinese-calendar``; a year it does not cover
raises ``CalendarUnknown`` instead of silently treating holidays as workdays.

Rules (documented once, used by every deadline):

- Working time is the configured periods of each workday, by default 08:30–12:00 and
  14:00–17:30 local time (7 working hours a day). The lunch break, nights, weekends and
  holidays do not count; a make-up Saturday/Sunday counts.
- ``Nh`` (工作时): the moment at which N×3600 working seconds have passed since the start. A
  start outside working time counts from the next working period.
- ``Nd`` (工作日): N × the working-day length of working time (7 h by default). A case
  dispatched on Wednesday 10:00 with ``1d`` is due Thursday 10:00; one dispatched in the
  evening or at the weekend is due at the end of the Nth following working day.
- A deadline that uses up a period exactly falls at that period's end (17:30), not at the
  start of the next one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import chinese_calendar
import yaml

from cityops.cases.categories import TimeLimit
from cityops.clock import as_utc
from cityops.errors import CalendarUnknown, ValidationFailed

SHANGHAI = ZoneInfo("Asia/Shanghai")
DEFAULT_PERIODS: tuple[tuple[time, time], ...] = (
    (time(8, 30), time(12, 0)),
    (time(14, 0), time(17, 30)),
)
_MAX_DAYS = 3 * 366  # no deadline or span walks further than this
_ONE_DAY = timedelta(days=1)

Interval = tuple[datetime, datetime]


@dataclass(frozen=True, slots=True)
class LocalYear:
    """A year's schedule entered by an admin: days off (放假) and make-up workdays (调休上班)."""

    year: int
    holidays: frozenset[date]
    workdays: frozenset[date]

    def is_workday(self, d: date) -> bool:
        if d in self.workdays:
            return True
        return d.weekday() < 5 and d not in self.holidays


def load_local_years(path: Path) -> dict[int, LocalYear]:
    """Read ``{years: {2027: {holidays: [dates], workdays: [dates]}}}``; refuse a bad file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        years = data["years"]
        out: dict[int, LocalYear] = {}
        for year, spec in years.items():
            holidays = frozenset(date.fromisoformat(str(x)) for x in spec.get("holidays", []))
            workdays = frozenset(date.fromisoformat(str(x)) for x in spec.get("workdays", []))
            if any(d.year != int(year) for d in holidays | workdays):
                raise ValueError(f"a date listed under {year} is in another year")
            if holidays & workdays:
                raise ValueError(f"{year}: a day cannot be both a holiday and a workday")
            out[int(year)] = LocalYear(int(year), holidays, workdays)
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError, ValueError) as exc:
        raise ValidationFailed(f"holiday file {path}: {exc}", code="bad_holiday_file") from exc
    return out


class WorkCalendar:
    """Working periods on Chinese workdays in one time zone; answers cached per date."""

    def __init__(
        self,
        tz: ZoneInfo = SHANGHAI,
        periods: tuple[tuple[time, time], ...] = DEFAULT_PERIODS,
        local_years: Mapping[int, LocalYear] | None = None,
    ) -> None:
        if not periods:
            raise ValidationFailed("a work calendar needs at least one working period")
        previous_end = time.min
        for start, end in periods:
            if not start < end or start < previous_end:
                raise ValidationFailed(
                    f"working periods must be ordered and not overlap: {periods!r}",
                    code="bad_work_periods",
                )
            previous_end = end
        self.tz = tz
        self.periods = tuple(periods)
        self.day_seconds = float(
            sum(
                (datetime.combine(date.min, e) - datetime.combine(date.min, s)).total_seconds()
                for s, e in periods
            )
        )
        self.local_years = dict(local_years or {})
        self._workday: dict[date, bool] = {}
        self._intervals: dict[date, tuple[Interval, ...]] = {}

    def is_workday(self, d: date) -> bool:
        """True on a working day (including 调休 make-up weekend days)."""
        cached = self._workday.get(d)
        if cached is not None:
            return cached
        local = self.local_years.get(d.year)
        try:
            answer = local.is_workday(d) if local else bool(chinese_calendar.is_workday(d))
        except NotImplementedError:
            raise CalendarUnknown(
                f"the working-day calendar has no data for {d.year}, so deadlines in {d.year} "
                f"cannot be computed. Upgrade chinese-calendar (pip install -U chinese-calendar), "
                f"or enter the State Council's schedule for {d.year} in the file named by "
                f"CITYOPS_HOLIDAYS_PATH (published each November).",
                year=d.year,
            ) from None
        self._workday[d] = answer
        return answer

    def intervals(self, d: date) -> tuple[Interval, ...]:
        """The working periods of local date ``d`` as UTC intervals (empty on a day off)."""
        cached = self._intervals.get(d)
        if cached is not None:
            return cached
        result: tuple[Interval, ...] = ()
        if self.is_workday(d):
            result = tuple(
                (
                    datetime.combine(d, s, self.tz).astimezone(UTC),
                    datetime.combine(d, e, self.tz).astimezone(UTC),
                )
                for s, e in self.periods
            )
        self._intervals[d] = result
        return result

    def limit_seconds(self, limit: TimeLimit) -> float:
        """Working seconds in a time limit: hours × 3600, days × the working-day length."""
        if limit.unit == "hour":
            return limit.amount * 3600.0
        return limit.amount * self.day_seconds

    def deadline(self, start: datetime, limit: TimeLimit) -> datetime:
        """处置截止时间: ``start`` plus ``limit`` of working time (aware UTC in and out)."""
        return self.add_working_seconds(start, self.limit_seconds(limit))

    def add_working_seconds(self, start: datetime, seconds: float) -> datetime:
        """The moment ``seconds`` of working time after ``start`` (e.g. for an extension)."""
        if seconds < 0:
            raise ValidationFailed("working seconds to add must not be negative")
        cursor = as_utc(start)
        remaining = float(seconds)
        day = cursor.astimezone(self.tz).date()
        for _ in range(_MAX_DAYS):
            spans = self.intervals(day)
            if spans and cursor <= spans[0][0] and remaining > self.day_seconds:
                remaining -= self.day_seconds  # a whole working day, no arithmetic needed
            else:
                for begin, end in spans:
                    if end <= cursor:
                        continue
                    segment_start = begin if begin > cursor else cursor
                    available = (end - segment_start).total_seconds()
                    if remaining <= available:
                        return segment_start + timedelta(seconds=remaining)
                    remaining -= available
            day += _ONE_DAY
            if spans:
                cursor = spans[-1][1]
        raise CalendarUnknown(
            f"no working time found within {_MAX_DAYS} days after {start.isoformat()}",
            code="calendar_no_working_time",
        )

    def working_seconds(self, a: datetime, b: datetime) -> float:
        """Working seconds between two moments (negative if ``b`` is before ``a``)."""
        a, b = as_utc(a), as_utc(b)
        if b < a:
            return -self.working_seconds(b, a)
        total = 0.0
        day = a.astimezone(self.tz).date()
        last = b.astimezone(self.tz).date()
        if (last - day).days > _MAX_DAYS * 10:
            raise ValidationFailed("span too long to count working time", code="span_too_long")
        while day <= last:
            for begin, end in self.intervals(day):
                lo = begin if begin > a else a
                hi = end if end < b else b
                if hi > lo:
                    total += (hi - lo).total_seconds()
            day += _ONE_DAY
        return total

    def overtime_multiple(self, start: datetime, deadline: datetime, done: datetime) -> float:
        """超时倍数: working time past the deadline over the allowed working time (0 if on time)."""
        allowed = self.working_seconds(start, deadline)
        late = self.working_seconds(deadline, done)
        if late <= 0 or allowed <= 0:
            return 0.0
        return late / allowed
