"""Validate a batch of raw readings (pure): accepted readings, and rejections with reasons.

A raw reading is a dict ``{"datastream_id" | "datastream", "phenomenon_time" | "time",
"result", "result_time"?, "parameters"?, "foi_id"?, "message_id"?}`` or a compact tuple
``(datastream_id, time, result)`` / ``(datastream_id, time, result, message_id)``. Times are
ISO 8601 strings (a zone is required) or epoch seconds. A number outside its datastream's
physical range (``ranges``: from the observed property's ``valid_range``) is rejected as
``out_of_range``. The hot path is a plain loop without pydantic: this runs at 100,000 readings
per second.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import repeat
from operator import attrgetter
from typing import Any, NamedTuple

NUMERIC_TYPES = frozenset(
    {
        "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
        "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_CountObservation",
    }
)


MAX_ID = 2**63 - 1  # the largest id either database holds; a larger one names nothing


class Reason:
    """Rejection reason codes (stable; clients match on them)."""

    malformed = "malformed"
    wrong_type = "wrong_type"
    not_finite = "not_finite"
    unknown_datastream = "unknown_datastream"
    time_in_future = "time_in_future"
    time_too_old = "time_too_old"
    out_of_range = "out_of_range"


class Reading(NamedTuple):
    """A validated reading; ``result`` for numbers, ``result_json`` for anything else."""

    datastream_id: int
    phenomenon_time: datetime  # aware UTC
    result: float | None
    result_json: Any
    result_time: datetime | None = None
    parameters: dict[str, Any] | None = None
    foi_id: int | None = None
    message_id: str | None = None


class ValueRange(NamedTuple):
    """The physical range of a datastream's numbers (inclusive), and what it measures."""

    lo: float
    hi: float
    name: str


def _outside(ds: int, value: float, r: ValueRange) -> str:
    return (
        f"{r.name} = {value:g} is outside its physical range [{r.lo:g}, {r.hi:g}] (datastream {ds})"
    )


@dataclass(frozen=True, slots=True)
class Rejection:
    index: int
    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class Limits:
    """How far from now a phenomenon time may be."""

    max_future: timedelta = timedelta(days=1)
    max_past: timedelta = timedelta(days=7)


Numbers = tuple[Sequence[int], Sequence[datetime], Sequence[float]]


@dataclass(slots=True)
class Checked:
    """``numbers``: when every accepted reading is a plain ``[datastream, time, number]`` (no
    JSON result, result time, parameters, feature or message id), their datastreams, times and
    results as columns, in order — what the insert is made of (``obs_rows.prepare``), so the
    batch need not be transposed again."""

    accepted: list[Reading] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    numbers: Numbers | None = None


