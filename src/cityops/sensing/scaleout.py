"""Sensing on a city's scale-out bus (``CITYOPS_BUS_URL=nats://…``).

The doors validate a batch against the datastream catalogue and put what they accept on the
JetStream work stream (partitioned by datastream); ``cityops worker`` processes take their
partitions and take each batch through ``sensing.door`` (the rules react first, then the batch is
stored, deduped by datastream and time and by message id), acknowledging only after the commit.
Rules state lives in the worker that owns a datastream's partition, so each stream's readings are
evaluated in order by one engine.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy.orm import Session

from cityops.api.context import AppContext
from cityops.bus.obs import Reading as QueuedReading
from cityops.clock import Clock
from cityops.rules.ports import BusNotifier
from cityops.rules.runtime import start_engine
from cityops.runtime import settle_heap
from cityops.sensing import catalogue, door, service
from cityops.sensing.directory import Rebinder, SensingActuator, SensingDirectory
from cityops.settings import Settings

log = logging.getLogger(__name__)


class WorkQueue(Protocol):
    def submit(self, readings: Sequence[QueuedReading]) -> int: ...


def queues_work(bus: object) -> bool:
    """Whether the bus carries observations to workers (NATS) rather than storing in-process."""
    return callable(getattr(bus, "submit", None))


def enqueue(
    *,
    session: Session,
    readings: Sequence[Any],
    clock: Clock,
    settings: Settings,
    queue: WorkQueue,
    message_id: str | None = None,
) -> service.IngestResult:
    """Validate at the door and queue the accepted readings; rejections are answered at once.

    Raises QueueFull / QueueUnavailable (503) when the stream refuses: nothing was accepted then
    (a partial write is harmless: the workers' store dedupes a resent batch).
    """
    checked = catalogue.check_batch(session, readings, clock.now(), service.limits_from(settings))
    work: list[QueuedReading] = []
    for n, r in enumerate(checked.accepted):
        value = r.result if r.result is not None else r.result_json
        msg = r.message_id or (f"{message_id}:{n}" if message_id else None)
        work.append((r.datastream_id, r.phenomenon_time.timestamp(), value, msg))
    if work:
        queue.submit(work)
    return service.IngestResult(accepted=len(work), rejected=checked.rejected)


class WorkerHandler:
    """Take a batch through the door (rules, then the store); timers tick beside."""

    def __init__(self, ctx: AppContext, *, tick_seconds: float = 1.0) -> None:
        self.ctx = ctx
        directory = SensingDirectory(ctx.sessions)
        self.engine = start_engine(
            ctx,
            directory=directory,
            actuator=SensingActuator(),
            notifier=BusNotifier(),
        )
        path = ctx.settings.rules_plans_path
        self.rebind = Rebinder(
            ctx.sessions, directory, self.engine, plan_paths=[path] if path else None
        )
        settle_heap()
        self._stop = threading.Event()
        self._ticker = threading.Thread(
            target=self._tick, args=(tick_seconds,), name="rules-tick", daemon=True
        )
        self._ticker.start()

    def _tick(self, every: float) -> None:
        while not self._stop.wait(every):
            try:
                self.rebind()  # devices added since: watched from now on
                self.engine.tick()
            except Exception:  # a failed tick is logged; the timers stay due for the next one
                log.exception("rules timer tick failed")

    def close(self) -> None:
        self._stop.set()
        self._ticker.join(timeout=10)

    def __call__(self, readings: list[QueuedReading]) -> None:
        ctx = self.ctx
        door.take_in(
            sessions=ctx.sessions,
            clock=ctx.clock,
            settings=ctx.settings,
            raws=[list(r) for r in readings],
            source="bus",
            bus=ctx.bus,
            reactor=self.engine,
        )


def handler(ctx: AppContext) -> WorkerHandler:
    """``CITYOPS_WORKER_HANDLER=cityops.sensing.scaleout:handler`` (the default)."""
    return WorkerHandler(ctx)
