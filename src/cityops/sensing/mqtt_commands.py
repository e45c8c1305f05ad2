"""Actuator commands out, their acknowledgements in, and state changes for subscribers.

Topics (docs/api.md, "MQTT"):

- ``cityops/v1/things/<thing_id>/commands`` (the Thing's ``command_topic``; QoS 1, we publish):
  ``{"id": <command id>, "command", "parameters", "issuedAt", "replyTo"}``;
- ``cityops/v1/things/<thing_id>/commands/ack`` (QoS 1, the device publishes):
  ``{"id": <command id>, "status": "done" | "failed" | "accepted", "detail": "..."}``;
- ``cityops/v1/events/<subject with dots as levels>`` (QoS 1, we publish): state changes such as
  ``alarms.raised`` → ``cityops/v1/events/alarms/raised``, body = the event's data.

A command's id is the integer id of its ``ActuatorCommand`` row
(:func:`cityops.sensing.service.record_command` records it before it is published), so the
device's acknowledgement lands on that row (:func:`cityops.sensing.service.ack_command`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from cityops.bus.base import Bus
from cityops.bus.memory import Event
from cityops.sensing.mqtt_client import MqttClient, MqttError

log = logging.getLogger(__name__)

COMMAND_TOPIC = "cityops/v1/things/{thing_id}/commands"
ACK_TOPIC = "cityops/v1/things/{thing_id}/commands/ack"
ACK_FILTER = "cityops/v1/things/+/commands/ack"
EVENTS_PREFIX = "cityops/v1/events/"
ACK_STATUSES = frozenset({"accepted", "done", "failed"})
_ACK = re.compile(rb"cityops/v1/things/(\d{1,18})/commands/ack")


@dataclass(frozen=True)
class Command:
    """An instruction to an actuator (a Thing with a command topic), as recorded."""

    id: int
    thing_id: int
    command: str
    issued_at: datetime
    parameters: dict[str, Any] = field(default_factory=dict)
    command_topic: str | None = None  # the Thing's; the default topic when it has none

    @property
    def topic(self) -> str:
        return self.command_topic or COMMAND_TOPIC.format(thing_id=self.thing_id)

    @classmethod
    def from_event(cls, data: dict[str, Any], *, now: datetime) -> Command:
        """From the ``actuators.command`` bus event that ``record_command`` queues."""
        issued = data.get("issued_at")
        return cls(
            id=int(data["id"]),
            thing_id=int(data["thing_id"]),
            command=str(data["command"]),
            issued_at=datetime.fromisoformat(issued) if isinstance(issued, str) else now,
            parameters=dict(data.get("payload") or {}),
            command_topic=data.get("topic"),
        )

    def payload(self) -> bytes:
        return json.dumps(
            {
                "id": self.id,
                "command": self.command,
                "parameters": self.parameters,
                "issuedAt": self.issued_at.isoformat(),
                "replyTo": ACK_TOPIC.format(thing_id=self.thing_id),
            },
            ensure_ascii=False,
        ).encode()


@dataclass(frozen=True)
class CommandAck:
    """A device's answer to a command; ``payload`` is what it sent, less the id."""

    command_id: int
    thing_id: int
    status: str
    received_at: datetime
    detail: str = ""
    payload: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status != "failed"


class CommandRecorder(Protocol):
    """Where acknowledgements are recorded (the sensing store's ``ActuatorCommand`` rows)."""

    def acknowledged(self, ack: CommandAck) -> bool:
        """Record the ack; False when no such command was sent to that thing."""
        ...


class BadAck(ValueError):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


def ack_thing(topic: bytes) -> int | None:
    """The thing id of an acknowledgement topic, else None."""
    match = _ACK.fullmatch(topic)
    return int(match.group(1)) if match else None


def decode_ack(thing_id: int, body: Any, *, now: datetime) -> CommandAck:
    """An acknowledgement's JSON into a :class:`CommandAck`; raises :class:`BadAck`."""
    if not isinstance(body, dict):
        raise BadAck("wrong_type", "an acknowledgement is a JSON object")
    raw_id, status = body.get("id"), body.get("status", "done")
    if "id" not in body:
        raise BadAck("malformed", "the acknowledgement has no command id")
    if isinstance(raw_id, str) and raw_id.isdigit():
        raw_id = int(raw_id)
    if not isinstance(raw_id, int) or isinstance(raw_id, bool) or raw_id <= 0:
        raise BadAck("wrong_type", "the command id is a positive integer")
    if status not in ACK_STATUSES:
        raise BadAck("wrong_type", f"status must be one of {sorted(ACK_STATUSES)}")
    detail = str(body.get("detail", ""))[:1000]
    payload = {k: v for k, v in body.items() if k != "id"} | {"status": status}
    if "detail" in body:
        payload["detail"] = detail
    return CommandAck(raw_id, thing_id, status, now, detail, payload)


async def send_command(client: MqttClient, command: Command) -> None:
    """Publish at QoS 1 and wait until the broker has it (the command is recorded already)."""
    await client.publish(command.topic, command.payload(), qos=1)


def event_topic(subject: str) -> str:
    """``alarm.raised`` → ``cityops/v1/events/alarm/raised`` (no wildcards in a subject)."""
    parts = [p for p in subject.split(".") if p]
    if not parts or any(c in subject for c in "+#/\x00"):
        raise ValueError(f"not a publishable subject: {subject!r}")
    return EVENTS_PREFIX + "/".join(parts)


def event_payload(event: Event) -> bytes:
    return json.dumps(event.data, ensure_ascii=False, default=str).encode()


async def publish_event(client: MqttClient, event: Event) -> None:
    """Publish one state change at QoS 1 and wait for the broker."""
    await client.publish(event_topic(event.subject), event_payload(event), qos=1)


STATE_SUBJECTS = ("alarms.*", "cases.*", "actuators.*")


class EventForwarder:
    """Forward bus events (``alarms.*`` ...) to MQTT subscribers, from any thread.

    Events published while the broker is unreachable (``client`` is None or closed) are logged
    and dropped: the ledger and the database hold the truth; this topic is a notification.
    ``client`` may be swapped on the loop's thread when the connection is re-made.
    """

    def __init__(self, client: MqttClient | None, loop: asyncio.AbstractEventLoop) -> None:
        self.client, self.loop = client, loop
        self.forwarded = 0
        self.failed = 0

    def attach(self, bus: Bus, patterns: Iterable[str]) -> Callable[[], None]:
        """Subscribe to ``patterns`` on ``bus``; returns a function that detaches all."""
        handles = [bus.subscribe(p, self._on_event) for p in patterns]

        def detach() -> None:
            for undo in handles:
                undo()

        return detach

    def _on_event(self, event: Event) -> None:
        self.loop.call_soon_threadsafe(self._send, event)

    def _send(self, event: Event) -> None:
        try:
            if self.client is None:
                raise MqttError("not connected")
            future = self.client.publish_nowait(event_topic(event.subject), event_payload(event))
        except (MqttError, ValueError) as exc:
            self.failed += 1
            log.warning("state change %s not published: %s", event.subject, exc)
            return
        if future is not None:
            future.add_done_callback(self._done)

    def _done(self, future: asyncio.Future[bytes]) -> None:
        if future.cancelled() or future.exception() is not None:
            self.failed += 1
        else:
            self.forwarded += 1