class _Bad(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def parse_time(value: Any) -> datetime:
    """An aware UTC datetime from an ISO string, epoch seconds or an aware datetime."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise _Bad(Reason.malformed, f"not an ISO 8601 time: {value[:40]!r}") from None
        if parsed.tzinfo is None:
            raise _Bad(Reason.malformed, "time without a zone (add Z or +08:00)")
        return parsed.astimezone(UTC)
    if isinstance(value, bool):
        raise _Bad(Reason.wrong_type, "time must be an ISO string or epoch seconds")
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):  # an int is finite (any size)
            raise _Bad(Reason.not_finite, "time is not finite")
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            raise _Bad(Reason.malformed, "epoch time out of range") from None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise _Bad(Reason.malformed, "time without a zone")
        return value.astimezone(UTC)
    raise _Bad(Reason.wrong_type, "time must be an ISO string or epoch seconds")


def _result(value: Any, numeric: bool) -> tuple[float | None, Any]:
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _Bad(Reason.not_finite, "result is NaN or infinite")
        return value, None
    if isinstance(value, int) and not isinstance(value, bool):
        try:  # JSON integers have no size limit; past ~1.8e308 they have no float
            return float(value), None
        except OverflowError:
            raise _Bad(Reason.not_finite, "result is out of range") from None
    if value is None:
        raise _Bad(Reason.malformed, "result is missing")
    if numeric:
        raise _Bad(Reason.wrong_type, f"this datastream takes numbers, got {type(value).__name__}")
    if isinstance(value, bool | str | dict | list):
        return None, value
    raise _Bad(Reason.wrong_type, f"unsupported result type {type(value).__name__}")


def _datastream_id(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    parsed = id_in_text(value) if isinstance(value, str) else None
    if parsed is None:
        raise _Bad(Reason.wrong_type, "datastream_id must be an integer")
    return parsed


def id_in_text(value: str) -> int | None:
    """An id written as ASCII digits (at most 18, so it fits 64 bits), else None: ``isdigit``
    alone lets "²" and 5,000-digit texts through to ``int()``, which raises."""
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 18 else None


def _from_dict(raw: dict[str, Any]) -> tuple[Any, Any, Any, dict[str, Any]]:
    ds = raw.get("datastream_id", raw.get("datastream"))
    t = raw.get("phenomenon_time", raw.get("time"))
    if ds is None or t is None or "result" not in raw:
        raise _Bad(Reason.malformed, "needs datastream_id, phenomenon_time and result")
    return ds, t, raw["result"], raw


_new = tuple.__new__  # a Reading without NamedTuple's Python-level __new__ (10,000 a batch)
_TIME_KEYS = (str, float, int)  # not bool (True == 1) and not datetimes (cheap already)


def check(
    raws: Iterable[Any],
    *,
    known: Mapping[int, str],
    now: datetime,
    limits: Limits = Limits(),
    ranges: Mapping[int, ValueRange] | None = None,
) -> Checked:
    """Split ``raws`` into accepted readings and rejections (``known``: id → observation type;
    ``ranges``: id → physical range, for the datastreams that have one)."""
    out = Checked()
    range_of = ranges.get if ranges else None
    earliest = now - limits.max_past
    latest = now + limits.max_future
    if isinstance(raws, list | tuple):
        good = _all_compact_and_good(raws, known, earliest, latest, ranges)
        if good is not None:
            out.accepted, out.numbers = good
            return out
    accepted = out.accepted.append
    times: dict[Any, datetime] = {}  # a gateway's batch shares a few times: parse each once
    for index, raw in enumerate(raws):
        try:
            extra: dict[str, Any] | None = None
            kind = type(raw)
            if (kind is list or kind is tuple) and len(raw) == 3:  # the compact form: fast
                ds_raw, t_raw, res_raw = raw
            elif isinstance(raw, dict):
                ds_raw, t_raw, res_raw, extra = _from_dict(raw)
            elif isinstance(raw, list | tuple) and len(raw) == 4:
                ds_raw, t_raw, res_raw = raw[0], raw[1], raw[2]
            else:
                raise _Bad(Reason.malformed, "a reading is an object or [datastream, time, result]")
            ds = ds_raw if type(ds_raw) is int else _datastream_id(ds_raw)
            otype = known.get(ds)
            if otype is None:
                raise _Bad(Reason.unknown_datastream, f"no datastream {ds}")
            cached = None
            if type(t_raw) is datetime and t_raw.tzinfo is UTC:  # decoded already (MQTT door)
                t = t_raw
            else:
                cached = times.get(t_raw) if type(t_raw) in _TIME_KEYS else None
                t = cached if cached is not None else parse_time(t_raw)
            if cached is None:  # a time seen earlier in the batch was checked then
                if t > latest:
                    raise _Bad(Reason.time_in_future, f"{t.isoformat()} is too far in the future")
                if t < earliest:
                    raise _Bad(Reason.time_too_old, f"{t.isoformat()} is older than the window")
                if type(t_raw) in _TIME_KEYS:
                    times[t_raw] = t
            value: float | None
            if type(res_raw) is float and math.isfinite(res_raw):
                value, as_json = res_raw, None
            else:
                value, as_json = _result(res_raw, otype in NUMERIC_TYPES)
            if range_of is not None and value is not None:
                bounds = range_of(ds)
                if bounds is not None and not bounds.lo <= value <= bounds.hi:
                    raise _Bad(Reason.out_of_range, _outside(ds, value, bounds))
            if extra is None:
                msg = raw[3] if len(raw) == 4 else None
                if msg is not None and not isinstance(msg, str):
                    raise _Bad(Reason.wrong_type, "message_id must be a string")
                accepted(_new(Reading, (ds, t, value, as_json, None, None, None, msg)))
            else:
                accepted(_full(ds, t, value, as_json, extra))
        except _Bad as bad:
            out.rejected.append(Rejection(index, bad.reason, bad.message))
    return out


_ROW_TYPES = frozenset({list, tuple})
_TIME_TYPES = frozenset({str, float, int, datetime})
_NUMBER_TYPES = frozenset({float, int})


def _all_compact_and_good(
    raws: list[Any] | tuple[Any, ...],
    known: Mapping[int, str],
    earliest: datetime,
    latest: datetime,
    ranges: Mapping[int, ValueRange] | None,
) -> tuple[list[Reading], Numbers] | None:
    """The batch column by column, when every reading is a ``[datastream, time, number]`` that
    passes: a few passes in C (``map``, ``set``, ``zip``) instead of a Python loop per reading,
    which was half the door's time; the readings and their columns. None when any reading is
    different or bad: the loop then decides, and says which and why."""
    if not raws or not set(map(type, raws)) <= _ROW_TYPES or set(map(len, raws)) != {3}:
        return None
    ds_col, t_col, r_col = zip(*raws, strict=True)
    if set(map(type, ds_col)) != {int} or not known.keys() >= set(ds_col):
        return None
    times = _times_in_window(t_col, earliest, latest)
    if times is None:
        return None
    kinds = set(map(type, r_col))
    values: tuple[Any, ...] = r_col
    if not kinds <= _NUMBER_TYPES:  # no bool, None, text or objects
        return None
    if kinds != {float}:
        try:
            values = tuple(map(float, r_col))
        except OverflowError:
            return None
    if not all(map(math.isfinite, values)):
        return None
    if ranges and ranges.keys() & set(ds_col):
        for ds, value in zip(ds_col, values, strict=True):
            bounds = ranges.get(ds)
            if bounds is not None and not bounds.lo <= value <= bounds.hi:
                return None
    nothing = repeat(None)
    rows = zip(ds_col, times, values, nothing, nothing, nothing, nothing, nothing, strict=False)
    return list(map(_new, repeat(Reading), rows)), (ds_col, times, values)


_zone = attrgetter("tzinfo")


def _times_in_window(
    column: tuple[Any, ...], earliest: datetime, latest: datetime
) -> Sequence[datetime] | None:
    """The column's times as aware UTC datetimes, or None if any is bad or out of the window.

    Datetimes decoded already (the MQTT door: every reading its own time) are checked as a
    column; others (ISO texts, epoch seconds) are parsed once per distinct value."""
    kinds = set(map(type, column))
    if kinds == {datetime}:
        if set(map(id, map(_zone, column))) != {id(UTC)}:  # UTC itself, as the loop takes it
            return None
        return column if earliest <= min(column) and max(column) <= latest else None
    if not kinds <= _TIME_TYPES:  # no bool: True == 1 would share a key
        return None
    parsed: dict[Any, datetime] = {}
    for raw_time in set(column):  # a gateway's batch shares a few times
        try:
            t = parse_time(raw_time)
        except _Bad:
            return None
        if t > latest or t < earliest:
            return None
        parsed[raw_time] = t
    return list(map(parsed.__getitem__, column))


def _full(ds: int, t: datetime, value: float | None, as_json: Any, raw: dict[str, Any]) -> Reading:
    result_time = raw.get("result_time")
    parameters = raw.get("parameters")
    foi = raw.get("foi_id")
    msg = raw.get("message_id")
    if parameters is not None and not isinstance(parameters, dict):
        raise _Bad(Reason.wrong_type, "parameters must be an object")
    if foi is not None and (not isinstance(foi, int) or isinstance(foi, bool)):
        raise _Bad(Reason.wrong_type, "foi_id must be an integer")
    if msg is not None and not isinstance(msg, str):
        raise _Bad(Reason.wrong_type, "message_id must be a string")
    return Reading(
        ds,
        t,
        value,
        as_json,
        parse_time(result_time) if result_time is not None else None,
        parameters,
        foi,
        msg,
    )


def datastream_ids(raws: Iterable[Any]) -> set[int]:
    """The integer datastream ids a batch mentions (to look up only those)."""
    ids: set[int] = set()
    for raw in raws:
        value: Any
        if isinstance(raw, dict):
            value = raw.get("datastream_id", raw.get("datastream"))
        elif isinstance(raw, list | tuple) and raw:
            value = raw[0]
        else:
            continue
        if type(value) is int and 0 <= value <= MAX_ID:  # past 64 bits the lookup would fail
            ids.add(value)
        elif isinstance(value, str) and (parsed := id_in_text(value)) is not None:
            ids.add(parsed)
    return ids
