"""The observation worker: consume partitions of the work stream in order, ack after commit.

Worker ``index`` of ``count`` owns the partitions ``p % count == index``; each partition has one
durable pull consumer (``obs-<p>``) with at most ONE unacknowledged batch. That server-side limit
is what keeps a datastream's readings in order even across crashes and overlapping restarts: the
next batch is not handed out until the previous one is acknowledged, and a batch whose worker died
comes back (after ``bus_ack_wait``) before anything newer. A worker overlaps its partitions: while
the handler runs on one batch the other partitions' next batches are already fetched, and the
handler gets several partitions' batches at once (up to ``worker_max_readings``) in one call.

Acknowledgement comes only after the handler returned, i.e. committed. A crash between the commit
and the ack sends the batch again; the store dedupes. A handler error naks the batch (it comes
straight back, still first in line) and the worker waits a little before retrying: the consumer
never dies on a bad batch. After ``ISOLATE_AFTER`` failures in a row the batch is handled message
by message, and a message that fails alone reading by reading: a reading that fails by itself
while an empty call succeeds (the store works) is published on ``<prefix>.dead.obs`` and left
out, so one reading that trips a bug cannot hold its partition for good. When the empty call
fails too the store is down, and nothing is left out.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig

from cityops.bus.nats import connect, ensure_stream
from cityops.bus.obs import Handler, Reading, dead_subject, decode, obs_subject
from cityops.errors import ValidationFailed
from cityops.settings import Settings

if TYPE_CHECKING:
    from cityops.api.context import AppContext

log = logging.getLogger(__name__)
FETCH_TIMEOUT = 1.0  # seconds a partition waits for a batch before checking for shutdown
RETRY_DELAY = 1.0  # seconds before a failed batch is tried again
ISOLATE_AFTER = 3  # failures in a row before a batch is handled piece by piece


@dataclass
class WorkerStats:
    partitions: list[int]
    batches: int = 0  # handler calls that committed
    messages: int = 0  # stream messages acknowledged
    readings: int = 0
    failures: int = 0  # handler calls that raised (their messages came back)
    rejected: int = 0  # messages that were not batches this bus wrote (terminated)
    dead_letters: int = 0  # readings that failed alone while the store worked (left out)
    started: float = field(default_factory=time.monotonic)

    @property
    def rate(self) -> float:
        """Readings per second since the worker started."""
        return self.readings / max(time.monotonic() - self.started, 1e-9)


@dataclass
class _Item:
    partition: int
    msg: Msg
    readings: list[Reading]
    done: asyncio.Event = field(default_factory=asyncio.Event)


def owned_partitions(*, partitions: int, index: int, count: int) -> list[int]:
    if not 0 <= index < count:
        raise ValidationFailed(f"worker index must be in 0..{count - 1}, not {index}")
    return [p for p in range(partitions) if p % count == index]


def consumer_config(settings: Settings, partition: int) -> ConsumerConfig:
    return ConsumerConfig(
        durable_name=f"obs-{partition}",
        filter_subject=obs_subject(settings.bus_prefix, partition),
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=settings.bus_ack_wait,
        max_ack_pending=1,
        max_deliver=-1,
    )


def load_handler(spec: str, ctx: AppContext) -> Handler:
    """``"package.module:factory"`` → ``factory(ctx)``, the handler for this process."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ValidationFailed(f"worker handler must be 'module:factory', not {spec!r}")
    factory: Callable[[AppContext], Handler] = getattr(importlib.import_module(module_name), attr)
    return factory(ctx)


