"""The MQTT door into the sensing store: ``IngestHandler`` over :func:`service.ingest`.

One transaction per batch. ``service.ingest`` validates against the datastream catalogue,
dedupes by (datastream, phenomenonTime) and by message id (source ``mqtt``), stores, and queues
one ``observations.batch`` event, which is published on ``bus`` once the batch is committed.
The PUBACKs go out after that (see :mod:`cityops.sensing.mqtt`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from cityops.bus.memory import Event, MemoryBus
from cityops.clock import Clock
from cityops.sensing import service
from cityops.sensing.mqtt import IngestOutcome
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
        bus: MemoryBus | None = None,
    ) -> None:
        self.factory, self.clock, self.settings, self.bus = factory, clock, settings, bus

    def __call__(self, readings: Sequence[Reading]) -> IngestOutcome:
        raws: list[Any] = [
            (r.datastream_id, r.phenomenon_time, r.result, r.message_id)
            if r.result_time is None and r.parameters is None
            else {
                "datastream_id": r.datastream_id,
                "phenomenon_time": r.phenomenon_time,
                "result": r.result,
                "result_time": r.result_time,
                "parameters": r.parameters,
                "message_id": r.message_id,
            }
            for r in readings
        ]
        with transaction(self.factory) as session:
            result = service.ingest(
                session=session,
                readings=raws,
                clock=self.clock,
                settings=self.settings,
                source="mqtt",
            )
            events: list[Event] = session.info.pop("events", [])
        if self.bus is not None:
            for event in events:
                self.bus.publish(event)
        return IngestOutcome(
            stored=result.stored,
            duplicates=result.duplicates,
            rejected={r.index: (r.reason, r.message) for r in result.rejected},
        )
