"""The cockpit's arithmetic without a database: local days, top categories, ranks."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from cityops.cockpit.figures import day_starts, local_dates, ranked, top_with_rest

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_days_are_local_midnights_oldest_first() -> None:
    now = datetime(2026, 11, 24, 16, 30, tzinfo=UTC)  # 00:30 on the 25th in Chongqing
    starts = day_starts(now, days=30, tz=SHANGHAI)
    assert len(starts) == 31
    assert starts[-2] == datetime(2026, 11, 24, 16, 0, tzinfo=UTC)  # the 25th began
    assert local_dates(starts, SHANGHAI)[0] == date(2026, 10, 27)
    assert local_dates(starts, SHANGHAI)[-1] == date(2026, 11, 25)


def test_a_day_is_as_long_as_the_zone_says() -> None:
    berlin = ZoneInfo("Europe/Berlin")  # summer time ends on 2026-10-25
    starts = day_starts(datetime(2026, 10, 26, 12, tzinfo=UTC), days=3, tz=berlin)
    lengths = [b - a for a, b in pairwise(starts)]
    assert lengths == [timedelta(hours=24), timedelta(hours=25), timedelta(hours=24)]


def test_top_ten_then_the_rest_as_other() -> None:
    counts = {f"{i:05d}": 20 - i for i in range(13)}
    out = top_with_rest(counts, lambda c: f"类{c}", top=10)
    assert [c for c, _, _ in out[:3]] == ["00000", "00001", "00002"]
    assert out[-1] == ("other", "其他", 10 + 9 + 8)  # 00010, 00011, 00012
    assert len(out) == 11
    assert top_with_rest({"a": 1}, str) == [("a", "a", 1)]


def test_equal_scores_share_a_rank_and_the_unscored_come_last() -> None:
    scores = {"b": 80.0, "a": 90.0, "c": 80.0, "d": None, "e": 70.0}
    assert ranked(scores) == [("a", 1), ("b", 2), ("c", 2), ("e", 4), ("d", None)]
    assert ranked({}) == []
