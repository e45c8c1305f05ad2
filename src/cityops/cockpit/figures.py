"""The cockpit's arithmetic, pure: local-day buckets, the top categories, the ranking order.

Everything here works on numbers the queries in ``service.py`` already counted, so each figure
on the cockpit (驾驶舱) can be checked by hand.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

OTHER_CODE = "other"
OTHER_NAME = "其他"


def day_starts(now: datetime, *, days: int, tz: ZoneInfo) -> list[datetime]:
    """UTC starts of the last ``days`` local days up to today, then tomorrow's start.

    Computed per day in the zone, so a day is 23 or 25 hours long where the zone says so;
    bucketing by these bounds in SQL needs no database date functions.
    """
    if days < 1:
        raise ValueError("days must be at least 1")
    first = now.astimezone(tz).date() - timedelta(days=days - 1)
    return [
        datetime.combine(first + timedelta(days=i), time(0), tzinfo=tz).astimezone(UTC)
        for i in range(days + 1)
    ]


def local_dates(starts: Sequence[datetime], tz: ZoneInfo) -> list[date]:
    """The local date of each bucket ``day_starts`` made (all but the closing bound)."""
    return [s.astimezone(tz).date() for s in starts[:-1]]


def top_with_rest(
    counts: Mapping[str, int], name_of: Callable[[str], str], *, top: int = 10
) -> list[tuple[str, str, int]]:
    """(code, name, count), most first (ties by code), the rest summed as 其他 if any."""
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    out = [(code, name_of(code), n) for code, n in ranked[:top] if n > 0]
    rest = sum(n for _, n in ranked[top:])
    if rest:
        out.append((OTHER_CODE, OTHER_NAME, rest))
    return out


def ranked(scores: Mapping[str, float | None]) -> list[tuple[str, int | None]]:
    """Codes best score first with competition ranks (1, 2, 2, 4); unscored last, unranked.

    Ties and the unscored are ordered by code, so the order is stable between calls.
    """
    order = sorted(scores, key=lambda c: (scores[c] is None, -(scores[c] or 0.0), c))
    out: list[tuple[str, int | None]] = []
    rank, previous = 0, None
    for position, code in enumerate(order, 1):
        score = scores[code]
        if score is None:
            out.append((code, None))
            continue
        if score != previous:
            rank, previous = position, score
        out.append((code, rank))
    return out
