"""The validator's column path (a whole batch of good compact readings in a few C passes) must
decide exactly as the loop does, reading by reading: same readings, same values and zones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cityops.sensing.validate import NUMERIC_TYPES, Limits, ValueRange, check

NOW = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
MEASURE = next(iter(NUMERIC_TYPES))
KNOWN = {
    1: MEASURE,
    2: MEASURE,
    3: "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Observation",
}
RANGES = {2: ValueRange(0.0, 100.0, "percent")}
LIMITS = Limits(max_future=timedelta(minutes=5), max_past=timedelta(hours=1))

good_time = st.sampled_from(
    [
        NOW.isoformat(),
        "2026-11-25T08:59:00+08:00",
        NOW.timestamp() - 30,
        int(NOW.timestamp()) - 60,
        NOW - timedelta(minutes=3),
        NOW.astimezone(timezone(timedelta(hours=8))),  # aware, not UTC: converted by the loop
    ]
)
odd_time = st.sampled_from(
    [
        (NOW + timedelta(minutes=6)).isoformat(),
        (NOW - timedelta(hours=2)).isoformat(),
        "2026-11-25T01:00:00",  # no zone
        "yesterday",
        True,
        None,
        float("nan"),
        NOW.replace(tzinfo=None),
        10**30,
    ]
)
good_value = st.one_of(st.floats(min_value=0, max_value=100, allow_nan=False), st.integers(0, 100))
odd_value = st.sampled_from(
    [float("nan"), float("inf"), None, True, "12", {"a": 1}, 10**400, -5.0, 1e9]
)
reading = st.tuples(
    st.sampled_from([1, 2, 3]) | st.sampled_from([9, True, "1", 2**70]),
    good_time | odd_time,
    good_value | odd_value,
)


def _same(raws: list[Any]) -> None:
    columns = check(raws, known=KNOWN, now=NOW, limits=LIMITS, ranges=RANGES)
    loop = check(iter(raws), known=KNOWN, now=NOW, limits=LIMITS, ranges=RANGES)
    assert columns.rejected == loop.rejected
    assert columns.accepted == loop.accepted
    if columns.numbers is not None:  # the column path: its columns are its readings'
        assert columns.rejected == []
        assert list(zip(*columns.numbers, strict=True)) == [r[:3] for r in columns.accepted]
    for a, b in zip(columns.accepted, loop.accepted, strict=True):
        assert a.phenomenon_time.tzinfo is b.phenomenon_time.tzinfo is UTC
        assert type(a.result) is type(b.result)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([1, 2, 3]), good_time, good_value), min_size=1))
def test_good_batches_come_out_as_the_loop_makes_them(raws: list[Any]) -> None:
    _same(raws)


@settings(max_examples=500, deadline=None)
@given(st.lists(reading, min_size=1, max_size=20))
def test_any_odd_reading_gives_the_loops_answer(raws: list[Any]) -> None:
    _same(raws)


def test_decoded_utc_times_are_taken_as_a_column() -> None:
    times = [NOW - timedelta(seconds=i) for i in range(1000)]
    out = check([(1, t, float(i)) for i, t in enumerate(times)], known=KNOWN, now=NOW)
    assert out.rejected == [] and [r.phenomenon_time for r in out.accepted] == times
    late = [*times, NOW + timedelta(days=2)]
    out = check([(1, t, 1.0) for t in late], known=KNOWN, now=NOW)
    assert [r.index for r in out.rejected] == [1000] and len(out.accepted) == 1000
