"""The MQTT door into the sensing store: ``IngestHandler`` over :func:`sensing.door.take_in`, and
``CommandRecorder`` over :func:`service.ack_command`.

Through :func:`sensing.door.take_in`: validated against the datastream catalogue, evaluated by
the running rules engine (found in ``extras``), deduped by (datastream, phenomenonTime) and stored
in one transaction, whose ``observations.batch`` event is published on ``bus`` once the batch is
committed.

No message ids are kept for MQTT readings. Every MQTT reading carries its phenomenon time (the
door refuses one without), so a redelivered message repeats its readings' (datastream, time)
keys and the store's unique key drops them already; the per-reading id row (a random text key
in ``sensing_ingest_message``) cost a fifth of the store's time and caught nothing more.
The PUBACKs go out after that (see :mod:`cityops.sensing.mqtt`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from operator import attrgetter
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from cityops.bus.base import Bus
from cityops.bus.memory import Event
from cityops.clock import Clock
from cityops.sensing import door, service
from cityops.sensing.models import ActuatorCommand
from cityops.sensing.mqtt import IngestOutcome
from cityops.sensing.mqtt_commands import CommandAck
from cityops.sensing.mqtt_payload import Reading
from cityops.settings import Settings
from cityops.store.engine import transaction


class SensingIngest:
    """Hand MQTT batches to the sensing store."""

    def __init__(
        self,
        *,
        factory: sessionmaker[Session],
        clock: Clock,
        settings: Settings,
        bus: Bus | None = None,
        extras: Mapping[str, Any] | None = None,
    ) -> None:
        self.factory, self.clock, self.settings, self.bus = factory, clock, settings, bus
        self.extras = extras  # where the running rules engine is found (``sensing.door``)

    def __call__(self, readings: Sequence[Reading]) -> IngestOutcome:
        raws = _raws(readings)
        result = door.take_in(
            sessions=self.factory,
            clock=self.clock,
            settings=self.settings,
            raws=raws,
            source="mqtt",
            bus=self.bus,
            reactor=door.reactor_in(self.extras),
        )
        return IngestOutcome(
            stored=result.stored,
            duplicates=result.duplicates,
            rejected={r.index: (r.reason, r.message) for r in result.rejected},
        )


_DATASTREAM = attrgetter("datastream_id")
_TIME = attrgetter("phenomenon_time")
_RESULT = attrgetter("result")
_RESULT_TIME = attrgetter("result_time")
_PARAMETERS = attrgetter("parameters")


def _raws(readings: Sequence[Reading]) -> list[Any]:
    """The door's raw readings: ``(datastream, time, result)``, or a dict when there is more.

    Made column by column in C (``map``/``zip``) when no reading has more, as a bulk
    message's never do: a Python loop over 10,000 readings cost a tenth of the door's time."""
    n = len(readings)
    if (
        list(map(_RESULT_TIME, readings)).count(None)
        == list(map(_PARAMETERS, readings)).count(None)
        == n
    ):
        ds, when, result = map(_DATASTREAM, readings), map(_TIME, readings), map(_RESULT, readings)
        return list(zip(ds, when, result, strict=True))
    return [
        (r.datastream_id, r.phenomenon_time, r.result)
        if r.result_time is None and r.parameters is None
        else {
            "datastream_id": r.datastream_id,
            "phenomenon_time": r.phenomenon_time,
            "result": r.result,
            "result_time": r.result_time,
            "parameters": r.parameters,
        }
        for r in readings
    ]


class SensingCommands:
    """``CommandRecorder`` over the sensing store: a device's ack lands on its ActuatorCommand.

    One transaction per acknowledgement through :func:`service.ack_command`; its
    ``actuators.ack`` event is published on ``bus`` after commit. An ack naming a command that
    was not sent to that thing is refused (the consumer dead-letters it as ``unknown_command``).
    """

    def __init__(
        self, *, factory: sessionmaker[Session], clock: Clock, bus: Bus | None = None
    ) -> None:
        self.factory, self.clock, self.bus = factory, clock, bus

    def acknowledged(self, ack: CommandAck) -> bool:
        with transaction(self.factory) as session:
            row = session.get(ActuatorCommand, ack.command_id)
            if row is None or row.thing_id != ack.thing_id:
                return False
            service.ack_command(
                session=session,
                command_id=ack.command_id,
                ok=ack.ok,
                payload=ack.payload,
                clock=self.clock,
            )
            events: list[Event] = session.info.pop("events", [])
        if self.bus is not None:
            for event in events:
                self.bus.publish(event)
        return True
