"""The pure validator: compact tuples, epoch times, limits, reasons by position."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cityops.sensing.catalogue import value_range
from cityops.sensing.validate import NUMERIC_TYPES, Limits, Reason, ValueRange, check

NOW = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
MEASURE = next(iter(NUMERIC_TYPES))
KNOWN = {1: MEASURE, 2: "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Observation"}


def test_compact_tuples_epoch_times_and_message_ids() -> None:
    epoch = NOW.timestamp() - 60
    out = check(
        [(1, epoch, 2), [1, "2026-11-25T09:00:00+08:00", 2.5, "m-9"], (2, epoch, {"state": "ok"})],
        known=KNOWN,
        now=NOW,
    )
    assert out.rejected == []
    first, second, third = out.accepted
    assert first.phenomenon_time == NOW - timedelta(seconds=60) and first.result == 2.0
    assert second.phenomenon_time == NOW and second.message_id == "m-9"
    assert third.result is None and third.result_json == {"state": "ok"}


def test_limits_are_settings_and_reasons_keep_positions() -> None:
    limits = Limits(max_future=timedelta(minutes=5), max_past=timedelta(hours=1))
    out = check(
        [
            (1, (NOW + timedelta(minutes=6)).isoformat(), 1.0),
            (1, (NOW + timedelta(minutes=4)).isoformat(), 1.0),
            (1, (NOW - timedelta(hours=2)).isoformat(), 1.0),
            (1, float("nan"), 1.0),
            (True, NOW.isoformat(), 1.0),
            (1, NOW.isoformat(), 1.0, 7),
            (1, NOW.isoformat()),
            (2, NOW.isoformat(), None),
        ],
        known=KNOWN,
        now=NOW,
        limits=limits,
    )
    assert [(r.index, r.reason) for r in out.rejected] == [
        (0, Reason.time_in_future),
        (2, Reason.time_too_old),
        (3, Reason.not_finite),
        (4, Reason.wrong_type),
        (5, Reason.wrong_type),
        (6, Reason.malformed),
        (7, Reason.malformed),
    ]
    assert len(out.accepted) == 1


def test_a_number_outside_its_physical_range_is_refused_alone() -> None:
    ph = ValueRange(0.0, 14.0, "ph")
    at_least_zero = value_range("nh3n", '{"valid_range": [0, null]}')
    assert at_least_zero == ValueRange(0.0, float("inf"), "nh3n")
    t = NOW.isoformat()
    out = check(
        [(1, t, 14), (1, t, 15.0), (1, t, -0.1), (3, t, 1e9), (3, t, -1), (2, t, {"ph": 99})],
        known={**KNOWN, 3: MEASURE},
        now=NOW,
        ranges={1: ph, 2: ph, 3: at_least_zero},
    )
    assert [r.result for r in out.accepted] == [14.0, 1e9, None]  # bounds hold; JSON unchecked
    assert [(r.index, r.reason) for r in out.rejected] == [
        (1, Reason.out_of_range), (2, Reason.out_of_range), (4, Reason.out_of_range),
    ]  # fmt: skip
    assert out.rejected[0].message == "ph = 15 is outside its physical range [0, 14] (datastream 1)"


def test_a_malformed_range_is_no_range() -> None:
    for props in ('{"valid_range": [5, 1]}', {"valid_range": ["a", 1]}, {"valid_range": 3}, "{"):
        assert value_range("x", props) is None
    assert value_range("x", {"valid_range": [-2000, 2000]}) == ValueRange(-2000, 2000, "x")


def test_numbers_past_64_bits_and_odd_digits_are_refused_not_raised() -> None:
    """JSON integers have no size limit: a 400-digit time or result is a reason, not a crash."""
    huge = 10**400
    raws = [
        (1, huge, 1.0),  # epoch seconds far past any datetime
        (1, "2026-11-25T00:30:00Z", huge),  # a result no float can hold
        {
            "datastream_id": 1,
            "phenomenon_time": "2026-11-25T00:30:00Z",
            "result": 1.0,
            "result_time": huge,
        },
        ("²", "2026-11-25T00:30:00Z", 1.0),  # str.isdigit says yes, int() says no
        ("9" * 5000, "2026-11-25T00:30:00Z", 1.0),  # past int()'s 4,300-digit limit
        (1, "2026-11-25T00:30:00Z", 10**300),  # big but a float: stored
    ]
    out = check(raws, known=KNOWN, now=NOW)
    assert [(r.index, r.reason) for r in out.rejected] == [
        (0, Reason.malformed),
        (1, Reason.not_finite),
        (2, Reason.malformed),
        (3, Reason.wrong_type),
        (4, Reason.wrong_type),
    ]
    assert [r.result for r in out.accepted] == [1e300]
