"""MQTT payloads into readings, or a reason why not (pure; the clock's ``now`` is passed in).

Two topics carry observations (docs/api.md, "MQTT"):

- ``v1.1/Datastreams(<id>)/Observations``: one SensorThings Observation,
  ``{"result": 21.5, "phenomenonTime": "2026-11-25T08:00:00Z"}`` with optional ``resultTime``
  and ``parameters`` (a JSON object);
- ``cityops/v1/bulk``: many readings in compact rows ``[datastream_id, time, result]``, either
  as a bare array of rows or as ``{"id": "<message id>", "rows": [...]}``. ``time`` is an ISO
  8601 string with an offset, or a number of Unix epoch milliseconds.

Every reading carries a message id: the sender's ``id`` when given, else a digest of the
payload (a QoS 1 redelivery is the same bytes, so the same id), with ``:<row>`` for bulk rows.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cityops.sensing.validate import MAX_ID

BULK_TOPIC = "cityops/v1/bulk"
OBSERVATION_TOPIC = "v1.1/Datastreams({id})/Observations"
OBSERVATION_FILTER = "v1.1/+/Observations"  # a wildcard fills a whole level; the id is checked
_DATASTREAM = re.compile(rb"v1\.1/Datastreams\((\d{1,18})\)/Observations")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DEAD_LETTER_ECHO = 65_536  # bytes of a too-large payload echoed on the dead-letter topic
_fromtimestamp = datetime.fromtimestamp
_fromisoformat = datetime.fromisoformat


@dataclass(slots=True)
class Reading:
    """One observation to store."""

    datastream_id: int
    phenomenon_time: datetime
    result: Any
    message_id: str
    result_time: datetime | None = None
    parameters: dict[str, Any] | None = None
    phenomenon_end: datetime | None = None  # when phenomenonTime is an interval "start/end"


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a message, or one row of a bulk message (``row`` ≥ 0), was not stored."""

    reason: str
    detail: str
    row: int = -1


@dataclass(frozen=True)
class Limits:
    """What the door accepts (from ``Settings``: ``mqtt_max_payload_bytes`` ...)."""

    max_payload_bytes: int = 1_048_576
    max_rows: int = 10_000
    max_lead: timedelta = timedelta(hours=1)
    max_age: timedelta = timedelta(days=366)


@dataclass
class Decoded:
    """A message's readings and its rejections (a bulk message may have both)."""

    readings: list[Reading] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    rows: Sequence[int] = field(default_factory=list)  # each reading's bulk row (-1: alone)