class ObservationWorker:
    """One worker process's consumer loop; ``run(stop)`` returns when ``stop`` is set."""

    def __init__(
        self,
        settings: Settings,
        handler: Handler,
        *,
        index: int | None = None,
        count: int | None = None,
        on_batch: Callable[[WorkerStats], None] | None = None,
    ) -> None:
        self.settings = settings
        self.handler = handler
        self.stats = WorkerStats(
            owned_partitions(
                partitions=settings.bus_partitions,
                index=settings.worker_index if index is None else index,
                count=settings.worker_count if count is None else count,
            )
        )
        self.on_batch = on_batch
        self.nc: Client | None = None
        self._failed_in_row = 0
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cityops-handler")

    async def run(self, stop: asyncio.Event, ready: asyncio.Event | None = None) -> WorkerStats:
        nc = self.nc = await connect(self.settings, name=f"cityops-worker-{self.stats.partitions}")
        try:
            js = nc.jetstream(timeout=self.settings.bus_publish_timeout)
            await ensure_stream(js, self.settings)
            queue: asyncio.Queue[_Item] = asyncio.Queue()
            subs = [await self._subscribe(js, p) for p in self.stats.partitions]
            pullers = [
                asyncio.create_task(self._pull(sub, p, queue, stop))
                for p, sub in zip(self.stats.partitions, subs, strict=True)
            ]
            if ready is not None:
                ready.set()
            await self._handle_until(stop, queue, pullers)
        finally:
            self._pool.shutdown(wait=True)
            await _close(nc)
        return self.stats

    async def _subscribe(self, js: JetStreamContext, partition: int) -> Any:
        """The partition's durable consumer; two workers creating it at once is not an error."""
        for attempt in range(5):
            try:
                return await js.pull_subscribe(
                    obs_subject(self.settings.bus_prefix, partition),
                    durable=f"obs-{partition}",
                    stream=self.settings.bus_stream,
                    config=consumer_config(self.settings, partition),
                )
            except (nats.errors.Error, TimeoutError) as exc:
                if attempt == 4:
                    raise
                log.warning("partition %s: consumer not ready (%r); trying again", partition, exc)
                await asyncio.sleep(0.1 * (attempt + 1))
        raise AssertionError("unreachable")

    async def _pull(
        self,
        sub: JetStreamContext.PullSubscription,
        partition: int,
        queue: asyncio.Queue[_Item],
        stop: asyncio.Event,
    ) -> None:
        while not stop.is_set():
            try:
                msgs = await sub.fetch(1, timeout=FETCH_TIMEOUT)
            except nats.errors.TimeoutError:
                continue
            except nats.errors.Error as exc:  # reconnecting: try again shortly
                log.warning("partition %s: fetch failed: %s", partition, exc)
                await asyncio.sleep(RETRY_DELAY)
                continue
            for msg in msgs:
                try:
                    readings = decode(msg.data)
                except ValueError as exc:
                    log.error("partition %s: not a batch, terminated: %s", partition, exc)
                    self.stats.rejected += 1
                    await msg.term()
                    continue
                item = _Item(partition, msg, readings)
                await queue.put(item)
                await item.done.wait()

    async def _handle_until(
        self, stop: asyncio.Event, queue: asyncio.Queue[_Item], pullers: list[asyncio.Task[None]]
    ) -> None:
        limit = self.settings.worker_max_readings
        while True:
            if stop.is_set():
                # Finish nothing new: batches already fetched go back at once, in order.
                while not queue.empty():
                    item = queue.get_nowait()
                    await _settle(item, ack=False)
                if all(t.done() for t in pullers):
                    break
            try:
                first = await asyncio.wait_for(queue.get(), timeout=0.2)
            except TimeoutError:
                continue
            if stop.is_set():
                await _settle(first, ack=False)
                continue
            items = [first]
            total = len(first.readings)
            while total < limit and not queue.empty():
                items.append(queue.get_nowait())
                total += len(items[-1].readings)
            await self._handle(items)
        for t in pullers:  # surface a crashed puller
            if not t.cancelled() and t.exception() is not None:
                raise t.exception()  # type: ignore[misc]

    async def _handle(self, items: list[_Item]) -> None:
        readings = [r for item in items for r in item.readings]
        heartbeat = asyncio.create_task(self._heartbeat(items))
        loop = asyncio.get_running_loop()
        dead: list[tuple[Reading, str]] = []
        try:
            if self._failed_in_row >= ISOLATE_AFTER:
                dead = await loop.run_in_executor(self._pool, self._isolate, items)
                await self._dead_letter(dead)
            else:
                await loop.run_in_executor(self._pool, self.handler, readings)
        except Exception:
            log.exception("handler failed on %d readings; they will come again", len(readings))
            self.stats.failures += 1
            self._failed_in_row += 1
            heartbeat.cancel()
            await asyncio.sleep(RETRY_DELAY)
            for item in items:
                await _settle(item, ack=False)
            return
        self._failed_in_row = 0
        heartbeat.cancel()
        for item in items:
            await _settle(item, ack=True)
        self.stats.batches += 1
        self.stats.messages += len(items)
        self.stats.readings += len(readings) - len(dead)  # the ones left out are not handled
        if self.on_batch is not None:
            self.on_batch(self.stats)

    def _isolate(self, items: list[_Item]) -> list[tuple[Reading, str]]:
        """Handle ``items`` one message, then one reading, at a time (handler thread); the
        readings that fail alone while an empty call succeeds, with their errors. Raises when
        the empty call fails too (the store is down): everything comes again."""
        dead: list[tuple[Reading, str]] = []
        for item in items:
            try:
                self.handler(item.readings)
                continue
            except Exception:
                log.exception("partition %s: a message fails; reading by reading", item.partition)
            for reading in item.readings:
                try:
                    self.handler([reading])
                except Exception as exc:
                    self.handler([])  # raises when the store is down: nothing is left out
                    try:  # the store works now: once more, in case it just came back
                        self.handler([reading])
                    except Exception:
                        dead.append((reading, f"{type(exc).__name__}: {str(exc)[:200]}"))
        return dead

    async def _dead_letter(self, dead: list[tuple[Reading, str]]) -> None:
        """Publish each reading left out on ``<prefix>.dead.obs`` (best effort), count it."""
        for reading, error in dead:
            log.error("reading %r fails alone; left out: %s", reading, error)
            self.stats.dead_letters += 1
            if self.nc is not None:
                body = {"reason": "store_failed", "detail": error, "reading": reading}
                subject = dead_subject(self.settings.bus_prefix)
                await _quietly(self.nc.publish(subject, json.dumps(body).encode()))

    async def _heartbeat(self, items: list[_Item]) -> None:
        """Tell the server a long batch is still being worked on, so it is not handed out."""
        while True:
            await asyncio.sleep(self.settings.bus_ack_wait / 3)
            for item in items:
                await _quietly(item.msg.in_progress())


async def _close(nc: Client) -> None:
    """Send the last acks, then disconnect (``drain`` hangs on pull subscriptions in nats-py)."""
    try:
        await nc.flush(timeout=5)
    except (nats.errors.Error, TimeoutError) as exc:
        log.warning("last acknowledgements may not have been sent: %s", exc)
    await nc.close()


async def _settle(item: _Item, *, ack: bool) -> None:
    await _quietly(item.msg.ack() if ack else item.msg.nak())
    item.done.set()


async def _quietly(action: Any) -> None:
    """An ack lost with the connection is redelivered later; the store dedupes."""
    try:
        await action
    except (nats.errors.Error, TimeoutError) as exc:
        log.warning("acknowledgement not sent: %s", exc)
