"""A 5-field cron (minute hour day-of-month month day-of-week), enough for schedule plans.

Fields take ``*``, numbers, ``a-b`` ranges, ``,`` lists and ``/step``; day-of-week is 0–6 with
0 = Sunday (7 is Sunday too). As in cron, when both day fields are restricted a day matches if
either does. Pure: no clock; ``next_after`` is computed in the given time zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))


def _field(text: str, lo: int, hi: int) -> frozenset[int]:
    out: set[int] = set()
    for part in text.split(","):
        rng, _, step_s = part.partition("/")
        step = int(step_s) if step_s else 1
        if step < 1:
            raise ValueError(f"cron step must be ≥ 1 in {text!r}")
        if rng == "*":
            a, b = lo, hi
        elif "-" in rng:
            a_s, b_s = rng.split("-", 1)
            a, b = int(a_s), int(b_s)
        else:
            a = b = int(rng)
        if not (lo <= a <= b <= hi):
            raise ValueError(f"cron field {text!r} is outside {lo}-{hi}")
        out.update(range(a, b + 1, step))
    return frozenset(out)


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool
    any_weekday: bool

    @classmethod
    def parse(cls, text: str) -> Cron:
        parts = text.split()
        if len(parts) != 5:
            raise ValueError(f"cron needs 5 fields (min hour dom month dow), got {text!r}")
        try:
            m, h, d, mo, w = (_field(p, *b) for p, b in zip(parts, _BOUNDS, strict=True))
        except ValueError as exc:
            raise ValueError(str(exc)) from None
        return cls(m, h, d, mo, frozenset(x % 7 for x in w), parts[2] == "*", parts[4] == "*")

    def _day_ok(self, day: datetime) -> bool:
        if day.month not in self.months:
            return False
        dom = day.day in self.days
        dow = (day.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:
            return dom and dow
        return dom or dow

    def next_after(self, moment: datetime, tz: tzinfo) -> datetime:
        """The first matching minute strictly after ``moment`` (aware), as an aware datetime."""
        local = moment.astimezone(tz).replace(second=0, microsecond=0)
        day = local.replace(hour=0, minute=0)
        for _ in range(366 * 5):
            if self._day_ok(day):
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        cand = day.replace(hour=hour, minute=minute)
                        if cand > moment:
                            return cand
            day = (day + timedelta(days=1)).replace(hour=0, minute=0)
        raise ValueError("cron never matches")