class _Bad(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


def datastream_of(topic: bytes) -> int | None:
    """The datastream id in ``v1.1/Datastreams(<id>)/Observations``, else None."""
    match = _DATASTREAM.fullmatch(topic)
    return int(match.group(1)) if match else None


def message_digest(topic: bytes, payload: bytes) -> str:
    """A message id that a redelivery of the same message repeats."""
    return hashlib.blake2b(topic + b" " + payload, digest_size=12).hexdigest()


SINGLE = (-1,)  # the "rows" of a reading that came alone


def quick_observation(
    datastream_id: int, topic: bytes, payload: bytes, body: Any, lo: datetime, hi: datetime
) -> Reading | None:
    """The common Observation (a finite number at an ISO time in [lo, hi], nothing else) made
    into a reading quickly; None means "take the long road" (:func:`decode`), never "bad"."""
    if type(body) is not dict or len(body) != 2:
        return None
    result, at = body.get("result"), body.get("phenomenonTime")
    if type(at) is not str or not (type(result) is float or type(result) is int):
        return None
    if result - result != 0 or "/" in at:  # NaN/inf, or an interval
        return None
    if type(result) is int and not -MAX_ID <= result <= MAX_ID:  # too big for a column
        return None
    try:
        moment = _fromisoformat(at)
    except ValueError:
        return None
    if moment.tzinfo is None or not lo <= moment <= hi:
        return None
    return Reading(datastream_id, moment, result, message_digest(topic, payload))


def parse_payloads(payloads: Sequence[bytes]) -> list[Any]:
    """JSON-decode many payloads in one call; :class:`_Bad` markers for the ones that fail.

    Joining them into one array lets the C decoder do the loop (about 3× faster than one
    ``json.loads`` per message); only when that fails is each decoded alone.
    """
    if not payloads:
        return []
    try:
        values = json.loads(b"[" + b",".join(payloads) + b"]")
        if isinstance(values, list) and len(values) == len(payloads):
            return values
    except (ValueError, RecursionError):
        pass
    out: list[Any] = []
    for raw in payloads:
        try:
            out.append(json.loads(raw))
        except (ValueError, RecursionError) as exc:
            out.append(_Bad("malformed", f"not JSON: {str(exc)[:200]}"))
    return out


def _time(value: Any, now: datetime, limits: Limits, what: str) -> datetime:
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise _Bad("malformed", f"{what} {value[:40]!r} is not ISO 8601") from None
        if moment.tzinfo is None:
            raise _Bad("malformed", f"{what} {value[:40]!r} has no UTC offset")
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if isinstance(value, float) and not math.isfinite(value):  # an int is finite (any size)
            raise _Bad("not_finite", f"{what} is {value}")
        try:
            moment = _EPOCH + timedelta(milliseconds=value)
        except OverflowError:
            raise _Bad("malformed", f"{what} {str(value)[:40]} ms is out of range") from None
    else:
        raise _Bad("wrong_type", f"{what} must be an ISO 8601 string, not {type(value).__name__}")
    if moment > now + limits.max_lead:
        raise _Bad("time_in_future", f"{what} {moment.isoformat()} is too far in the future")
    if moment < now - limits.max_age:
        raise _Bad("time_too_old", f"{what} {moment.isoformat()} is older than the window")
    return moment


def _result(value: Any) -> Any:
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _Bad("not_finite", f"result is {value}")
        return value
    if value is None:
        raise _Bad("malformed", "result is missing or null")
    if isinstance(value, int) and not isinstance(value, bool) and not -MAX_ID <= value <= MAX_ID:
        # JSON integers have no size limit; past 64 bits no database column holds one as such
        try:
            return float(value)
        except OverflowError:
            raise _Bad("not_finite", "result is out of range") from None
    if isinstance(value, int | bool | str | dict | list):
        return value
    raise _Bad("wrong_type", f"result of type {type(value).__name__}")  # pragma: no cover


def observation(
    body: Any, *, datastream_id: int, message_id: str, now: datetime, limits: Limits
) -> Reading:
    """One SensorThings Observation object into a reading; raises :class:`_Bad`."""
    if not isinstance(body, dict):
        raise _Bad("wrong_type", f"an Observation is a JSON object, not {type(body).__name__}")
    if "result" not in body:
        raise _Bad("malformed", "the Observation has no result")
    result = _result(body["result"])
    raw_time = body.get("phenomenonTime")
    if raw_time is None:
        raise _Bad("malformed", "the Observation has no phenomenonTime")
    end = None
    if isinstance(raw_time, str) and "/" in raw_time:
        start_text, _, end_text = raw_time.partition("/")
        start = _time(start_text, now, limits, "phenomenonTime")
        end = _time(end_text, now, limits, "phenomenonTime end")
        if end < start:
            raise _Bad("malformed", "phenomenonTime interval ends before it starts")
    else:
        start = _time(raw_time, now, limits, "phenomenonTime")
    result_time = body.get("resultTime")
    parameters = body.get("parameters")
    if parameters is not None and not isinstance(parameters, dict):
        raise _Bad("wrong_type", "parameters must be a JSON object")
    return Reading(
        datastream_id,
        start,
        result,
        message_id,
        _time(result_time, now, limits, "resultTime") if result_time is not None else None,
        parameters,
        end,
    )


def bulk(body: Any, *, message_id: str, now: datetime, limits: Limits) -> Decoded:
    """A compact bulk message into readings; bad rows are rejected one by one."""
    if isinstance(body, dict):
        message_id = _given_id(body) or message_id
        body = body.get("rows")
    if not isinstance(body, list):
        raise _Bad("wrong_type", "a bulk message is an array of rows or {'id', 'rows'}")
    if len(body) > limits.max_rows:
        raise _Bad("too_large", f"{len(body)} rows; at most {limits.max_rows} per message")
    out = Decoded()
    rows: list[int] = []
    out.rows = rows
    readings, reject = out.readings, out.rejections.append
    lo_ms = (now - limits.max_age).timestamp() * 1000
    hi_ms = (now + limits.max_lead).timestamp() * 1000
    for i, row in enumerate(body):
        # The common row, [int, epoch ms, float], takes the short road; anything else the long.
        if type(row) is list and len(row) == 3:
            ds, at, value = row
            if (
                type(ds) is int
                and 0 < ds <= MAX_ID
                and type(at) is int
                and lo_ms <= at <= hi_ms
                and type(value) is float
                and value - value == 0.0  # finite
            ):
                when = _fromtimestamp(at / 1000, UTC)
                readings.append(Reading(ds, when, value, f"{message_id}:{i}"))
                rows.append(i)
                continue
        try:
            if not isinstance(row, list) or len(row) != 3:
                raise _Bad("wrong_type", "a row is [datastream_id, time, result]")
            ds = row[0]
            if not isinstance(ds, int) or isinstance(ds, bool) or not 0 < ds <= MAX_ID:
                raise _Bad(
                    "wrong_type", f"datastream id {str(ds)[:40]!r} is not a positive integer"
                )
            readings.append(
                Reading(
                    ds, _time(row[1], now, limits, "time"), _result(row[2]), f"{message_id}:{i}"
                )
            )
            rows.append(i)
        except _Bad as bad:
            reject(Rejection(bad.reason, bad.detail, i))
    return out


def _given_id(body: Any) -> str | None:
    """The sender's own message id of a bulk message (``{"id": ..., "rows": [...]}``)."""
    given = body.get("id") if isinstance(body, dict) else None
    return given if isinstance(given, str) and 0 < len(given) <= 200 else None


def decode(topic: bytes, payload: bytes, body: Any, *, now: datetime, limits: Limits) -> Decoded:
    """One message (``body`` = its JSON from :func:`parse_payloads`) into readings/rejections."""
    try:
        if len(payload) > limits.max_payload_bytes:
            raise _Bad("too_large", f"{len(payload)} bytes; limit {limits.max_payload_bytes}")
        if isinstance(body, _Bad):
            raise body
        ds = datastream_of(topic)
        if ds is not None:
            message_id = message_digest(topic, payload)
            reading = observation(
                body, datastream_id=ds, message_id=message_id, now=now, limits=limits
            )
            return Decoded([reading], rows=SINGLE)
        if topic == BULK_TOPIC.encode():  # the sender's id spares hashing the payload
            message_id = _given_id(body) or message_digest(topic, payload)
            return bulk(body, message_id=message_id, now=now, limits=limits)
        raise _Bad("unknown_topic", f"no observations are taken on {topic[:200]!r}")
    except _Bad as bad:
        return Decoded(rejections=[Rejection(bad.reason, bad.detail)])


def dead_letter(
    topic: bytes, payload: bytes, reasons: Sequence[Rejection], accepted: int, at: datetime
) -> bytes:
    """The dead-letter message for a refused message (docs/api.md, "Dead letters")."""
    letter: dict[str, Any] = {
        "reason": reasons[0].reason,
        "detail": reasons[0].detail,
        "topic": topic.decode(errors="replace"),
        "at": at.isoformat(),
    }
    rows = [r for r in reasons if r.row >= 0]
    if rows:
        letter["rejected"] = [{"row": r.row, "reason": r.reason, "detail": r.detail} for r in rows]
        letter["accepted"] = accepted  # rows of this message that were stored
    if len(payload) > DEAD_LETTER_ECHO:
        payload, letter["truncated"] = payload[:DEAD_LETTER_ECHO], True
    try:
        letter["payload"] = payload.decode()
    except UnicodeDecodeError:
        letter["payload_base64"] = base64.b64encode(payload).decode()
    return json.dumps(letter, ensure_ascii=False).encode()
