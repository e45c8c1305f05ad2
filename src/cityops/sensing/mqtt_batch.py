"""A batch of MQTT messages on its way through the door, and how to cut it message by message.

The storer hands a whole batch to the store in one transaction. When that keeps failing while the
store itself works, one message is to blame (a payload that trips a bug): the batch is then
stored one message at a time, so that message alone is dead-lettered and the rest go in
(``MqttConsumer._isolate``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cityops.sensing.mqtt_payload import Reading, Rejection
from cityops.sensing.mqtt_wire import Publish


@dataclass
class Batch:
    """A decoded batch: readings, and which message (and bulk row) each came from."""

    messages: list[Publish]
    now: datetime
    readings: list[Reading] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)  # first reading index of each span
    spans: list[tuple[int, Sequence[int]]] = field(default_factory=list)  # (message, rows)
    bad: dict[int, list[Rejection]] = field(default_factory=dict)
    acks: list[tuple[int, int, Any]] = field(default_factory=list)


@dataclass
class Done:
    """A processed batch: what to acknowledge and what to dead-letter."""

    pids: list[int]
    dead: list[bytes]


def one_per_message(work: Batch) -> list[Batch]:
    """``work`` as batches of one message each, in order (message indexes renumbered to 0)."""
    parts = [Batch([m], work.now) for m in work.messages]
    ends = [*work.starts[1:], len(work.readings)]
    for (i, rows), start, end in zip(work.spans, work.starts, ends, strict=True):
        part = parts[i]
        part.starts.append(len(part.readings))
        part.spans.append((0, rows))
        part.readings.extend(work.readings[start:end])
    for i, reasons in work.bad.items():
        parts[i].bad[0] = list(reasons)
    for i, thing, body in work.acks:
        parts[i].acks.append((0, thing, body))
    return parts
