"""Observation batches on the bus: the reading shape, partitions, and the wire format (pure).

A reading is ``(datastream_id, phenomenon_time, value, message_id)``: the time as an ISO 8601
string or epoch seconds, the message id ``None`` when the door had none. On the wire a batch is
compact JSON: ``[[7,"2026-11-25T08:00:00Z",1.5,"m-1"], ...]``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from cityops.errors import ValidationFailed

Reading = tuple[int, str | float, Any, str | None]


class Handler(Protocol):
    """Stores a batch and commits before returning; raising means "try this batch again".

    The same batch may come twice (a crash between commit and acknowledgement), so the store
    must dedupe by (datastream, phenomenon time) and message id.
    """

    def __call__(self, readings: list[Reading]) -> None: ...


def partition_of(datastream_id: int, partitions: int) -> int:
    """All readings of a datastream share one partition, so one worker sees them in order."""
    return datastream_id % partitions


def obs_subject(prefix: str, partition: int | str) -> str:
    return f"{prefix}.obs.{partition}"


def dead_subject(prefix: str) -> str:
    """Where a worker publishes a reading it had to leave out (``bus.consumer``)."""
    return f"{prefix}.dead.obs"


def event_subject(prefix: str, subject: str) -> str:
    """``cases.filed`` → ``cityops.ev.cases.filed``; odd names share ``cityops.ev._``."""
    tokens = subject.split(".")
    ok = all(t and not any(c in t for c in " \t\r\n*>") for t in tokens)
    return f"{prefix}.ev.{subject}" if ok else f"{prefix}.ev._"


def checked(reading: Sequence[Any]) -> Reading:
    """One reading in the bus shape, or ValidationFailed naming what is wrong."""
    if len(reading) != 4:
        raise ValidationFailed(f"a reading has 4 fields, not {len(reading)}: {reading!r}")
    ds, at, value, message_id = reading
    if isinstance(ds, bool) or not isinstance(ds, int) or ds < 0:
        raise ValidationFailed(f"datastream id must be a non-negative integer, not {ds!r}")
    if isinstance(at, bool) or not isinstance(at, str | int | float):
        raise ValidationFailed(f"phenomenon time must be ISO text or epoch seconds, not {at!r}")
    if isinstance(at, float) and not math.isfinite(at):
        raise ValidationFailed(f"phenomenon time is not finite: {at!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValidationFailed(f"value is not finite: {value!r}")
    if message_id is not None and not isinstance(message_id, str):
        raise ValidationFailed(f"message id must be text, not {message_id!r}")
    return (ds, at, value, message_id)


def split(readings: Iterable[Reading], partitions: int, chunk: int) -> list[tuple[int, bytes]]:
    """(partition, payload) messages, each at most ``chunk`` readings, in the readings' order."""
    groups: dict[int, list[Reading]] = {}
    for r in readings:
        groups.setdefault(partition_of(r[0], partitions), []).append(r)
    out: list[tuple[int, bytes]] = []
    for p, group in groups.items():
        for i in range(0, len(group), chunk):
            out.append((p, encode(group[i : i + chunk])))
    return out


def encode(readings: Sequence[Reading]) -> bytes:
    return json.dumps(readings, separators=(",", ":"), allow_nan=False, default=str).encode()


def decode(payload: bytes) -> list[Reading]:
    """The readings of one message; ValueError if it is not a batch this bus wrote."""
    rows = json.loads(payload)
    if not isinstance(rows, list):
        raise ValueError("a batch is a JSON array")
    out: list[Reading] = []
    for row in rows:
        if not isinstance(row, list) or len(row) != 4:
            raise ValueError(f"a reading is a 4-element array, not {row!r}")
        out.append((row[0], row[1], row[2], row[3]))
    return out
